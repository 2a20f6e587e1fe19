package io.fractal.cluster.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A remote call is bounded by its request's deadline, not by {@code call.timeout.ms}: against a node on a real
 * socket that takes the call and never answers (a slow or queued remote modelhost), the caller's future fails with
 * a {@link TimeoutException} about the deadline after, not 30 s; the node was told how long the caller waits.
 */
class PeerDeadlineTest {

    private static final long CALL_TIMEOUT_MS = 30_000;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    private static InferenceRequest request(long timeoutMillis) {
        long now = System.nanoTime();
        return new InferenceRequest("r1", "iris", 1, List.of(Tensor.of("x", DataType.FP32, new long[] {1, 4},
                new float[] {5.1f, 3.4f, 1.5f, 0.2f})), Set.of(), now, now + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
    }

    @Test
    void aSilentNodeFailsTheCallAtItsDeadlineNotAtTheCallTimeout() throws Exception {
        SilentNode node = new SilentNode();
        PeerClient client = client();
        long t0 = System.nanoTime();
        CompletableFuture<?> call = client.infer(node.base(), "mh1", request(300));
        Throwable error = failure(call, 10);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        PeerClient.PeerException p = assertInstanceOf(PeerClient.PeerException.class, error);
        assertEquals(PeerClient.Outcome.FAILED, p.outcome, "a slow node is not taken out for a deadline");
        assertInstanceOf(TimeoutException.class, p.reported());
        assertTrue(tookMs >= 290 && tookMs < 300 + PeerClient.DEADLINE_GRACE_MILLIS + 700,
                "answered after " + tookMs + " ms for a 300 ms deadline (call.timeout.ms is " + CALL_TIMEOUT_MS + ")");
        System.out.println("deadline 300 ms, call.timeout.ms 30000, silent node: the call failed after " + tookMs
                + " ms");

        // what the node was told: the header and the body carry the time the caller still waited
        long header = Long.parseLong(node.header("x-request-timeout-ms"));
        assertTrue(header > 0 && header <= 300, "X-Request-Timeout-Ms " + header);
        byte[] sent = node.body();
        long decoded = System.nanoTime();
        InferenceRequest received = Wire.decodeRequest(sent);
        assertTrue(received.hasDeadline());
        long left = TimeUnit.NANOSECONDS.toMillis(received.deadlineNanos() - decoded);
        assertTrue(left > 0 && left <= 300, "the node's deadline was " + left + " ms after it read the call");
    }

    @Test
    void aRequestPastItsDeadlineIsNotSent() throws Exception {
        SilentNode node = new SilentNode();
        long now = System.nanoTime();
        InferenceRequest late = new InferenceRequest(null, "iris", 1, List.of(), Set.of(), now - 1_000_000,
                now - 1);
        Throwable error = failure(client().infer(node.base(), "mh1", late), 2);
        assertInstanceOf(TimeoutException.class, ((PeerClient.PeerException) error).reported());
        Thread.sleep(100);
        assertEquals(0, node.accepted.get(), "no connection for a request past its deadline");
    }

    @Test
    void withoutADeadlineTheCallTimeoutStillBoundsTheCall() throws Exception {
        SilentNode node = new SilentNode();
        PeerClient client = new PeerClient(new Secret("s"), 1000, 400);
        closing.add(client);
        long t0 = System.nanoTime();
        Throwable error = failure(client.infer(node.base(), "mh1", InferenceRequest.of("iris", 1, List.of())), 10);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        PeerClient.PeerException p = (PeerClient.PeerException) error;
        assertEquals(PeerClient.Outcome.NODE_DOWN, p.outcome, "silent past call.timeout.ms: the node is taken out");
        assertInstanceOf(CapacityExceededException.class, p.reported());
        assertTrue(tookMs >= 390 && tookMs < 2000, tookMs + " ms");
        assertEquals("400", node.header("x-request-timeout-ms"));
    }

    @Test
    void theNodesTimeoutAnswersAreTimeouts() {
        URI base = URI.create("http://127.0.0.1:9/");
        for (String kind : List.of("timeout", "deadline")) {
            PeerClient.PeerException p = PeerClient.failure(base, 504, ("{\"error\":\"late\",\"kind\":\"" + kind
                    + "\"}").getBytes(StandardCharsets.UTF_8));
            assertEquals(PeerClient.Outcome.FAILED, p.outcome);
            assertInstanceOf(TimeoutException.class, p.reported());
        }
    }

    @Test
    void theWireCarriesTheTimeLeft() {
        InferenceRequest none = Wire.decodeRequest(Wire.encode(InferenceRequest.of("m", 1, List.of())));
        assertTrue(!none.hasDeadline());
        long t0 = System.nanoTime();
        InferenceRequest back = Wire.decodeRequest(Wire.encode(request(5000)));
        long left = back.deadlineNanos() - t0;
        assertTrue(left > TimeUnit.MILLISECONDS.toNanos(4000) && left <= TimeUnit.MILLISECONDS.toNanos(5100),
                left + " ns");
        InferenceRequest past = Wire.decodeRequest(Wire.encode(request(5000), -TimeUnit.MILLISECONDS.toNanos(20)));
        assertTrue(past.hasDeadline() && past.remainingNanos() <= 0);
    }

    private PeerClient client() {
        PeerClient c = new PeerClient(new Secret("s"), 1000, CALL_TIMEOUT_MS);
        closing.add(c);
        return c;
    }

    private static Throwable failure(CompletableFuture<?> f, int seconds) throws Exception {
        try {
            f.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("the call succeeded");
    }

    /** A node that reads a call and never answers, keeping the connection open. */
    private final class SilentNode implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final AtomicInteger accepted = new AtomicInteger();
        final CompletableFuture<String> head = new CompletableFuture<>();
        final CompletableFuture<byte[]> body = new CompletableFuture<>();
        final List<Socket> sockets = new ArrayList<>();

        SilentNode() throws IOException {
            closing.add(this);
            Thread t = new Thread(() -> {
                try {
                    while (true) {
                        Socket s = server.accept();
                        accepted.incrementAndGet();
                        sockets.add(s);
                        read(s.getInputStream());
                    }
                } catch (IOException e) {
                    // closed
                }
            }, "silent-node");
            t.setDaemon(true);
            t.start();
        }

        private void read(InputStream in) throws IOException {
            ByteArrayOutputStream h = new ByteArrayOutputStream();
            while (!h.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                h.write(b);
            }
            String text = h.toString(StandardCharsets.ISO_8859_1);
            head.complete(text);
            int length = Integer.parseInt(headerOf(text, "content-length"));
            body.complete(in.readNBytes(length));
        }

        URI base() {
            return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/");
        }

        String header(String name) throws Exception {
            return headerOf(head.get(5, TimeUnit.SECONDS), name);
        }

        byte[] body() throws Exception {
            return body.get(5, TimeUnit.SECONDS);
        }

        private static String headerOf(String head, String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
