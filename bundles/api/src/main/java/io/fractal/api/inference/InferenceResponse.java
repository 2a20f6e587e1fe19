package io.fractal.api.inference;

import java.util.List;

/**
 * The answer to an {@link InferenceRequest}.
 *
 * @param modelhost      the id of the modelhost that ran it
 * @param queueNanos     time spent waiting in the modelhost's queue
 * @param inferenceNanos time spent in the engine
 */
public record InferenceResponse(String id, String model, int version, List<Tensor> outputs, String modelhost,
        long queueNanos, long inferenceNanos) {

    public InferenceResponse {
        outputs = List.copyOf(outputs);
    }
}
