package io.fractal.api.repository;

import io.fractal.api.inference.ModelSignature;
import java.nio.file.Path;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One deployed version of a model, as a whiteboard service: the repository registers one per version, and
 * modelhosts load what appears and unload (after draining) what goes. The file is immutable while the service
 * is registered.
 */
@ProviderType
public interface ModelArtifact {

    /** Service property: the model name (String). */
    String MODEL_NAME = "fractal.model.name";
    /** Service property: the version number (Integer). */
    String MODEL_VERSION = "fractal.model.version";
    /** Service property: the engine name the model needs (String). */
    String ENGINE = "fractal.model.engine";

    String name();

    int version();

    /** The name of the engine that loads it. */
    String engine();

    /** The model file (or folder, for formats that are folders). */
    Path file();

    /** The declared signature, from the model's metadata; {@link ModelSignature#UNKNOWN} if none. */
    ModelSignature signature();
}
