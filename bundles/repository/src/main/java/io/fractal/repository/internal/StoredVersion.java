package io.fractal.repository.internal;

import io.fractal.api.inference.ModelSignature;
import io.fractal.api.repository.ModelArtifact;
import io.fractal.api.repository.ModelVersionDTO;
import java.nio.file.Path;
import org.osgi.framework.ServiceRegistration;

/** One version on disk, and its registration as a {@link ModelArtifact} service while it is deployed. */
final class StoredVersion implements ModelArtifact {
    final String name;
    final int version;
    final Path dir;
    final ModelMetadata metadata;
    final ModelSignature signature;
    volatile ServiceRegistration<ModelArtifact> registration;

    StoredVersion(String name, int version, Path dir, ModelMetadata metadata) {
        this.name = name;
        this.version = version;
        this.dir = dir;
        this.metadata = metadata;
        this.signature = metadata.signature();
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

    @Override
    public ModelSignature signature() {
        return signature;
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
        return dto;
    }

    @Override
    public String toString() {
        return name + ":" + version;
    }
}
