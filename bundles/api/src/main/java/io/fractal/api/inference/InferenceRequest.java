package io.fractal.api.inference;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One call to one version of one model.
 *
 * @param id            the caller's request id, echoed back; may be null
 * @param model         the model name
 * @param version       the resolved version number (the inferrer resolves "default" before routing)
 * @param inputs        the input tensors, in the model's input order where the model has no names
 * @param outputs       the names of the outputs wanted; empty for all
 * @param createdNanos  {@link System#nanoTime()} when the request arrived, for end-to-end latency
 * @param deadlineNanos {@link System#nanoTime()} past which nobody waits for the answer (the client's timeout);
 *                      {@link #NO_DEADLINE} (or 0) for none. A host that forwards the request elsewhere (another
 *                      node) bounds the call by it; one that runs it may drop it once past.
 * @since 1.4 (deadlineNanos)
 */
public record InferenceRequest(String id, String model, int version, List<Tensor> inputs, Set<String> outputs,
        long createdNanos, long deadlineNanos) {

    /** {@link #deadlineNanos()} of a request that waits as long as its host lets it. */
    public static final long NO_DEADLINE = Long.MAX_VALUE;

    public InferenceRequest {
        Objects.requireNonNull(model, "model");
        inputs = List.copyOf(inputs);
        outputs = outputs == null ? Set.of() : Set.copyOf(outputs);
        if (deadlineNanos == 0) {
            deadlineNanos = NO_DEADLINE;
        }
    }

    /** A request without a deadline (as before 1.4). */
    public InferenceRequest(String id, String model, int version, List<Tensor> inputs, Set<String> outputs,
            long createdNanos) {
        this(id, model, version, inputs, outputs, createdNanos, NO_DEADLINE);
    }

    public static InferenceRequest of(String model, int version, List<Tensor> inputs) {
        return new InferenceRequest(null, model, version, inputs, Set.of(), System.nanoTime());
    }

    /** Whether the request has a deadline. @since 1.4 */
    public boolean hasDeadline() {
        return deadlineNanos != NO_DEADLINE;
    }

    /**
     * The time left until the deadline, in nanoseconds: {@link Long#MAX_VALUE} without one, zero or less once past.
     *
     * @since 1.4
     */
    public long remainingNanos() {
        return hasDeadline() ? deadlineNanos - System.nanoTime() : Long.MAX_VALUE;
    }

    /** The same request for another version number (a host that numbers the same model file otherwise). @since 1.4 */
    public InferenceRequest withVersion(int otherVersion) {
        return new InferenceRequest(id, model, otherVersion, inputs, outputs, createdNanos, deadlineNanos);
    }
}
