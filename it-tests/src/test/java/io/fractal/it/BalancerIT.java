package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.repository.ModelArtifact;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceRegistration;

/**
 * The balancer: strategies switched live, round robin's even spread, a full queue's 503s, and a failing modelhost
 * ejected. The server has ONE modelhost, {@code solo}, with one worker and a queue of two, so a handful of
 * concurrent slow requests fill it; the tests that need more modelhosts add them and take them away again.
 * Plug-ins the tests need are registered from the probe as services, as a bundle would: a test engine whose model
 * sleeps, and a modelhost whose every inference fails.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class BalancerIT extends ModelHostTestSupport {

    private static final String SOLO = "solo";
    private static final int QUEUE = 2;
    private static final long NAP_MILLIS = 300;
    private static final int EJECTION_FAILURES = 3;
    private static final String IRIS = "{\"values\": [5.1, 3.5, 1.4, 0.2]}";

    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(),
                serverWithModelhosts(List.of(new HostConfig(SOLO, 1, QUEUE, "*")),
                        // an ejected host sits out long enough for the test to see it get nothing
                        Map.of("io.fractal.balancer", List.of("ejection.failures", EJECTION_FAILURES, "ejection.seconds", 60)),
                        "iris"),
                testLibraries());
    }

    // ---- a model that rejects an input, and a model that breaks

    /**
     * The engine fails on an input: if the model still answers the first input it answered, the input was at fault
     * (400, in the engine's words, nothing counted against the host); if not, the model broke, and that is the host's
     * failure (500 without internals, counted, towards ejecting the host), not something the client can fix.
     * {@code breaks.pt} ({@code scripts/make_type_models.py}) refuses negative values, and an input holding 999
     * breaks it for every later call.
     */
    @Test
    public void anInputTheEngineRejectsIs400AndAModelThatBrokeIsTheHostsFailure() throws Exception {
        awaitServer();
        deploy("/models/breaks.pt", "breaks.pt");
        awaitReadyOn("breaks", SOLO);
        try {
            HttpResult good = infer("breaks", 1, 2);
            assertEquals(good.toString(), 200, good.status);
            assertEquals(good.toString(), "[2.0,4.0]", good.json.path("outputs").path(0).path("data").toString());
            double failuresBefore = failures("breaks");

            HttpResult negative = infer("breaks", -1, 2);
            assertEquals(negative.toString(), 400, negative.status);
            assertTrue(negative.toString(),
                    negative.json.path("error").asText().contains("negative values are refused"));
            HttpResult after = infer("breaks", 3, 4);
            assertEquals("the model still answers after a bad input: " + after, 200, after.status);
            assertEquals("a bad input is not the host's failure", failuresBefore, failures("breaks"), 0);

            HttpResult breaking = infer("breaks", 999, 1);
            assertEquals(breaking.toString(), 200, breaking.status); // the call that breaks it is answered
            // two failures: fewer than the balancer's EJECTION_FAILURES, so that solo serves the tests that follow
            HttpResult broken = infer("breaks", 1, 2);
            assertEquals("a model that broke: " + broken, 500, broken.status);
            assertTrue(broken.toString(), broken.json.path("error").asText().startsWith("internal error"));
            assertEquals("the host's failure is counted", failuresBefore + 1, failures("breaks"), 0);
            // a bad input to a broken model is the model's failure too: it answers nothing
            HttpResult negativeToBroken = infer("breaks", -1, 2);
            assertEquals(negativeToBroken.toString(), 500, negativeToBroken.status);
            assertEquals("the host's failure is counted", failuresBefore + 2, failures("breaks"), 0);
        } finally {
            Files.deleteIfExists(deployFolder().resolve("breaks.pt"));
            await().atMost(Duration.ofSeconds(30)).until(() -> http().get("/v2/models/breaks").status == 404);
            // a success clears the host's consecutive failures, for the tests that follow
            assertEquals(200, http().post("/api/v1/models/iris/prediction", IRIS).status);
        }
    }

    private HttpResult infer(String model, double a, double b) {
        return http().post("/v2/models/" + model + "/infer", "{\"inputs\": [{\"name\": \"x\", "
                + "\"datatype\": \"FP32\", \"shape\": [1, 2], \"data\": [" + a + ", " + b + "]}]}");
    }

    private double failures(String model) {
        return Exposition.parse(http().get("/metrics", "text/plain").body)
                .valueOr(0, "fractal_inference_failures_total", "model", model, "modelhost", SOLO);
    }

    // ---- strategies

    @Test
    public void strategySwitchesLiveFromRestAndShell() throws Exception {
        awaitServer();
        try (Shell shell = shell()) {
            HttpResult roundRobin = http().put("/api/v1/balancer", Map.of("strategy", "ROUND_ROBIN"));

            assertEquals(roundRobin.toString(), 200, roundRobin.status);
            assertEquals(roundRobin.toString(), "ROUND_ROBIN", roundRobin.json.path("strategy").asText());
            assertEquals("ROUND_ROBIN", balancer().path("strategy").asText());
            assertEquals("ROUND_ROBIN", modelhosts().path("strategy").asText());

            String answer = shell.run("fractal:strategy LEAST_OUTSTANDING");

            assertTrue(answer, answer.contains("LEAST_OUTSTANDING"));
            assertEquals("after fractal:strategy", "LEAST_OUTSTANDING", balancer().path("strategy").asText());

            HttpResult unknown = http().put("/api/v1/balancer", Map.of("strategy", "FASTEST"));

            assertEquals(unknown.toString(), 400, unknown.status);
            assertTrue(unknown.toString(), unknown.error() != null && unknown.error().contains("FASTEST"));
            HttpResult missing = http().put("/api/v1/balancer", Map.of("other", "x"));
            assertEquals(missing.toString(), 400, missing.status);
            assertEquals("a refused switch changes nothing", "LEAST_OUTSTANDING", balancer().path("strategy").asText());

            HttpResult back = http().put("/api/v1/balancer", Map.of("strategy", "POWER_OF_TWO"));
            assertEquals(back.toString(), 200, back.status);
            assertEquals("POWER_OF_TWO", balancer().path("strategy").asText());
            // the configuration update confirms the switch asynchronously: it must not flip back meanwhile
            for (int i = 0; i < 20; i++) {
                assertEquals("strategy read " + i + " after the switch", "POWER_OF_TWO", balancer().path("strategy").asText());
            }
        }
    }

    @Test
    public void roundRobinSpreadsSequentialElementsEvenlyOverTwoIdleModelhosts() throws Exception {
        awaitServer();
        // solo's queue of two cannot take a burst of echoes: two roomy modelhosts take its place for this test
        for (String id : List.of("rr1", "rr2")) {
            HttpResult created = http().post("/api/v1/modelhosts", Map.of("id", id, "workers", 2, "queue_capacity", 64));
            assertEquals(created.toString(), 201, created.status);
        }
        try {
            await("rr1 and rr2 are live").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> modelhostIds().containsAll(List.of("rr1", "rr2")));
            HttpResult drained = http().post("/api/v1/modelhosts/" + SOLO + "/drain");
            assertEquals(drained.toString(), 200, drained.status);
            HttpResult roundRobin = http().put("/api/v1/balancer", Map.of("strategy", "ROUND_ROBIN"));
            assertEquals(roundRobin.toString(), 200, roundRobin.status);

            List<Integer> data = IntStream.rangeClosed(1, 20).boxed().collect(Collectors.toList());
            HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("data", data));

            assertEquals(echo.toString(), 200, echo.status);
            assertEquals("spread of " + echo, Map.of("rr1", 10, "rr2", 10), Map.of(
                    "rr1", echo.json.path("spread").path("rr1").asInt(), "rr2", echo.json.path("spread").path("rr2").asInt()));
            assertEquals("only rr1 and rr2 in " + echo, 2, echo.json.path("spread").size());
            // round robin alternates its picks; the seed's call sends a few elements at once, so two neighbours may
            // be routed in the other order than their numbers: never more than two in a row on one modelhost
            JsonNode results = echo.json.path("results");
            int run = 1;
            for (int i = 1; i < results.size(); i++) {
                boolean same = results.get(i).path("modelhost").asText()
                        .equals(results.get(i - 1).path("modelhost").asText());
                run = same ? run + 1 : 1;
                assertTrue("elements " + (i + 2 - run) + " to " + (i + 1) + " on the same modelhost: " + echo, run <= 2);
            }
        } finally {
            http().post("/api/v1/modelhosts/" + SOLO + "/resume");
            http().put("/api/v1/balancer", Map.of("strategy", "POWER_OF_TWO"));
            http().delete("/api/v1/modelhosts/rr1");
            http().delete("/api/v1/modelhosts/rr2");
            await("rr1 and rr2 are gone").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> modelhostIds().equals(List.of(SOLO)));
        }
    }

    // ---- a full queue

    @Test
    public void fullQueueAnswers503WithRetryAfterAndCountsTheRejections() throws Exception {
        awaitServer();
        SleepEngine engine = new SleepEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        try {
            deployNap("nap");
            JsonNode before = modelhost(SOLO);
            double rejectedMetricBefore = Exposition.parse(http().get("/metrics", "text/plain").body)
                    .valueOr(0, "fractal_modelhost_rejected_total", "modelhost", SOLO);

            List<HttpResult> answers = burst("nap", 10);

            List<HttpResult> ok = answers.stream().filter(r -> r.status == 200).toList();
            List<HttpResult> refused = answers.stream().filter(r -> r.status == 503).toList();
            String all = answers.stream().map(HttpResult::toString).collect(Collectors.joining("\n"));
            System.out.println("BURST of 10 on solo (1 worker, queue " + QUEUE + "): " + ok.size() + " x 200, "
                    + refused.size() + " x 503");
            assertEquals("every answer is 200 or 503:\n" + all, answers.size(), ok.size() + refused.size());
            assertTrue("some requests were served:\n" + all, ok.size() >= 1);
            assertTrue("a worker and a queue of " + QUEUE + " serve at most a few of 10 concurrent "
                    + NAP_MILLIS + " ms requests:\n" + all, refused.size() >= 1);
            for (HttpResult r : ok) {
                assertEquals(r.toString(), SOLO, r.json.path("modelhost").asText());
                assertValues("nap echoes its input", json(List.of(1.0, 2.0, 3.0)), r.json.path("values"));
            }
            for (HttpResult r : refused) {
                String retryAfter = r.header("Retry-After");
                assertNotNull("Retry-After on " + r, retryAfter);
                assertTrue("Retry-After is a number of seconds: " + retryAfter, Integer.parseInt(retryAfter.trim()) >= 1);
                assertTrue("a JSON error: " + r, r.error() != null && !r.error().isBlank());
            }
            await("solo's rejected counter counts the 503s").atMost(Duration.ofSeconds(5))
                    .pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
                        JsonNode after = modelhost(SOLO);
                        assertEquals("rejected: before " + before + ", after " + after + ", answers:\n" + all,
                                before.path("rejected").asLong() + refused.size(), after.path("rejected").asLong());
                    });
            Exposition metrics = Exposition.parse(http().get("/metrics", "text/plain").body);
            assertEquals("fractal_modelhost_rejected_total{modelhost=\"solo\"}: " + metrics.linesOf("fractal_modelhost_rejected"),
                    rejectedMetricBefore + refused.size(),
                    metrics.value("fractal_modelhost_rejected_total", "modelhost", SOLO), 0.0);
            // what the user reads must say why: the queue is full (not only "busy")
            for (HttpResult r : refused) {
                assertTrue("the error says the queue is full: " + r, r.error().toLowerCase().contains("queue"));
            }
        } finally {
            undeployNap("nap");
            registration.unregister();
        }
    }

    /**
     * The queue never holds work nobody waits for: requests whose deadline passes while queued leave the queue
     * without running (counted in fractal_modelhost_dropped_total).
     */
    @Test
    public void requestsWhoseCallersGaveUpAreDroppedFromTheQueueNotRun() throws Exception {
        awaitServer();
        SleepEngine engine = new SleepEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        try {
            deployNap("patience");
            SleepModel model = engine.loaded.get(0);
            double droppedBefore = dropped();
            // one runs (300 ms), two wait in the queue; every client gives up after 100 ms
            ExecutorService clients = Executors.newFixedThreadPool(3);
            try {
                List<Future<HttpResult>> answers = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    answers.add(clients.submit(() -> http().postWithHeader("/api/v1/models/patience/prediction",
                            "{\"values\": [1, 2, 3]}", "X-Request-Timeout-Ms", "100")));
                    Thread.sleep(20); // in order: the first is running when the others queue
                }
                for (Future<HttpResult> f : answers) {
                    HttpResult r = f.get(10, TimeUnit.SECONDS);
                    assertEquals(r.toString(), 504, r.status);
                }
            } finally {
                clients.shutdownNow();
            }
            Thread.sleep(3 * NAP_MILLIS); // what would have run has had time to
            assertEquals("only the request already running reached the model", 1, model.predictions.get());
            assertEquals(droppedBefore + 2, dropped(), 0.0);

        } finally {
            undeployNap("patience");
            registration.unregister();
        }
    }

    private double dropped() {
        return Exposition.parse(http().get("/metrics", "text/plain").body)
                .valueOr(0, "fractal_modelhost_dropped_total", "modelhost", SOLO);
    }

    /**
     * A request the full queue refuses must release its use of the model version once: released twice, the count of
     * running requests went below zero and the version was never closed when undeployed (the engine's memory never
     * freed), or, with fewer refusals, closed under a running request.
     */
    @Test
    public void modelUndeployedAfterItsQueueRefusedRequestsIsClosed() throws Exception {
        awaitServer();
        SleepEngine engine = new SleepEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        try {
            deployNap("nap2");
            List<HttpResult> answers = burst("nap2", 10);
            long refused = answers.stream().filter(r -> r.status == 503).count();
            assertTrue("the burst filled the queue: " + answers, refused >= 1);
            await("solo is idle").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50))
                    .until(() -> modelhost(SOLO).path("in_flight").asInt() == 0 && modelhost(SOLO).path("queued").asInt() == 0);

            undeployNap("nap2");

            SleepModel model = engine.loaded.get(0);
            await("nap2 is closed once undeployed (" + refused + " requests were refused by the full queue)")
                    .atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50))
                    .until(() -> model.closes.get() == 1);
            assertEquals("nothing ran on the closed model", 0, model.predictionsAfterClose.get());
        } finally {
            registration.unregister();
        }
    }

    // ---- ejection

    @Test
    public void failingModelhostIsEjectedAfterConsecutiveFailuresAndGetsNothingMore() throws Exception {
        awaitReadyOn("iris", SOLO);
        int irisVersion = http().get("/api/v1/models/iris").json.path("default_version").asInt();
        FailingModelHost bad = new FailingModelHost("bad", "iris", irisVersion);
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(ModelHost.ID, "bad");
        ServiceRegistration<ModelHost> registration = context.registerService(ModelHost.class, bad, properties);
        try {
            await("bad joins the balancer").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                    .until(() -> candidate("bad") != null);
            double ejectionsBefore = Exposition.parse(http().get("/metrics", "text/plain").body)
                    .valueOr(0, "fractal_balancer_ejections_total", "modelhost", "bad");
            long balancerEjectionsBefore = balancer().path("ejections").asLong();

            List<HttpResult> failed = new ArrayList<>();
            int sent = 0;
            while (!candidate("bad").path("ejected").asBoolean() && sent < 200) {
                HttpResult r = http().post("/api/v1/models/iris/prediction", IRIS);
                sent++;
                if (r.status != 200) {
                    failed.add(r);
                } else {
                    assertEquals(r.toString(), SOLO, r.json.path("modelhost").asText());
                }
            }

            JsonNode ejected = candidate("bad");
            System.out.println("EJECTION: bad ejected after " + sent + " requests, " + failed.size() + " failed: " + ejected);
            assertTrue("bad is ejected after " + sent + " requests: " + balancer(), ejected.path("ejected").asBoolean());
            // each request bad failed went to solo, which answered it: the client saw no failure
            assertEquals("requests that failed for their clients: " + failed, List.of(), failed);
            assertEquals(ejected.toString(), EJECTION_FAILURES, ejected.path("routed").asInt());
            assertEquals(EJECTION_FAILURES, bad.inferCalls.get());
            long routed = ejected.path("routed").asLong();

            for (int i = 0; i < 50; i++) {
                HttpResult r = http().post("/api/v1/models/iris/prediction", IRIS);
                assertEquals("request " + i + " after the ejection: " + r, 200, r.status);
                assertEquals(r.toString(), SOLO, r.json.path("modelhost").asText());
            }
            for (int i = 0; i < 5; i++) {
                HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("data", List.of(i)));
                assertEquals(echo.toString(), 200, echo.status);
                assertEquals("an ejected modelhost gets no echo either: " + echo, Map.of(SOLO, 1),
                        Map.of(SOLO, echo.json.path("spread").path(SOLO).asInt(0)));
            }

            JsonNode after = candidate("bad");
            assertTrue("still ejected: " + after, after.path("ejected").asBoolean());
            assertEquals("bad's routed count after the ejection: " + after, routed, after.path("routed").asLong());
            assertEquals(EJECTION_FAILURES, bad.inferCalls.get());
            assertEquals("balancer ejections", balancerEjectionsBefore + 1, balancer().path("ejections").asLong());
            Exposition metrics = Exposition.parse(http().get("/metrics", "text/plain").body);
            assertEquals("fractal_balancer_ejections_total{modelhost=\"bad\"}: " + metrics.linesOf("fractal_balancer_ejections"),
                    ejectionsBefore + 1, metrics.value("fractal_balancer_ejections_total", "modelhost", "bad"), 0.0);
        } finally {
            registration.unregister();
        }
    }

    private JsonNode candidate(String id) {
        return find(balancer().path("modelhosts"), "id", id);
    }

    // ---- helpers

    private ServiceRegistration<InferenceEngine> register(SleepEngine engine) {
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(InferenceEngine.NAME, engine.name());
        return context.registerService(InferenceEngine.class, engine, properties);
    }

    private void deployNap(String name) throws Exception {
        deployBytes("zzz".getBytes(StandardCharsets.UTF_8), name + ".sleep");
        awaitReadyOn(name, SOLO);
    }

    private void undeployNap(String name) throws Exception {
        Files.deleteIfExists(deployFolder().resolve(name + ".sleep"));
        await(name + " is undeployed").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> http().get("/api/v1/models/" + name).status == 404);
    }

    /** {@code n} concurrent predictions, released together. */
    private List<HttpResult> burst(String model, int n) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<HttpResult>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                futures.add(clients.submit(() -> {
                    go.await();
                    return http().post("/api/v1/models/" + model + "/prediction", "{\"values\": [1, 2, 3]}");
                }));
            }
            go.countDown();
            List<HttpResult> answers = new ArrayList<>();
            for (Future<HttpResult> f : futures) {
                answers.add(f.get(30, TimeUnit.SECONDS));
            }
            return answers;
        } finally {
            clients.shutdownNow();
        }
    }

    /** An engine for {@code .sleep} files whose models take {@value #NAP_MILLIS} ms and echo their input. */
    static final class SleepEngine implements InferenceEngine {
        final List<SleepModel> loaded = new CopyOnWriteArrayList<>();

        @Override
        public String name() {
            return "Sleep";
        }

        @Override
        public String platform() {
            return "sleep";
        }

        @Override
        public Set<String> fileExtensions() {
            return Set.of("sleep");
        }

        @Override
        public LoadedModel load(ModelArtifact artifact, int workers) {
            SleepModel model = new SleepModel();
            loaded.add(model);
            return model;
        }
    }

    static final class SleepModel implements LoadedModel {
        final AtomicInteger closes = new AtomicInteger();
        final AtomicInteger predictions = new AtomicInteger();
        final AtomicInteger predictionsAfterClose = new AtomicInteger();

        @Override
        public ModelSignature signature() {
            return ModelSignature.UNKNOWN;
        }

        @Override
        public List<Tensor> predict(List<Tensor> inputs) {
            if (closes.get() > 0) {
                predictionsAfterClose.incrementAndGet();
                throw new IllegalStateException("predict on a closed model");
            }
            predictions.incrementAndGet();
            try {
                Thread.sleep(NAP_MILLIS); // the slow model this test needs, not a wait
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return List.of(inputs.get(0).withName("output"));
        }

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }

    /** A modelhost that says it holds one model version READY and fails every inference; its echo works. */
    static final class FailingModelHost implements ModelHost {
        final AtomicInteger inferCalls = new AtomicInteger();
        private final String id;
        private final String model;
        private final int version;

        FailingModelHost(String id, String model, int version) {
            this.id = id;
            this.model = model;
            this.version = version;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
            inferCalls.incrementAndGet();
            return CompletableFuture.failedFuture(new RuntimeException("modelhost " + id + " is broken (test)"));
        }

        @Override
        public CompletableFuture<EchoDTO> echo(Object payload) {
            EchoDTO echo = new EchoDTO();
            echo.data = payload;
            echo.modelhost = id;
            echo.worker = id + "-worker";
            return CompletableFuture.completedFuture(echo);
        }

        @Override
        public ModelState state(String model, int version) {
            return this.model.equals(model) && this.version == version ? ModelState.READY : null;
        }

        @Override
        public ModelStatusDTO status(String model, int version) {
            if (state(model, version) == null) {
                return null;
            }
            ModelStatusDTO status = new ModelStatusDTO();
            status.model = model;
            status.version = version;
            status.state = ModelState.READY;
            status.engine = "PyTorch";
            return status;
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
            ModelHostDTO dto = new ModelHostDTO();
            dto.id = id;
            dto.state = "RUNNING";
            dto.workers = 1;
            dto.queueCapacity = 1;
            dto.models = model;
            dto.failed = inferCalls.get();
            dto.loaded = List.of(status(model, version));
            return dto;
        }
    }
}
