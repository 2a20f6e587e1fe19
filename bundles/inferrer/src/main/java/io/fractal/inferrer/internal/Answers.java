package io.fractal.inferrer.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** How the inference resources hand their answers to Jersey. */
final class Answers {

    private Answers() {
    }

    /**
     * What a resource method returns for an answer that may already be there: the value itself when the stage has
     * completed (a request that ran on the caller's thread), which Jersey writes at once on the same thread, without
     * suspending the request; else the stage, which Jersey answers when it completes. A failure is thrown as it would
     * complete the stage (wrapped in a {@link java.util.concurrent.CompletionException}), and mapped alike.
     */
    static Object settled(CompletionStage<?> stage) {
        if (stage instanceof CompletableFuture<?> f && f.isDone()) {
            return f.join();
        }
        return stage;
    }
}
