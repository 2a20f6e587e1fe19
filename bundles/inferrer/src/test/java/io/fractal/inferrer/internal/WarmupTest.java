package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The requests that warm the request path at start, and the client that sends them. */
class WarmupTest {

    private static ModelSignature inputs(TensorSpec... specs) {
        return new ModelSignature(List.of(specs), List.of(), List.of());
    }

    private static JsonNode body(Warmup.Call call) throws IOException {
        String all = new String(call.bytes(), StandardCharsets.UTF_8);
        return Bodies.JSON.readTree(all.substring(all.indexOf("\r\n\r\n") + 4));
    }

    private static String bodyText(Warmup.Call call) {
        String all = new String(call.bytes(), StandardCharsets.UTF_8);
        return all.substring(all.indexOf("\r\n\r\n") + 4);
    }

    @Test
    void spacesJsonOutsideItsStringsOnly() {
        assertEquals("{\"a, b\": [1, 2], \"c\\\": d\": {\"e\": \"\\\\\"}, \"f\": 3}",
                Warmup.spaced("{\"a, b\":[1,2],\"c\\\": d\":{\"e\":\"\\\\\"},\"f\":3}"));
    }

    private static String head(Warmup.Call call) {
        String all = new String(call.bytes(), StandardCharsets.UTF_8);
        return all.substring(0, all.indexOf("\r\n\r\n") + 4);
    }

