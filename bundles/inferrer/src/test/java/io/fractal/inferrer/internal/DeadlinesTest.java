package io.fractal.inferrer.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DeadlinesTest {

    private final Deadlines deadlines = new Deadlines("deadlines-test");

    @Test
    void aFutureNotDoneInTimeFailsWithTheGivenFailureOffTheTimerThread() {
        CompletableFuture<String> f = new CompletableFuture<>();
        AtomicReference<String> completedOn = new AtomicReference<>();
        f.whenComplete((v, e) -> completedOn.set(Thread.currentThread().getName()));
        long start = System.nanoTime();
        deadlines.bound(f, 100, TimeoutException::new);
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(100));
        await().atMost(Duration.ofSeconds(2)).until(() -> completedOn.get() != null);
        assertNotEquals("deadlines-test", completedOn.get());
    }

    @Test
    void aFutureDoneInTimeKeepsItsValueAndTheTimerThreadEndsWhenIdle() throws Exception {
        CompletableFuture<String> f = deadlines.bound(new CompletableFuture<>(), 60_000, TimeoutException::new);
        assertTrue(timerThreadRuns());
        f.complete("on time");
        assertEquals("on time", f.get(1, TimeUnit.SECONDS));
        // the cancelled deadline leaves the timer idle: its thread ends, nothing of this bundle stays behind
        await().atMost(Duration.ofSeconds(5)).until(() -> !timerThreadRuns());
    }

    private static boolean timerThreadRuns() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().equals("deadlines-test"));
    }
}
