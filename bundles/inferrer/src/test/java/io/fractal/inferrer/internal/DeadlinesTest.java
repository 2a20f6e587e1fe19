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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeadlinesTest {

    /** Each test's own timer: a thread name no other test's timer has. */
    private final String name = "deadlines-test-" + System.identityHashCode(this);
    private final Deadlines deadlines = new Deadlines(name);

    @AfterEach
    void retire() {
        deadlines.retire(0);
    }

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
        assertNotEquals(name, completedOn.get());
    }

    @Test
    void aFutureDoneInTimeKeepsItsValueAndTheTimerThreadEndsOnceRetired() throws Exception {
        CompletableFuture<String> f = deadlines.bound(new CompletableFuture<>(), 60_000, TimeoutException::new);
        assertTrue(timerThreadRuns());
        f.complete("on time");
        assertEquals("on time", f.get(1, TimeUnit.SECONDS));
        // one thread for the life of the component, not one per idle moment
        long threadsBefore = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).count();
        for (int i = 0; i < 200; i++) {
            deadlines.bound(new CompletableFuture<>(), 60_000, TimeoutException::new).complete("x");
        }
        assertEquals(threadsBefore, Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals(name)).count());
        // retired: a bound taken during the grace still fires; then the thread ends, nothing of this bundle stays
        deadlines.retire(100);
        CompletableFuture<String> late = deadlines.bound(new CompletableFuture<>(), 50, TimeoutException::new);
        ExecutionException e = assertThrows(ExecutionException.class, () -> late.get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
        await().atMost(Duration.ofSeconds(5)).until(() -> !timerThreadRuns());
    }

    private boolean timerThreadRuns() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().equals(name));
    }
}
