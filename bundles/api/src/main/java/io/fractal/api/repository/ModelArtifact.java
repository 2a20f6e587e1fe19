package io.fractal.api.repository;

import io.fractal.api.inference.Batching;
import io.fractal.api.inference.ModelSignature;
import java.nio.file.Path;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One deployed version of a model, as a whiteboard service: the repository registers one per version, and
 * modelhosts load what appears and unload (after draining) what goes. The file is immutable while the service
 * is registered.
 *
 * <p>The registration carries {@link #MODEL_NAME}, {@link #MODEL_VERSION}, {@link #ENGINE} and {@link #SHA256};
 * {@link #WITHDRAWN} is added when the version is taken away for good.
 */
@ProviderType
public interface ModelArtifact {

    /** Service property: the model name (String). */
    String MODEL_NAME = "fractal.model.name";
    /** Service property: the version number (Integer). */
    String MODEL_VERSION = "fractal.model.version";
    /** Service property: the engine name the model needs (String). */
    String ENGINE = "fractal.model.engine";
    /**
     * Service property: the SHA-256 of the model file, in lower-case hex (String). A modelhost that still holds a
     * version loaded from the same name, version and checksum can keep it rather than load it again.
     */
    String SHA256 = "fractal.model.sha256";
    /**
     * Service property (Boolean): set to {@code true} on the registration just before the repository unregisters a
     * version because it is deleted, replaced or undeployed. A version unregistered without it is not withdrawn:
     * the repository is only stopping (an update, say) and will offer it again, so a modelhost may keep it loaded
     * for a while.
     */
    String WITHDRAWN = "fractal.model.withdrawn";

    String name();

    int version();

    /** The name of the engine that loads it. */
    String engine();

    /** The model file (or folder, for formats that are folders). */
    Path file();

    /** The declared signature, from the model's metadata; {@link ModelSignature#UNKNOWN} if none. */
    ModelSignature signature();

    /**
     * How its requests may be batched, from the model's metadata ({@code max_batch_size}, {@code
     * max_queue_delay_us}); {@link Batching#OFF} if it says nothing. A modelhost's configuration may override it.
     *
     * @since 1.3
     */
    default Batching batching() {
        return Batching.OFF;
    }
}
