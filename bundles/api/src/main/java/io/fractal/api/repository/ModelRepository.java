package io.fractal.api.repository;

import io.fractal.api.inference.ModelNotFoundException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** The models the server knows and their versions, kept on disk. */
@ProviderType
public interface ModelRepository {

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
}
