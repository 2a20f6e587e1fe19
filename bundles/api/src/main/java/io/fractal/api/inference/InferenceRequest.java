package io.fractal.api.inference;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One call to one version of one model.
 *
 * @param id          the caller's request id, echoed back; may be null
 * @param model       the model name
 * @param version     the resolved version number (the inferrer resolves "default" before routing)
 * @param inputs      the input tensors, in the model's input order where the model has no names
 * @param outputs     the names of the outputs wanted; empty for all
 * @param createdNanos {@link System#nanoTime()} when the request arrived, for end-to-end latency
 */
public record InferenceRequest(String id, String model, int version, List<Tensor> inputs, Set<String> outputs,
        long createdNanos) {

    public InferenceRequest {
        Objects.requireNonNull(model, "model");
        inputs = List.copyOf(inputs);
        outputs = outputs == null ? Set.of() : Set.copyOf(outputs);
    }

    public static InferenceRequest of(String model, int version, List<Tensor> inputs) {
        return new InferenceRequest(null, model, version, inputs, Set.of(), System.nanoTime());
    }
}
