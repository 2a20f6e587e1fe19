package io.fractal.api.repository;

import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelSignature;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** The models the server knows and their versions, kept on disk. */
@ProviderType
public interface ModelRepository {

    /**
     * Whether what the repository holds at start has been taken in: its stored versions are published and every
     * model file or folder in the deploy folder at start has been deployed or refused. Stays true once true.
     *
     * @since 1.2
     */
    boolean settled();

    /** All models, by name. */
    List<ModelDTO> models();

    /** @throws ModelNotFoundException for an unknown name */
    ModelDTO model(String name);

    /**
     * The version a request addresses.
     *
     * @param version a version number, or null for the default version
     * @throws ModelNotFoundException for an unknown model or version
     */
    ModelVersionDTO resolve(String name, Integer version);

    /**
     * Stores a new version of a model (creating the model if needed) and publishes it to the modelhosts.
     *
     * @param fileName    the model file's name; its extension picks the engine unless {@code engine} is given
     * @param data        the model file's bytes
     * @param engine      the engine name, or null to choose by file type
     * @param description free text, or null
     * @param makeDefault whether the new version becomes the default (the first version always does)
     * @throws io.fractal.api.inference.InvalidInputException for a bad name, an unknown file type or an empty file
     */
    default ModelVersionDTO deploy(String name, String fileName, InputStream data, String engine, String description,
            boolean makeDefault) throws IOException {
        return deploy(name, fileName, data, null, engine, description, makeDefault);
    }

    /**
     * Stores a new version with its metadata, the {@code model.json} sidecar (inputs, outputs, labels, engine,
     * description); {@code engine} and {@code description}, when given, take precedence over the metadata's.
     *
     * @param metadata the sidecar JSON, or null
     * @throws io.fractal.api.inference.InvalidInputException also for invalid metadata
     */
    ModelVersionDTO deploy(String name, String fileName, InputStream data, InputStream metadata, String engine,
            String description, boolean makeDefault) throws IOException;

    /**
     * Remembers what a version's first successful call showed of its signature (a TorchScript file without a
     * sidecar says neither datatypes nor shapes), so that it can be described after a restart before any call:
     * kept with the version, apart from its declared signature, and given as {@link ModelVersionDTO#learned}.
     * It only describes the model: it is never enforced, nor handed to engines ({@link ModelArtifact#signature()}
     * stays the declared one).
     *
     * <p>A no-op when the version is gone, when it already has a complete learned or declared signature, or when
     * {@code learned} is not {@linkplain ModelSignature#complete() complete}.
     *
     * @param learned the version's signature as the first call completed it
     * @since 1.2
     */
    void learnSignature(String name, int version, ModelSignature learned);

    /** @throws ModelNotFoundException for an unknown model or version */
    void setDefaultVersion(String name, int version);

    /**
     * Sets the description of a version (the default one if {@code version} is null).
     *
     * @throws ModelNotFoundException for an unknown model or version
     */
    void setDescription(String name, Integer version, String description);

    /**
     * Removes a version, or the whole model if {@code version} is null. Modelhosts finish the requests running
     * on it before they close it.
     *
     * @throws ModelNotFoundException for an unknown model or version
     */
    void delete(String name, Integer version);

    /**
     * The exact bytes of a version's model file.
     *
     * @throws ModelNotFoundException for an unknown model or version
     */
    InputStream open(String name, Integer version) throws IOException;

    /**
     * A version's metadata as a {@code model.json} sidecar: everything its metadata declares (inputs, outputs,
     * labels, engine, description as it is now, {@code max_batch_size}, {@code max_queue_delay_us}, and whatever
     * later versions of the format add), none of what the repository keeps for itself. Given to {@link #deploy}
     * with the same file, it stores an equal version elsewhere (another node).
     *
     * @return the sidecar JSON, or null from a repository that keeps no more than {@link ModelVersionDTO} shows
     * @throws ModelNotFoundException for an unknown model or version
     * @since 1.4
     */
    default InputStream metadata(String name, Integer version) throws IOException {
        return null;
    }

    /** The model file's name of a version, as stored, e.g. {@code model.pt}. */
    String fileName(String name, Integer version);

    /**
     * Deploys a model from a named source (a deploy file, a model bundle): the new version replaces the versions
     * deployed earlier from the same source, atomically once it is ready. Deploying the same bytes from the same
     * source again changes nothing, so callers may repeat it (after a restart, say).
     *
     * @param source   who deploys, e.g. {@code bundle:com.acme.models/iris}
     * @param fileName the model file's name (its type picks the engine unless the metadata names one)
     * @param metadata the model's {@code model.json} sidecar, or null
     * @return the version now deployed from that source
     */
    ModelVersionDTO deployFrom(String source, String name, String fileName, InputStream model, InputStream metadata)
            throws IOException;

    /**
     * Removes every version deployed from a source.
     *
     * @return how many versions were removed
     */
    int undeploySource(String source);
}
