package io.fractal.modelhost.internal;

import io.fractal.api.host.EchoDTO;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import java.util.concurrent.CompletableFuture;

/**
 * A unit of work in a modelhost's queue. Inference jobs for the same generation can later be taken together
 * from the queue and run as one batch: the worker sees the generation before it runs anything.
 */
sealed interface Job {

    long enqueuedNanos();

    /** Fails the job without running it (host stopping). */
    void abandon(Throwable reason);

    record Inference(InferenceRequest request, HostedModel model, Generation generation,
            CompletableFuture<InferenceResponse> future, long enqueuedNanos) implements Job {
        @Override
        public void abandon(Throwable reason) {
            generation.release();
            future.completeExceptionally(reason);
        }
    }

    record Echo(Object payload, CompletableFuture<EchoDTO> future, long enqueuedNanos) implements Job {
        @Override
        public void abandon(Throwable reason) {
            future.completeExceptionally(reason);
        }
    }
}
