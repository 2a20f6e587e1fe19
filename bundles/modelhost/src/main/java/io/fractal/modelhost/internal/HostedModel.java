package io.fractal.modelhost.internal;

import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.repository.ModelArtifact;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A model version on this host: its state and the generation that serves it.
 *
 * <p>Each state change is reported, inside this object's lock, to a sink that only queues the event: so the events of
 * one version are queued in the order of its changes, and nobody else's code runs under the lock.
 *
 * <p>A version whose artifact service went without being withdrawn (its repository stopping, say) is
 * <em>lingering</em>: it keeps its state and serves as before, until an artifact with the same name, version and
 * checksum adopts it again, or the host retires it.
 */
final class HostedModel {

    private final String key;
    private final Consumer<ModelStatusDTO> events;
    private volatile ModelArtifact artifact;
    private volatile String sha256;
    private volatile ModelState state = ModelState.WAITING_FOR_ENGINE;
    private volatile String reason;
    private volatile Generation current;
    /** Counts loads; a load's outcome applies only while it is the latest (guarded by this). */
    private long attempt;
    /** Set (to the token of its expiry) while the artifact is gone but not withdrawn; guarded by this. */
    private Object lingering;
    private volatile boolean withdrawn;
    /** Engine calls of this version running on this host now (see {@code ModelHostImpl.runsAlone}). */
    final java.util.concurrent.atomic.AtomicInteger running = new java.util.concurrent.atomic.AtomicInteger();
    /** Its metrics series on this host, once looked up (see {@link ModelMeters}). */
    volatile ModelMeters meters;

    HostedModel(ModelArtifact artifact, String sha256, Consumer<ModelStatusDTO> events) {
        this.key = key(artifact.name(), artifact.version());
        this.artifact = artifact;
        this.sha256 = sha256;
        this.events = events;
    }

    String key() {
        return key;
    }

    static String key(String model, int version) {
        return model + ":" + version;
    }

    ModelArtifact artifact() {
        return artifact;
    }

    String sha256() {
        return sha256;
    }

    ModelState state() {
        return state;
    }

    Generation current() {
        return current;
    }

    /** Queues an event with the current state (a newly bound version, a listener that joins). */
    synchronized void announce(Consumer<ModelStatusDTO> to) {
        to.accept(toDTO());
    }

    /**
     * Starts a load if the model waits for its engine.
     *
     * @return the load's number, to hand to {@link #ready} or {@link #failed}; 0 if it is loading, loaded or
     *         draining already
     */
    synchronized long startLoading() {
        if (state != ModelState.WAITING_FOR_ENGINE) {
            return 0;
        }
        change(ModelState.LOADING, null);
        return ++attempt;
    }

    /** Whether a load is still the one that counts: it is LOADING and nothing retired it meanwhile. */
    synchronized boolean isLoading(long load) {
        return load == attempt && state == ModelState.LOADING;
    }

    /** Puts a loaded generation in service; false (and nothing changes) if the load no longer counts. */
    synchronized boolean ready(long load, Generation generation) {
        if (!isLoading(load)) {
            return false;
        }
        current = generation;
        change(ModelState.READY, null);
        return true;
    }

    /**
     * Marks the load failed; false (and nothing changes) if it no longer counts, e.g. because its engine left
     * while it loaded and the model now waits for the engine to return.
     */
    synchronized boolean failed(long load, String why) {
        if (!isLoading(load)) {
            return false;
        }
        change(ModelState.FAILED, why);
        return true;
    }

    /**
     * Takes the current generation out of service, and voids a load that is running; returns the generation (to
     * wait for its close), or null.
     */
    synchronized Generation retire(ModelState newState) {
        attempt++;
        Generation g = current;
        current = null;
        change(newState, null);
        if (g != null) {
            g.retire();
        }
        return g;
    }

    /** A use of the serving generation, or null if it is not READY; release the generation when done. */
    Generation acquire() {
        Generation g = current;
        if (g == null || state != ModelState.READY || !g.acquire()) {
            return null;
        }
        return g;
    }

    // ---- the artifact coming and going ---------------------------------------------------------------------

    /** The repository is taking this version away for good: when its artifact goes, the model goes at once. */
    void withdraw() {
        withdrawn = true;
    }

    boolean withdrawn() {
        return withdrawn;
    }

    /** The artifact went without being withdrawn: the model lingers until {@link #adopt} or its expiry. */
    synchronized void linger(Object token) {
        lingering = token;
    }

    synchronized boolean lingering() {
        return lingering != null;
    }

    /** Ends the lingering of the given expiry; false if the model was adopted (or lingered again) meanwhile. */
    synchronized boolean expire(Object token) {
        if (lingering == null || lingering != token) {
            return false;
        }
        lingering = null;
        return true;
    }

    /**
     * Adopts a lingering model for a new artifact of the same version with the same checksum: it keeps its load.
     *
     * @return false if the model is not lingering, the checksums differ (or one is unknown), or it has nothing worth
     *         keeping (it FAILED or is being retired)
     */
    synchronized boolean adopt(ModelArtifact newArtifact, String newSha256) {
        if (lingering == null || sha256 == null || !Objects.equals(sha256, newSha256)
                || state == ModelState.FAILED || state == ModelState.DRAINING) {
            return false;
        }
        lingering = null;
        withdrawn = false;
        artifact = newArtifact;
        return true;
    }

    ModelStatusDTO toDTO() {
        ModelArtifact a = artifact;
        ModelStatusDTO dto = new ModelStatusDTO();
        dto.model = a.name();
        dto.version = a.version();
        dto.state = state;
        dto.reason = reason;
        dto.engine = a.engine();
        Generation g = current;
        dto.signature = g == null ? null : g.model.signature();
        return dto;
    }

    @Override
    public String toString() {
        return key;
    }

    private void change(ModelState newState, String why) {
        ModelState old = state;
        state = newState;
        reason = why;
        if (old != newState) {
            events.accept(toDTO());
        }
    }
}
