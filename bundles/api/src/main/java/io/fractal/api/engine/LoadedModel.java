package io.fractal.api.engine;

import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import java.util.List;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A model held in an engine, ready to predict. {@link #predict} is safe to call from several threads;
 * {@link #close()} frees the engine's (native) memory and must only be called once no call is running.
 */
@ConsumerType
public interface LoadedModel extends AutoCloseable {

    /** The signature the engine read from the model, merged with the declared one. */
    ModelSignature signature();

    /**
     * Runs the model.
     *
     * @param inputs the inputs in the model's order
     * @return the outputs, named after the signature where it names them
     * @throws InvalidInputException when the inputs do not fit the model (the message names the input)
     */
    List<Tensor> predict(List<Tensor> inputs);

    @Override
    void close();
}
