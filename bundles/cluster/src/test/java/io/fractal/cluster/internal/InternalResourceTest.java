package io.fractal.cluster.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The remote side of a call: bounded by the deadline the call carries, refused at once when it is past. */
class InternalResourceTest {

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final SlowHost host = new SlowHost();
    private final InternalResource resource = new InternalResource(new Secret("s"), id -> "mh1".equals(id) ? host
            : null, () -> null, timer, 30_000);

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    private static byte[] call(long remainingMillis) {
        return Wire.encode(InferenceRequest.of("iris", 1, List.of()), TimeUnit.MILLISECONDS.toNanos(remainingMillis));
    }

    @Test
    void aQueuedCallIsAnsweredAtItsDeadlineAndLeavesTheQueue() throws Exception {
        long t0 = System.nanoTime();
        Response r = resource.infer("mh1", "s", "30000", call(200)).toCompletableFuture().get(5, TimeUnit.SECONDS);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(504, r.getStatus());
        assertEquals("timeout", ((Map<?, ?>) r.getEntity()).get("kind"));
        assertTrue(tookMs >= 190 && tookMs < 1000, "answered after " + tookMs + " ms for a 200 ms deadline");
        assertTrue(host.last.isCancelled(), "the modelhost's call was cancelled (out of its queue)");
        InferenceRequest seen = host.request;
        assertTrue(seen.hasDeadline(), "the modelhost got the request with its deadline");
        assertEquals(0, resource.inFlight());
    }

    @Test
    void aCallPastItsDeadlineIsRefusedWithoutRunning() throws Exception {
        Response r = resource.infer("mh1", "s", "30000", call(-15)).toCompletableFuture().get(1, TimeUnit.SECONDS);
        assertEquals(504, r.getStatus());
        Map<?, ?> body = (Map<?, ?>) r.getEntity();
        assertEquals("deadline", body.get("kind"));
        assertTrue(body.get("error").toString().contains("deadline passed"), body.toString());
        assertEquals(0, host.calls.get(), "the modelhost never saw it");
    }

    @Test
    void theHeaderStillBoundsACallWithoutADeadline() throws Exception {
        byte[] noDeadline = Wire.encode(InferenceRequest.of("iris", 1, List.of()), Wire.NO_TIMEOUT);
        long t0 = System.nanoTime();
        Response r = resource.infer("mh1", "s", "150", noDeadline).toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(504, r.getStatus());
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) < 1000);
    }

    /** A modelhost whose calls wait in its queue until cancelled. */
    private static final class SlowHost implements ModelHost {
        final AtomicInteger calls = new AtomicInteger();
        volatile CompletableFuture<InferenceResponse> last;
        volatile InferenceRequest request;

        @Override
        public String id() {
            return "mh1";
        }

        @Override
        public CompletableFuture<InferenceResponse> infer(InferenceRequest r) {
            calls.incrementAndGet();
            request = r;
            last = new CompletableFuture<>();
            return last;
        }

        @Override
        public CompletableFuture<EchoDTO> echo(Object payload) {
            return new CompletableFuture<>();
        }

        @Override
        public ModelState state(String model, int version) {
            return ModelState.READY;
        }

        @Override
        public ModelStatusDTO status(String model, int version) {
            return null;
        }

        @Override
        public int outstanding() {
            return 0;
        }

        @Override
        public boolean accepting() {
            return true;
        }

        @Override
        public ModelHostDTO describe() {
            return new ModelHostDTO();
        }
    }

}
