package io.fractal.api.engine;

import io.fractal.api.repository.ModelArtifact;
import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * An engine adapter: turns a model file into a {@link LoadedModel}. Engine bundles register one service each;
 * modelhosts track them dynamically, so an engine can be stopped, updated or added while the server runs.
 */
@ConsumerType
public interface InferenceEngine {

    /** Service property: the engine's name, e.g. {@code PyTorch}. */
    String NAME = "fractal.engine.name";

    /** The engine's name, as models and their metadata refer to it, e.g. {@code PyTorch} or {@code OnnxRuntime}. */
    String name();

    /** The KServe platform name of the models this engine serves, e.g. {@code pytorch_torchscript}. */
    String platform();

    /** The model file name extensions this engine loads, lower case, without the dot, e.g. {@code pt}. */
    Set<String> fileExtensions();

    /**
     * Loads a model. Blocks until the model is ready to predict; may take seconds.
     *
     * @param workers how many threads will call {@link LoadedModel#predict} at once
     * @throws ModelLoadException when the file cannot be loaded; the message says why
     */
    LoadedModel load(ModelArtifact artifact, int workers) throws ModelLoadException;
}