    @Test
    void aTabularModelGetsAV2InferenceAndAV1PredictionOnOneRowOfZeros() throws IOException {
        List<Warmup.Call> calls = Warmup.calls("127.0.0.1", "iris",
                inputs(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})));
        assertEquals(2, calls.size());
        assertTrue(head(calls.get(0)).startsWith("POST /v2/models/iris/infer HTTP/1.1\r\n"), head(calls.get(0)));
        // floating-point inputs get sample values of several lengths, not zeros (whose parsing and formatting take
        // shortcuts)
        assertEquals(Bodies.JSON.readTree("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
                + "\"data\":[0.6,2.36,0.085,0.4721]}]}"), body(calls.get(0)));
        assertTrue(head(calls.get(1)).startsWith("POST /api/v1/models/iris/prediction HTTP/1.1\r\n"));
        assertEquals(Bodies.JSON.readTree("{\"values\":[0.6,2.36,0.085,0.4721]}"), body(calls.get(1)));
        // the v1 body spaced as Python's json.dumps writes it, the v2 body compact
        assertTrue(bodyText(calls.get(1)).equals("{\"values\": [0.6, 2.36, 0.085, 0.4721]}"), bodyText(calls.get(1)));
        assertTrue(bodyText(calls.get(0)).startsWith("{\"inputs\":[{\"name\":\"input\","), bodyText(calls.get(0)));
        String bytes = new String(calls.get(1).bytes(), StandardCharsets.UTF_8);
        assertTrue(head(calls.get(1)).contains("Content-Length: " + (bytes.length() - head(calls.get(1)).length())));
    }

    @Test
    void anImageModelsV1ObservationKeepsItsDimensions() throws IOException {
        List<Warmup.Call> calls = Warmup.calls("h", "digits",
                inputs(new TensorSpec("image", DataType.FP32, new long[] {-1, 1, 8, 8})));
        JsonNode values = body(calls.get(1)).get("values");
        assertEquals(List.of(1, 8, 8), List.of(values.size(), values.get(0).size(), values.get(0).get(0).size()));
        assertEquals(64, body(calls.get(0)).at("/inputs/0/data").size());
    }

    @Test
    void nothingForInputsThatAreNotFullyKnownOrAreText() {
        assertEquals(List.of(), Warmup.calls("h", "m", ModelSignature.UNKNOWN));
        assertEquals(List.of(), Warmup.calls("h", "m", inputs(new TensorSpec("x", null, new long[] {-1, 4}))));
        assertEquals(List.of(), Warmup.calls("h", "m", inputs(new TensorSpec("x", DataType.FP32, null))));
        assertEquals(List.of(), Warmup.calls("h", "m", inputs(new TensorSpec("x", DataType.BYTES, new long[] {1}))));
    }

    @Test
    void twoInputsGetOnlyTheV2Call() {
        List<Warmup.Call> calls = Warmup.calls("h", "m", inputs(new TensorSpec("a", DataType.INT64, new long[] {-1, 2}),
                new TensorSpec("b", DataType.FP32, new long[] {-1, 3})));
        assertEquals(1, calls.size());
        assertTrue(head(calls.get(0)).contains("/v2/models/m/infer"));
    }

    @Test
    void sendsOverKeptAliveConnectionsAndDropsACallThatIsRefused() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            String path = exchange.getRequestURI().getPath();
            seen.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
            byte[] answer = "{}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(path.contains("prediction") ? 401 : 200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        server.start();
        try {
            List<Warmup.Call> calls = Warmup.calls("127.0.0.1", "iris",
                    inputs(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})));
            Warmup.Result r = Warmup.run(server.getAddress(), calls, 2, 300, 300, null);
            assertEquals(1, r.kindsAnswering(), "the v1 call answered 401 and left the rotation");
            assertTrue(seen.get("/v2/models/iris/infer").get() > 10, seen.toString());
            assertTrue(seen.get("/api/v1/models/iris/prediction").get() <= 2, seen.toString());
            assertEquals(seen.values().stream().mapToInt(AtomicInteger::get).sum(), r.answers());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void goesOnPastItsLeastTimeWhileTheJitCompilesAndStopsOnceItIsQuiet() throws IOException {
        // the JIT compiles 90% of the time for the first 1.5 s, then no more
        Run run = run(300, 20_000, jitBusy(1500));
        // quiet: the last second held less than 150 ms of compiling, which 0.9 x (1.5 s - (t - 1 s)) is from t = 2.33 s
        assertTrue(run.millis >= 2300, "on until the JIT quieted: " + run);
        assertTrue(run.millis < 15_000, "ended once quiet, long before its most: " + run);
        assertTrue(run.result.jitLastSecondMs() >= 0 && run.result.jitLastSecondMs() < 150, run.toString());
        assertTrue(run.result.answers() > 0, run.toString());
    }

    @Test
    void endsAtItsMostTimeWhenTheJitNeverQuietsAndAtItsLeastWithoutAJitClock() throws IOException {
        Run busy = run(300, 1500, jitBusy(Long.MAX_VALUE));
        assertTrue(busy.millis >= 1500, "ran to its most: " + busy);
        assertTrue(busy.result.jitLastSecondMs() >= 250, busy.toString());
        Run unknown = run(300, 20_000, null);
        assertTrue(unknown.millis >= 300 && unknown.millis < 10_000, "its least time only: " + unknown);
        assertEquals(-1, unknown.result.jitLastSecondMs());
    }

    /** A warm-up's outcome and how long it took. */
    private record Run(Warmup.Result result, long millis) {
    }

    /** A warm-up of the iris calls against a server that answers 200, with the JIT's time read from {@code jit}. */
    private static Run run(long minMillis, long maxMillis, LongSupplier jit) throws IOException {
        HttpServer server = answering200();
        try {
            long start = System.nanoTime();
            Warmup.Result r = Warmup.run(server.getAddress(), irisCalls(), 2, minMillis, maxMillis, jit);
            return new Run(r, (System.nanoTime() - start) / 1_000_000);
        } finally {
            server.stop(0);
        }
    }

    /** A JIT clock that counts 90% of the time as compiling, for {@code millis} from now; then it stops. */
    private static LongSupplier jitBusy(long millis) {
        long start = System.nanoTime();
        return () -> Math.min(millis, (System.nanoTime() - start) / 1_000_000) * 9 / 10;
    }

    private static List<Warmup.Call> irisCalls() {
        return Warmup.calls("127.0.0.1", "iris", inputs(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})));
    }

    private static HttpServer answering200() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            byte[] answer = "{}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        server.start();
        return server;
    }
}
