package io.fractal.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ListenerThreadAnswersTest {

    private final ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "listener-pool"));

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Watches a stage from now on: what it completes with, and the thread its dependents run on. */
    private static final class Watch {
        final AtomicReference<String> thread = new AtomicReference<>();
        final CompletableFuture<Object> seen;

        Watch(CompletionStage<Object> stage) {
            seen = stage.toCompletableFuture().whenComplete((v, e) -> thread.set(Thread.currentThread().getName()));
        }

        Object value() throws Exception {
            return seen.get(5, TimeUnit.SECONDS);
        }

        Throwable failure() throws Exception {
            try {
                seen.get(5, TimeUnit.SECONDS);
                return null;
            } catch (ExecutionException e) {
                return e.getCause();
            }
        }
    }

    @Test
    void aValueCompletedOnAForeignThreadIsAnsweredOnThePool() throws Exception {
        CompletableFuture<String> model = new CompletableFuture<>();
        Watch answer = new Watch(ListenerThreadAnswers.onPool(model, pool));
        new Thread(() -> model.complete("42"), "modelhost-worker").start();
        assertEquals("42", answer.value());
        assertEquals("listener-pool", answer.thread.get());
    }

    @Test
    void aFailureIsPassedOnAsItIsNotWrapped() throws Exception {
        CompletableFuture<String> model = new CompletableFuture<>();
        Watch answer = new Watch(ListenerThreadAnswers.onPool(model, pool));
        IllegalStateException failure = new IllegalStateException("broken");
        new Thread(() -> model.completeExceptionally(failure), "modelhost-worker").start();
        assertSame(failure, answer.failure());
        assertEquals("listener-pool", answer.thread.get());
    }

    @Test
    void aCancellationStaysACancellation() throws Exception {
        CompletableFuture<String> model = new CompletableFuture<>();
        CompletionStage<Object> answer = ListenerThreadAnswers.onPool(model, pool);
        model.cancel(false);
        assertThrows(CancellationException.class, () -> answer.toCompletableFuture().get(5, TimeUnit.SECONDS)
                .toString(), "not a CompletionException");
        assertTrue(answer.toCompletableFuture().isCompletedExceptionally());
    }

    @Test
    void aPoolThatRefusesHasTheAnswerCompletedWhereTheStageCompleted() throws Exception {
        CompletableFuture<String> model = new CompletableFuture<>();
        CompletionStage<Object> answer = ListenerThreadAnswers.onPool(model, task -> {
            throw new RejectedExecutionException("stopping");
        });
        Thread foreign = new Thread(() -> model.complete("7"), "modelhost-worker");
        foreign.start();
        foreign.join();
        assertEquals("7", answer.toCompletableFuture().getNow(null));
    }
}
