package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/**
 * Hot deploy never drops a request: client threads predict continuously while the model they use is replaced, removed
 * and deployed again, and while the engine it runs on is stopped and started. Every response is counted; every one
 * must be a correct prediction, except 404 while the model is removed.
 *
 * <p>The model is a folder in deploy/ holding the iris classifier twice, as TorchScript ({@code model.pt}) and as its
 * ONNX export ({@code model.onnx}): the two compute the same function, so every answer can be checked against the
 * reference values whichever version gave it. Each replacement rewrites {@code model.json}, naming the other file
 * (so the engine changes too) and a new description: a new version.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SwapUnderLoadIT extends FractalTestSupport {

    private static final int CLIENTS = 4;
    private static final int REPLACEMENTS = 5;
    private static final String ENGINE = "io.fractal.engine.pytorch";
    /** A new version loads in well under a second; FileInstall polls every 200 ms. */
    private static final Duration SWAP_TIMEOUT = Duration.ofSeconds(15);
    /** An answer slower than this was held: it waited for something (a model loading, an engine coming back). */
    private static final Duration HELD = Duration.ofMillis(300);

    /** No sample models: the test deploys its own folders. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries());
    }

    @Test
    public void replacingRemovingAndRedeployingUnderLoadLosesNoRequest() throws Exception {
        awaitServer();
        deployModelFolder("swap", folder("model.pt", "swap 0"));
        awaitReady("swap");

        Traffic traffic = new Traffic("swap");
        try {
            traffic.awaitMore(50);
            for (int i = 1; i <= REPLACEMENTS; i++) {
                String description = "swap " + i;
                String file = i % 2 == 1 ? "model.onnx" : "model.pt";
                traffic.mark(description + " (" + file + ") deployed");
                deployBytes(sidecar(file, description), "swap/model.json");

                JsonNode version = awaitDefaultVersion("swap", v -> description.equals(v.path("description").asText()),
                        true, SWAP_TIMEOUT);
                traffic.mark(description + " is version " + version.path("version").asInt() + ", alone and READY");
                assertEquals(version.toString(), file.endsWith(".onnx") ? "OnnxRuntime" : "PyTorch",
                        version.path("engine").asText());
                traffic.awaitMore(50);
            }

            traffic.gap = true;
            traffic.mark("swap/ removed");
            undeployModelFolder("swap");
            await("swap undeployed").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                    .until(() -> http().get("/api/v1/models/swap").status == 404);
            traffic.awaitNotFound(10);
            traffic.mark("swap undeployed");
            deployModelFolder("swap", folder("model.pt", "redeployed"));
            traffic.mark("swap/ deployed again");
            awaitDefaultVersion("swap", v -> "redeployed".equals(v.path("description").asText()), true, SWAP_TIMEOUT);
            traffic.mark("swap READY again");
            traffic.gap = false;
            traffic.awaitMore(100);
        } finally {
            traffic.stop();
            System.out.println("SwapUnderLoadIT: " + REPLACEMENTS + " replacements, a removal and a redeployment: "
                    + traffic.summary());
        }

        traffic.assertNoFailure();
        assertTrue("404s while the model was removed: " + traffic.summary(), traffic.notFoundInGap.get() > 0);
        assertTrue("every version served some requests: " + traffic.summary(),
                traffic.versionsServed.size() >= REPLACEMENTS + 1);
    }

    @Test
    public void stoppingAndStartingTheEngineUnderLoadLosesNoRequest() throws Exception {
        awaitServer();
        deployModelFolder("steady", folder("model.pt", "steady"));
        awaitReady("steady");
        Bundle engine = installedBundle(ENGINE);

        Traffic traffic = new Traffic("steady");
        List<String> pauses = new ArrayList<>();
        try {
            traffic.awaitMore(50);
            for (int i = 0; i < 2; i++) {
                long stopped = System.nanoTime();
                traffic.mark("engine stopping");
                engine.stop();
                traffic.mark("engine stopped");
                // the engine stays away a while: requests wait for it, none fails
                await("no request fails while the engine is away").during(Duration.ofMillis(500))
                        .atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                        .until(() -> traffic.failed.get() == 0);
                traffic.mark("engine starting");
                engine.start();
                traffic.mark("engine started");
                awaitReady("steady");
                traffic.mark("steady READY");
                pauses.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped) + " ms");
                traffic.awaitMore(50);
            }
        } finally {
            traffic.stop();
            System.out.println("SwapUnderLoadIT: the PyTorch engine stopped and started twice (stop to READY: " + pauses
                    + "): " + traffic.summary());
            if (engine.getState() != Bundle.ACTIVE) {
                engine.start();
            }
        }

        traffic.assertNoFailure();
        assertEquals(traffic.summary(), 0, traffic.notFoundInGap.get());
        assertTrue("requests waited for the engine and were answered: " + traffic.summary(),
                traffic.held.get() >= CLIENTS);
    }

    // ------------------------------------------------------------------------------------------------

    /** The folder's files: the iris model as TorchScript and as ONNX, and a model.json naming one of them. */
    private static Map<String, byte[]> folder(String file, String description) throws Exception {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("model.pt", Files.readAllBytes(sampleFile("iris/model.pt")));
        files.put("model.onnx", resourceBytes("/models/iris.onnx"));
        files.put("model.json", sidecar(file, description));
        return files;
    }

    /** The iris sidecar without its engine (the file's type picks it), naming the model file and a description. */
    private static byte[] sidecar(String file, String description) throws Exception {
        ObjectNode sidecar = (ObjectNode) json(new String(Files.readAllBytes(sampleFile("iris/model.json")),
                StandardCharsets.UTF_8));
        sidecar.remove("engine");
        sidecar.put("file", file);
        sidecar.put("description", description);
        return sidecar.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Client threads predicting the iris reference rows on a model until stopped, counting every answer: a correct
     * prediction, a 404 while {@link #gap} is set (the model is removed), or a failure, kept with its status and body.
     */
    private final class Traffic {
        final String model;
        final Map<String, Object> request;
        final JsonNode probabilities;
        final JsonNode labels;
        final AtomicLong total = new AtomicLong();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong notFoundInGap = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final Map<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
        final Set<Integer> versionsServed = ConcurrentHashMap.newKeySet();
        final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        /** What the test did, and when (ms since the traffic started). */
        final ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();
        /** Correct answers that were held longer than {@link #HELD}. */
        final AtomicLong held = new AtomicLong();
        /** Answers that took longer than {@link #HELD}: when, how long, what. */
        final ConcurrentLinkedQueue<String> slow = new ConcurrentLinkedQueue<>();
        final List<Thread> clients = new ArrayList<>();
        final long started = System.nanoTime();
        volatile boolean gap;
        volatile boolean running = true;
        volatile long slowest;

        Traffic(String model) {
            this.model = model;
            JsonNode expected = expected("iris");
            this.request = Map.of("values", expected.path("inputs").path("input").path("data"));
            this.probabilities = expected.path("outputs").path("probabilities").path("data");
            this.labels = expected.path("predicted");
            for (int i = 0; i < CLIENTS; i++) {
                Thread t = new Thread(this::predictUntilStopped, "it-client-" + i);
                t.setDaemon(true);
                clients.add(t);
                t.start();
            }
        }

        private void predictUntilStopped() {
            Http http = http();
            while (running) {
                boolean gapAtSend = gap;
                long sent = System.nanoTime();
                HttpResult answer;
                try {
                    answer = http.post("/api/v1/models/" + model + "/prediction", request);
                } catch (RuntimeException e) {
                    total.incrementAndGet();
                    fail("no answer (" + e + ")");
                    continue;
                }
                long took = System.nanoTime() - sent;
                slowest = Math.max(slowest, took);
                if (took > HELD.toNanos() && answer.status == 200) {
                    held.incrementAndGet();
                }
                if (took > HELD.toNanos() && slow.size() < 20) {
                    slow.add("sent at " + TimeUnit.NANOSECONDS.toMillis(sent - started) + " ms, answered after "
                            + TimeUnit.NANOSECONDS.toMillis(took) + " ms: " + answer.status + " version "
                            + answer.json.path("version").asText() + " from " + answer.json.path("modelhost").asText());
                }
                total.incrementAndGet();
                statuses.computeIfAbsent(answer.status, s -> new AtomicLong()).incrementAndGet();
                if (answer.status == 200) {
                    try {
                        assertValues("values", probabilities, answer.json.path("values"));
                        assertEquals("labels", labels, answer.json.path("labels"));
                        versionsServed.add(answer.json.path("version").asInt());
                        ok.incrementAndGet();
                    } catch (AssertionError e) {
                        fail("wrong prediction: " + e.getMessage());
                    }
                } else if (answer.status == 404 && (gapAtSend || gap)) {
                    notFoundInGap.incrementAndGet();
                } else {
                    fail(answer + " after " + TimeUnit.NANOSECONDS.toMillis(took) + " ms"
                            + (answer.response.headers().firstValue("Retry-After").map(r -> ", Retry-After " + r).orElse("")));
                }
            }
        }

        void mark(String event) {
            events.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms " + event);
        }

        private void fail(String what) {
            failed.incrementAndGet();
            if (failures.size() < 20) {
                failures.add("at " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms: " + what);
            }
        }

        /** Waits until this many more correct predictions were answered (traffic flows). */
        void awaitMore(long more) {
            long target = ok.get() + more;
            await(more + " more predictions of " + model).atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(10)).until(() -> ok.get() >= target || !failures.isEmpty());
        }

        /** Waits until this many requests met the removed model. */
        void awaitNotFound(long count) {
            await(count + " answers 404 for the removed " + model).atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(10)).until(() -> notFoundInGap.get() >= count);
        }

        void stop() throws InterruptedException {
            running = false;
            for (Thread t : clients) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
        }

        String summary() {
            Map<Integer, Long> byStatus = new java.util.TreeMap<>();
            statuses.forEach((s, n) -> byStatus.put(s, n.get()));
            return total.get() + " requests from " + CLIENTS + " clients in "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms, " + ok.get() + " correct, "
                    + failed.get() + " failed, " + notFoundInGap.get() + " 404s while removed; by status " + byStatus
                    + "; versions served " + new TreeSet<>(versionsServed) + "; slowest answer "
                    + TimeUnit.NANOSECONDS.toMillis(slowest) + " ms"
                    + "; " + held.get() + " correct answers held over " + HELD.toMillis() + " ms"
                    + (slow.isEmpty() ? "" : "; answers slower than " + HELD.toMillis() + " ms: " + String.join(" | ", slow)
                            + "; meanwhile: " + String.join(", ", events));
        }

        void assertNoFailure() {
            assertEquals("failed requests: " + summary() + "; first failures: " + String.join(" | ", failures), 0,
                    failed.get());
        }
    }
}
