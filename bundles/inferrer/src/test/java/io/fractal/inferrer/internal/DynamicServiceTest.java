package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.CapacityExceededException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DynamicServiceTest {

    private final Deadlines deadlines = new Deadlines("test-deadlines");
    private final DynamicService<String> service = new DynamicService<>("the thing", () -> 5000, deadlines);

    @Test
    void aBoundServiceIsThereAtOnce() throws Exception {
        service.bind("a");
        assertEquals("a", service.current());
        assertEquals("a", service.await());
        assertEquals("a", service.whenAvailable().getNow(null));
    }

    @Test
    void aRequestWaitsForTheServiceAndGetsItWhenItIsBound() throws Exception {
        CompletableFuture<String> waiting = service.whenAvailable();
        CompletableFuture<String> blocked = CompletableFuture.supplyAsync(service::await);
        assertThrows(TimeoutException.class, () -> waiting.get(100, TimeUnit.MILLISECONDS));
        assertFalse(blocked.isDone());
        service.bind("b");
        assertEquals("b", waiting.get(2, TimeUnit.SECONDS));
        assertEquals("b", blocked.get(2, TimeUnit.SECONDS));
    }

    @Test
    void afterTheGraceAWaitingRequestIsRefusedWith503() {
        DynamicService<String> shortGrace = new DynamicService<>("the model repository", () -> 100,
                deadlines);
        long start = System.nanoTime();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> shortGrace.whenAvailable().get(5, TimeUnit.SECONDS));
        CapacityExceededException refused = assertInstanceOf(CapacityExceededException.class, e.getCause());
        assertTrue(refused.getMessage().startsWith("the model repository is not available"), refused.getMessage());
        assertTrue(refused.retryAfterSeconds() >= 1);
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(100));
        assertThrows(CapacityExceededException.class, shortGrace::await);
    }

    @Test
    void aGreedyReplacementIsBoundBeforeTheOldOneIsUnbound() {
        service.bind("old");
        service.bind("new");
        service.unbind("old");
        assertEquals("new", service.current());
        service.unbind("new");
        assertNull(service.current());
    }

    @Test
    void aDeactivatedComponentKeepsItsLastServiceForTheRequestsThatStillReachIt() {
        service.bind("a");
        service.retain();
        service.unbind("a"); // DS unbinds after deactivation
        assertEquals("a", service.current());
        assertEquals("a", service.await());
    }

    @Test
    void aCallThatFailsOnAnInstanceThatWentAwayIsMadeAgainOnItsSuccessor() {
        service.bind("old");
        AtomicInteger calls = new AtomicInteger();
        String answer = service.call(s -> {
            calls.incrementAndGet();
            if (s.equals("old")) {
                service.bind("new");
                service.unbind("old");
                throw new IllegalStateException("old is deactivated");
            }
            return "answered by " + s;
        });
        assertEquals("answered by new", answer);
        assertEquals(2, calls.get());
    }

    @Test
    void aCallThatFailsOnTheCurrentInstanceFails() {
        service.bind("a");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> service.call(s -> {
            throw new IllegalStateException("real failure");
        }));
        assertEquals("real failure", e.getMessage());
    }

    @Test
    void anAsyncRefusalOfAnInstanceThatWentAwayGoesToItsSuccessorOnceItComes() throws Exception {
        service.bind("old");
        CompletableFuture<String> answer = service.callAsync("old", s -> {
            if (s.equals("old")) {
                service.unbind("old");
                return CompletableFuture.failedFuture(new CapacityExceededException("stopped", 1));
            }
            return CompletableFuture.completedFuture("answered by " + s);
        }, e -> e instanceof CapacityExceededException);
        assertThrows(TimeoutException.class, () -> answer.get(100, TimeUnit.MILLISECONDS));
        service.bind("new");
        assertEquals("answered by new", answer.get(2, TimeUnit.SECONDS));
    }

    @Test
    void otherAsyncFailuresAreNotRepeated() {
        service.bind("old");
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<String> answer = service.callAsync("old", s -> {
            calls.incrementAndGet();
            service.bind("new");
            return CompletableFuture.failedFuture(new IllegalArgumentException("it ran and failed"));
        }, e -> e instanceof CapacityExceededException);
        ExecutionException e = assertThrows(ExecutionException.class, () -> answer.get(2, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertEquals(1, calls.get());
        assertSame("new", service.current());
    }
}
