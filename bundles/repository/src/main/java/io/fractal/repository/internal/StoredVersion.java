package io.fractal.repository.internal;

import io.fractal.api.inference.Batching;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.repository.ModelArtifact;
import io.fractal.api.repository.ModelVersionDTO;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.function.Function;
import org.osgi.framework.ServiceRegistration;

/** One version on disk, and its registration as a {@link ModelArtifact} service while it is deployed. */
final class StoredVersion implements ModelArtifact {
    final String name;
    final int version;
    final Path dir;
    final ModelMetadata metadata;
    final ModelSignature signature;
    final Batching batching;
    /**
     * What its first call showed of its signature, or null: only described (in its DTO), never handed to engines.
     * Set under the repository's lock.
     */
    volatile ModelSignature learned;
    /** Set (under the repository's lock) once the version left the store: it is never published again. */
    volatile boolean gone;
    /** Its service while published; guarded by this. */
    private ServiceRegistration<ModelArtifact> registration;

    StoredVersion(String name, int version, Path dir, ModelMetadata metadata) {
        this.name = name;
        this.version = version;
        this.dir = dir;
        this.metadata = metadata;
        this.signature = metadata.signature();
        this.batching = batchingOf(metadata);
        this.learned = metadata.learnedSignature();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int version() {
        return version;
    }

    @Override
    public String engine() {
        return metadata.engine;
    }

    @Override
    public Path file() {
        return dir.resolve(metadata.file);
    }

    /** The declared signature only: engines enforce it, so what was learned from a call never comes in. */
    @Override
    public ModelSignature signature() {
        return signature;
    }

    @Override
    public Batching batching() {
        return batching;
    }

    /** What the metadata declares; a stored version whose value is out of range (written by hand) is not batched. */
    private static Batching batchingOf(ModelMetadata metadata) {
        try {
            return metadata.batching();
        } catch (IllegalArgumentException e) {
            return Batching.OFF;
        }
    }

    /** The properties of its service: name, version, engine and the file's SHA-256. */
    Hashtable<String, Object> properties() {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(ModelArtifact.MODEL_NAME, name);
        props.put(ModelArtifact.MODEL_VERSION, version);
        props.put(ModelArtifact.ENGINE, metadata.engine);
        if (metadata.sha256 != null) {
            props.put(ModelArtifact.SHA256, metadata.sha256);
        }
        return props;
    }

    /**
     * Publishes it with its {@link #properties()}, unless it left the store or is published already; {@code register}
     * may answer null (the repository stopping).
     */
    synchronized void publish(Function<Hashtable<String, Object>, ServiceRegistration<ModelArtifact>> register) {
        if (!gone && registration == null) {
            registration = register.apply(properties());
        }
    }

    /**
     * Withdraws it for good: marks the registration {@link ModelArtifact#WITHDRAWN} (so modelhosts drop the model
     * at once rather than keep it for a restarting repository), then unregisters it. Call outside locks.
     */
    void withdraw() {
        ServiceRegistration<ModelArtifact> r;
        synchronized (this) {
            gone = true;
            r = registration;
            registration = null;
        }
        if (r == null) {
            return;
        }
        try {
            Hashtable<String, Object> props = properties();
            props.put(ModelArtifact.WITHDRAWN, Boolean.TRUE);
            r.setProperties(props);
        } catch (IllegalStateException alreadyGone) {
            return; // unregistered with the bundle
        }
        ServiceRegistrationCloser.close(r);
    }

    /** Unregisters it without withdrawing it (the repository stopping). Call outside locks. */
    void unpublish() {
        ServiceRegistration<ModelArtifact> r;
        synchronized (this) {
            r = registration;
            registration = null;
        }
        ServiceRegistrationCloser.close(r);
    }

    boolean published() {
        synchronized (this) {
            return registration != null;
        }
    }

    ModelVersionDTO toDTO() {
        ModelVersionDTO dto = new ModelVersionDTO();
        dto.name = name;
        dto.version = version;
        dto.engine = metadata.engine;
        dto.description = metadata.description;
        dto.source = metadata.source;
        dto.sha256 = metadata.sha256;
        dto.size = metadata.size == null ? 0 : metadata.size;
        dto.created = metadata.created == null ? 0 : metadata.created;
        dto.signature = signature;
        dto.learned = learned;
        dto.batching = batching;
        return dto;
    }

    @Override
    public String toString() {
        return name + ":" + version;
    }
}
