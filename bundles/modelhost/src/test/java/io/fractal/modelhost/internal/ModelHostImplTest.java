package io.fractal.modelhost.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.concurrent.ThreadBacklog;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStateListener;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.metrics.FractalMetrics;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.ComponentServiceObjects;

class ModelHostImplTest {

    private static final Logger LOG = Logger.getLogger("io.fractal.modelhost");
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final List<ModelHostImpl> hosts = new ArrayList<>();
    private final List<FakeEngine> engines = new ArrayList<>();
    /** The batching configuration the hosts of a test are made with. */
    private final Map<String, Object> batching = new HashMap<>();

    @BeforeAll
    static void quiet() {
        LOG.setLevel(Level.WARNING);
    }

    @AfterEach
    void stopHosts() {
        engines.forEach(FakeEngine::release);
        hosts.forEach(ModelHostImpl::deactivate);
    }

    // ---- loading -------------------------------------------------------------------------------------------

    @Test
    void aModelGoesFromLoadingToReady() {
        ModelHostImpl host = host(Map.of("id", "mh1"));
        FakeEngine engine = engine();
        engine.loadGate = new CountDownLatch(1);
        host.bindEngine(engine);
        bind(host, "iris", 1);
        assertEquals(ModelState.LOADING, host.state("iris", 1));
        assertNull(host.status("iris", 1).signature);
        engine.loadGate.countDown();
        await().atMost(WAIT).until(() -> host.state("iris", 1) == ModelState.READY);
        ModelStatusDTO status = host.status("iris", 1);
        assertEquals("iris", status.model);
        assertEquals(1, status.version);
        assertEquals(FakeEngine.NAME, status.engine);
        assertNull(status.reason);
        assertEquals(FakeEngine.SIGNATURE, status.signature);
        assertNull(host.state("iris", 2));
        assertNull(host.state("digits", 1));
    }

    @Test
    void aModelWaitsForItsEngine() throws Exception {
        ModelHostImpl host = host(Map.of());
        bind(host, "iris", 1);
        await().atMost(WAIT).until(() -> host.state("iris", 1) == ModelState.WAITING_FOR_ENGINE);
        assertFails(ModelNotReadyException.class, host.infer(request("iris", 1, 1f)));
        host.bindEngine(engine());
        awaitReady(host, "iris", 1);
        assertArrayEquals(new float[] {2f}, (float[]) infer(host, "iris", 1, 1f).outputs().get(0).data());
    }

    @Test
    void aLoadFailureMarksTheModelFailedWithTheReason() {
        ModelHostImpl host = host(Map.of());
        FakeEngine engine = engine();
        engine.loadFailure = "Fake cannot load iris.fake: not a model";
        host.bindEngine(engine);
        bind(host, "iris", 1);
        await().atMost(WAIT).until(() -> host.state("iris", 1) == ModelState.FAILED);
        assertEquals("Fake cannot load iris.fake: not a model", host.status("iris", 1).reason);
        ModelNotReadyException e = assertFails(ModelNotReadyException.class, host.infer(request("iris", 1, 1f)));
        assertTrue(e.getMessage().contains("iris:1"), e.getMessage());
        ModelStatusDTO listed = host.describe().loaded.get(0);
        assertEquals(ModelState.FAILED, listed.state);
        assertEquals("Fake cannot load iris.fake: not a model", listed.reason);
    }

    @Test
    void itHoldsOnlyTheModelsItsFilterAccepts() {
        ModelHostImpl host = host(Map.of("models", "iris*"));
        host.bindEngine(engine());
        bind(host, "iris-large", 1);
        bind(host, "digits", 1);
        awaitReady(host, "iris-large", 1);
        assertNull(host.state("digits", 1));
        assertEquals(List.of("iris-large"), host.describe().loaded.stream().map(s -> s.model).toList());
    }

    @Test
    void theIdComesFromTheConfigurationNameWhenNotSet() {
        assertEquals("mh7", host(Map.of(), Map.of("service.pid", "io.fractal.modelhost~mh7")).id());
        assertEquals("mh8", host(Map.of("id", " mh8 "), Map.of("service.pid", "io.fractal.modelhost~x")).id());
    }

    // ---- serving -------------------------------------------------------------------------------------------

    @Test
    void predictionsComeBackWithTheHostId() throws Exception {
        ModelHostImpl host = readyHost(Map.of("id", "mh2"), "iris", 1);
        InferenceResponse r = host.infer(new InferenceRequest("req-1", "iris", 1,
                List.of(Tensor.of("x", DataType.FP32, new long[] {3}, new float[] {1, 2, 3})), Set.of(),
                System.nanoTime())).get(5, TimeUnit.SECONDS);
        assertEquals("mh2", r.modelhost());
        assertEquals("req-1", r.id());
        assertEquals("iris", r.model());
        assertEquals(1, r.version());
        assertEquals(List.of("doubled", "sum"), r.outputs().stream().map(Tensor::name).toList());
        assertArrayEquals(new float[] {2, 4, 6}, (float[]) r.outputs().get(0).data());
        assertTrue(r.queueNanos() >= 0 && r.inferenceNanos() >= 0);
    }

    @Test
    void onlyTheRequestedOutputsAreReturned() throws Exception {
        ModelHostImpl host = readyHost(Map.of(), "iris", 1);
        InferenceResponse r = host.infer(new InferenceRequest(null, "iris", 1,
                List.of(Tensor.of("x", DataType.FP32, new long[] {2}, new float[] {1, 2})), Set.of("sum"),
                System.nanoTime())).get(5, TimeUnit.SECONDS);
        assertEquals(1, r.outputs().size());
        assertEquals("sum", r.outputs().get(0).name());
        assertArrayEquals(new float[] {3}, (float[]) r.outputs().get(0).data());
    }

    @Test
    void aRequestCancelledWhileQueuedLeavesTheQueueAndNeverRuns() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 1, "queue_capacity", 2, "drain_timeout_seconds", 1),
                "iris", 1);
        FakeEngine engine = engines.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> running = host.infer(request("iris", 1, 1f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        CompletableFuture<InferenceResponse> abandoned = host.infer(request("iris", 1, 2f));
        CompletableFuture<InferenceResponse> kept = host.infer(request("iris", 1, 3f));
        assertEquals(2, host.describe().queued);
        // its caller's deadline passed, or its client went away: the balancer cancels it
        abandoned.cancel(false);
        assertEquals(1, host.describe().queued, "a cancelled request frees its place in the queue at once");
        CompletableFuture<InferenceResponse> another = host.infer(request("iris", 1, 4f));
        assertFalse(another.isDone(), "the freed place takes a new request");
        engine.release();
        assertArrayEquals(new float[] {2f}, (float[]) running.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        assertArrayEquals(new float[] {6f}, (float[]) kept.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        assertArrayEquals(new float[] {8f}, (float[]) another.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        await().atMost(WAIT).until(() -> host.outstanding() == 0);
        assertEquals(3, engine.entered.get(), "the cancelled request never reached the model");
        assertEquals(3, host.describe().served);
    }

    @Test
    void aFullQueueRefusesTheThirdRequestWhileTheFirstTwoComplete() throws Exception {
        // drain_timeout_seconds 1: the refusal trips the use-count bug below, which stalls the teardown's drain.
        ModelHostImpl host = readyHost(Map.of("workers", 1, "queue_capacity", 1, "drain_timeout_seconds", 1),
                "iris", 1);
        FakeEngine engine = engines.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> first = host.infer(request("iris", 1, 1f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1); // the worker runs it
        CompletableFuture<InferenceResponse> second = host.infer(request("iris", 1, 2f));
        assertEquals(1, host.describe().queued);
        CompletableFuture<InferenceResponse> third = host.infer(request("iris", 1, 3f));
        CapacityExceededException e = assertFails(CapacityExceededException.class, third);
        assertTrue(e.getMessage().contains("queue is full"), e.getMessage());
        assertTrue(e.retryAfterSeconds() >= 1);
        assertEquals(2, host.outstanding());
        engine.release();
        assertArrayEquals(new float[] {2f}, (float[]) first.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        assertArrayEquals(new float[] {4f}, (float[]) second.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        await().atMost(WAIT).until(() -> host.outstanding() == 0);
        ModelHostDTO d = host.describe();
        assertEquals(2, d.served);
        assertEquals(1, d.rejected);
        assertEquals(0, d.failed);
    }

    @Test
    void aFailingPredictionFailsItsRequestAndIsCounted() {
        ModelHostImpl host = readyHost(Map.of(), "iris", 1);
        engines.get(0).predictFailure = new IllegalStateException("native crash");
        IllegalStateException e = assertFails(IllegalStateException.class, host.infer(request("iris", 1, 1f)));
        assertEquals("native crash", e.getMessage());
        await().atMost(WAIT).until(() -> host.describe().failed == 1);
        assertEquals(0, host.describe().served);
        assertEquals(ModelState.READY, host.state("iris", 1));
    }

    @Test
    void echoRunsOnAWorker() throws Exception {
        ModelHostImpl host = host(Map.of("id", "mh3"));
        EchoDTO echo = host.echo(List.of(1, 2)).get(5, TimeUnit.SECONDS);
        assertEquals(List.of(1, 2), echo.data);
        assertEquals("mh3", echo.modelhost);
        assertTrue(echo.worker.startsWith("fractal-mh3-worker-"), echo.worker);
    }

    @Test
    void describeReportsTheConfigurationAndCounters() throws Exception {
        ModelHostImpl host = readyHost(Map.of("id", "mh4", "workers", 3, "queue_capacity", 8, "models", "iris*"),
                "iris", 1);
        bind(host, "iris", 2);
        awaitReady(host, "iris", 2);
        for (int i = 0; i < 5; i++) {
            infer(host, "iris", 1, i);
        }
        ModelHostDTO d = host.describe();
        assertEquals("mh4", d.id);
        assertEquals("RUNNING", d.state);
        assertEquals(3, d.workers);
        assertEquals(8, d.queueCapacity);
        assertEquals("iris*", d.models);
        assertEquals(5, d.served);
        assertEquals(0, d.failed);
        assertEquals(0, d.rejected);
        assertEquals(0, d.queued);
        assertEquals(List.of("iris:1", "iris:2"), d.loaded.stream().map(s -> s.model + ":" + s.version).toList());
    }

    @Test
    void aDrainedHostRefusesNewRequestsUntilResumed() throws Exception {
        // drain_timeout_seconds 1: the refusal trips the use-count bug below, which stalls the teardown's drain.
        ModelHostImpl host = readyHost(Map.of("drain_timeout_seconds", 1), "iris", 1);
        host.drain();
        assertFalse(host.accepting());
        assertEquals("DRAINING", host.describe().state);
        assertFails(CapacityExceededException.class, host.infer(request("iris", 1, 1f)));
        host.resume();
        assertTrue(host.accepting());
        assertEquals("RUNNING", host.describe().state);
        infer(host, "iris", 1, 1f);
    }

    // ---- engines and versions coming and going ------------------------------------------------------------

    @Test
    void unbindingTheEngineLetsTheRunningRequestFinishThenClosesTheModel() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 1), "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel model = engine.loaded.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> running = host.infer(request("iris", 1, 21f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);

        CompletableFuture<Void> unbinding = CompletableFuture.runAsync(() -> host.unbindEngine(engine));
        await().atMost(WAIT).until(() -> host.state("iris", 1) == ModelState.WAITING_FOR_ENGINE);
        assertFails(ModelNotReadyException.class, host.infer(request("iris", 1, 1f)));
        assertEquals(0, model.closes.get(), "closed under a running request");
        assertThrows(java.util.concurrent.TimeoutException.class, () -> unbinding.get(100, TimeUnit.MILLISECONDS));

        engine.release();
        assertArrayEquals(new float[] {42f}, (float[]) running.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        unbinding.get(5, TimeUnit.SECONDS);
        assertEquals(1, model.closes.get());
        assertEquals(0, model.runningAtClose);
        assertEquals(1, model.completedAtClose);
        assertEquals(ModelState.WAITING_FOR_ENGINE, host.state("iris", 1));

        // An engine of that name returns: the model loads again and serves.
        FakeEngine returned = engine();
        host.bindEngine(returned);
        awaitReady(host, "iris", 1);
        assertEquals(1, returned.loads.get());
        assertArrayEquals(new float[] {6f}, (float[]) infer(host, "iris", 1, 3f).outputs().get(0).data());
        assertEquals(1, model.closes.get());
    }

    @Test
    void removingAVersionClosesItAfterItsRunningRequest() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 1), "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel model = engine.loaded.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> running = host.infer(request("iris", 1, 1f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        withdraw(host, "iris", 1);
        assertNull(host.state("iris", 1));
        assertFails(ModelNotReadyException.class, host.infer(request("iris", 1, 1f)));
        assertEquals(0, model.closes.get());
        engine.release();
        running.get(5, TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> model.closes.get() == 1);
        assertEquals(0, model.runningAtClose);
    }

    @Test
    void deactivateDrainsTheQueuedRequestsBeforeReturning() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 1, "queue_capacity", 10), "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel model = engine.loaded.get(0);
        engine.blockPredictions();
        List<CompletableFuture<InferenceResponse>> requests = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            requests.add(host.infer(request("iris", 1, i)));
        }
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        assertEquals(3, host.describe().queued);

        CompletableFuture<Void> deactivating = CompletableFuture.runAsync(host::deactivate);
        await().atMost(WAIT).until(() -> !host.accepting());
        assertThrows(java.util.concurrent.TimeoutException.class, () -> deactivating.get(100, TimeUnit.MILLISECONDS));

        engine.release();
        deactivating.get(10, TimeUnit.SECONDS);
        for (int i = 0; i < 4; i++) {
            CompletableFuture<InferenceResponse> r = requests.get(i);
            assertTrue(r.isDone() && !r.isCompletedExceptionally(), "request " + i + " was not served");
            assertArrayEquals(new float[] {2f * i}, (float[]) r.get().outputs().get(0).data());
        }
        assertEquals(1, model.closes.get());
        assertEquals(4, model.completedAtClose);
        assertEquals(4, host.describe().served);
    }

    // ---- a refused request must not upset the model's use count -------------------------------------------

    @Test
    void afterAQueueFullRefusalAnEngineLeavingStillLetsTheQueuedRequestFinish() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 1, "queue_capacity", 1), "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel model = engine.loaded.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> running = host.infer(request("iris", 1, 1f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        CompletableFuture<InferenceResponse> queued = host.infer(request("iris", 1, 2f));
        assertFails(CapacityExceededException.class, host.infer(request("iris", 1, 3f)));

        CompletableFuture<Void> unbinding = CompletableFuture.runAsync(() -> host.unbindEngine(engine));
        await().atMost(WAIT).until(() -> host.state("iris", 1) == ModelState.WAITING_FOR_ENGINE);
        engine.release();
        running.get(5, TimeUnit.SECONDS);
        unbinding.get(5, TimeUnit.SECONDS);
        // The queued request was accepted before the engine left: it must run on the model, not on a closed one.
        assertArrayEquals(new float[] {4f}, (float[]) queued.get(5, TimeUnit.SECONDS).outputs().get(0).data());
        assertEquals(2, model.completedAtClose, "the model was closed while a request was still queued on it");
    }

    @Test
    void afterADrainingRefusalARemovedVersionIsStillClosed() throws Exception {
        ModelHostImpl host = readyHost(Map.of(), "iris", 1);
        FakeEngine.FakeModel model = engines.get(0).loaded.get(0);
        host.drain();
        assertFails(CapacityExceededException.class, host.infer(request("iris", 1, 1f)));
        host.resume();
        withdraw(host, "iris", 1);
        // Nothing runs on it: it must close at once (else its native memory is never freed).
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertEquals(1, model.closes.get(),
                "the idle model was not closed"));
    }

    @Test
    void afterAQueueFullRefusalDeactivateStillClosesTheModelPromptly() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 1, "queue_capacity", 1, "drain_timeout_seconds", 3),
                "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel model = engine.loaded.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> first = host.infer(request("iris", 1, 1f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        CompletableFuture<InferenceResponse> second = host.infer(request("iris", 1, 2f));
        assertFails(CapacityExceededException.class, host.infer(request("iris", 1, 3f)));
        engine.release();
        first.get(5, TimeUnit.SECONDS);
        second.get(5, TimeUnit.SECONDS);
        long start = System.nanoTime();
        host.deactivate();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(1, model.closes.get(), "deactivate did not close the idle model");
        assertTrue(ms < 2000, "deactivate of an idle host waited " + ms + " ms (the drain timeout)");
    }

    // ---- the repository restarting: loaded models linger and are adopted again ------------------------------

    @Test
    void aVersionWhoseRepositoryStopsKeepsServingAndIsAdoptedWithoutReload() throws Exception {
        ModelHostImpl host = readyHost(Map.of(), "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel model = engine.loaded.get(0);
        FakeEngine.Artifact old = FakeEngine.Artifact.of("iris", 1);
        host.unbindArtifact(old, old.properties()); // the repository stops: no WITHDRAWN

        assertEquals(ModelState.READY, host.state("iris", 1));
        assertArrayEquals(new float[] {2f}, (float[]) infer(host, "iris", 1, 1f).outputs().get(0).data());

        FakeEngine.Artifact offeredAgain = new FakeEngine.Artifact("iris", 1, FakeEngine.NAME, Path.of("again.fake"),
                ModelSignature.UNKNOWN); // the new repository's service object
        host.bindArtifact(offeredAgain, offeredAgain.properties());
        assertEquals(ModelState.READY, host.state("iris", 1));
        assertArrayEquals(new float[] {4f}, (float[]) infer(host, "iris", 1, 2f).outputs().get(0).data());
        assertEquals(1, engine.loads.get(), "re-adopted, not loaded again");
        assertEquals(0, model.closes.get());

        // Adopted, it belongs to the new artifact: the old one's late unbind changes nothing, a withdrawal does.
        host.unbindArtifact(old, old.withdrawnProperties());
        assertEquals(ModelState.READY, host.state("iris", 1));
        host.updatedArtifact(offeredAgain, offeredAgain.withdrawnProperties());
        host.unbindArtifact(offeredAgain, offeredAgain.properties());
        assertNull(host.state("iris", 1));
        await().atMost(WAIT).until(() -> model.closes.get() == 1);
    }

    @Test
    void aVersionOfferedAgainWithOtherBytesIsLoadedAnew() throws Exception {
        ModelHostImpl host = readyHost(Map.of(), "iris", 1);
        FakeEngine engine = engines.get(0);
        FakeEngine.FakeModel first = engine.loaded.get(0);
        FakeEngine.Artifact a = FakeEngine.Artifact.of("iris", 1);
        host.unbindArtifact(a, a.properties());
        host.bindArtifact(a, a.properties("another checksum"));
        awaitReady(host, "iris", 1);
        assertEquals(2, engine.loads.get());
        await().atMost(WAIT).until(() -> first.closes.get() == 1);
        assertArrayEquals(new float[] {6f}, (float[]) infer(host, "iris", 1, 3f).outputs().get(0).data());
    }

    @Test
    void withoutAChecksumNothingIsAdopted() {
        ModelHostImpl host = host(Map.of());
        FakeEngine engine = engine();
        host.bindEngine(engine);
        FakeEngine.Artifact a = FakeEngine.Artifact.of("iris", 1);
        host.bindArtifact(a, a.properties(null));
        awaitReady(host, "iris", 1);
        host.unbindArtifact(a, a.properties(null));
        host.bindArtifact(a, a.properties(null));
        awaitReady(host, "iris", 1);
        assertEquals(2, engine.loads.get());
    }

    @Test
    void aLingeringVersionIsRetiredWhenTheLingerTimeEnds() throws Exception {
        ModelHostImpl host = readyHost(Map.of("linger_seconds", 1), "iris", 1);
        FakeEngine.FakeModel model = engines.get(0).loaded.get(0);
        FakeEngine.Artifact a = FakeEngine.Artifact.of("iris", 1);
        host.unbindArtifact(a, a.properties());
        assertEquals(ModelState.READY, host.state("iris", 1));
        await().atMost(WAIT).until(() -> host.state("iris", 1) == null);
        await().atMost(WAIT).until(() -> model.closes.get() == 1);
        assertFails(ModelNotReadyException.class, host.infer(request("iris", 1, 1f)));

        host.bindArtifact(a, a.properties()); // too late: loaded anew
        awaitReady(host, "iris", 1);
        assertEquals(2, engines.get(0).loads.get());
    }

    @Test
    void aWithdrawnVersionGoesAtOnceEvenIfItsUnbindCarriesTheOldProperties() throws Exception {
        ModelHostImpl host = readyHost(Map.of(), "iris", 1);
        FakeEngine.FakeModel model = engines.get(0).loaded.get(0);
        FakeEngine.Artifact a = FakeEngine.Artifact.of("iris", 1);
        host.updatedArtifact(a, a.withdrawnProperties());
        assertEquals(ModelState.READY, host.state("iris", 1), "marked, still serving until it is unregistered");
        host.unbindArtifact(a, a.properties());
        assertNull(host.state("iris", 1));
        await().atMost(WAIT).until(() -> model.closes.get() == 1);
    }

    @Test
    void withLingeringOffAVersionGoesWithItsArtifact() throws Exception {
        ModelHostImpl host = readyHost(Map.of("linger_seconds", 0), "iris", 1);
        FakeEngine.FakeModel model = engines.get(0).loaded.get(0);
        FakeEngine.Artifact a = FakeEngine.Artifact.of("iris", 1);
        host.unbindArtifact(a, a.properties());
        assertNull(host.state("iris", 1));
        await().atMost(WAIT).until(() -> model.closes.get() == 1);
    }

    // ---- a load its engine's departure voided -------------------------------------------------------------

    @Test
    void aLoadThatFailsAfterItsEngineLeftLeavesTheModelWaitingForTheEngine() throws Exception {
        ModelHostImpl host = host(Map.of());
        FakeEngine leaving = engine();
        leaving.loadGate = new CountDownLatch(1);
        leaving.loadFailure = "engine closed under the load";
        host.bindEngine(leaving);
        bind(host, "iris", 1);
        await().atMost(WAIT).until(() -> leaving.loads.get() == 1);
        host.unbindEngine(leaving);
        assertEquals(ModelState.WAITING_FOR_ENGINE, host.state("iris", 1));
        leaving.loadGate.countDown(); // its load now fails
        await().atMost(WAIT).until(() -> leaving.loadsEnded.get() == 1);

        FakeEngine returned = engine();
        host.bindEngine(returned);
        awaitReady(host, "iris", 1);
        assertArrayEquals(new float[] {2f}, (float[]) infer(host, "iris", 1, 1f).outputs().get(0).data());
        assertNull(host.status("iris", 1).reason);
    }

    // ---- state listeners ----------------------------------------------------------------------------------

    @Test
    void listenersHearEachStateChangeInOrderAndTheCurrentStatesWhenTheyJoin() throws Exception {
        ModelHostImpl host = readyHost(Map.of("id", "mh5"), "iris", 1);
        Recorder late = new Recorder();
        host.bindStateListener(objects(late));
        await().atMost(WAIT).until(() -> late.events.contains("mh5 iris:1 READY"));

        Recorder failing = new Recorder();
        failing.failure = new IllegalStateException("a listener's bug");
        host.bindStateListener(objects(failing));
        FakeEngine engine = engines.get(0);
        engine.loadGate = new CountDownLatch(1);
        bind(host, "iris", 2);
        engine.loadGate.countDown();
        awaitReady(host, "iris", 2);
        withdraw(host, "iris", 1);
        await().atMost(WAIT).until(() -> late.events.contains("mh5 iris:1 DRAINING")
                && failing.events.contains("mh5 iris:1 DRAINING"));
        assertEquals(List.of("mh5 iris:1 READY", "mh5 iris:2 WAITING_FOR_ENGINE", "mh5 iris:2 LOADING",
                "mh5 iris:2 READY", "mh5 iris:1 DRAINING"), late.events);
        assertEquals(late.events, failing.events, "a listener that throws still hears everything");
        assertTrue(late.threads.stream().allMatch(t -> t.equals("fractal-mh5-events")), late.threads.toString());

        host.unbindStateListener(objects(late));
        withdraw(host, "iris", 2);
        await().atMost(WAIT).until(() -> failing.events.contains("mh5 iris:2 DRAINING"));
        assertFalse(late.events.contains("mh5 iris:2 DRAINING"), "an unbound listener hears no more");
        await().atMost(WAIT).until(() -> uses.get(late).get() == 0); // its service was released
    }

    @Test
    void listenersHearAFailedLoadWithItsReason() {
        ModelHostImpl host = host(Map.of("id", "mh6"));
        Recorder listener = new Recorder();
        host.bindStateListener(objects(listener));
        FakeEngine engine = engine();
        engine.loadFailure = "not a model";
        host.bindEngine(engine);
        bind(host, "iris", 1);
        await().atMost(WAIT).until(() -> listener.events.contains("mh6 iris:1 FAILED"));
        assertEquals("not a model", listener.last.reason);
    }

    // ---- stopping: nothing queued is lost, nothing is left behind -----------------------------------------

    @Test
    void afterTheDrainTimeoutWhatIsStillQueuedIsRefusedWith503() throws Exception {
        ModelHostImpl host = readyHost(Map.of("id", "mh7", "workers", 1, "queue_capacity", 10,
                "drain_timeout_seconds", 1), "iris", 1);
        FakeEngine engine = engines.get(0);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> running = host.infer(request("iris", 1, 1f));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        List<CompletableFuture<InferenceResponse>> queued = List.of(host.infer(request("iris", 1, 2f)),
                host.infer(request("iris", 1, 3f)));
        host.deactivate(); // waits the drain timeout, then refuses what is still queued
        for (CompletableFuture<InferenceResponse> q : queued) {
            CapacityExceededException e = assertFails(CapacityExceededException.class, q);
            assertTrue(e.getMessage().contains("stopped"), e.getMessage());
        }
        engine.release();
        assertArrayEquals(new float[] {2f}, (float[]) running.get(5, TimeUnit.SECONDS).outputs().get(0).data());
    }

    @Test
    void requestsArrivingWhileTheHostStopsAreAllAnswered() throws Exception {
        ModelHostImpl host = readyHost(Map.of("workers", 2, "queue_capacity", 1000), "iris", 1);
        List<CompletableFuture<InferenceResponse>> answers = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean sending = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread client = new Thread(() -> {
            while (sending.get() && answers.size() < 200_000) {
                answers.add(host.infer(request("iris", 1, 1f)));
            }
        });
        client.start();
        await().atMost(WAIT).until(() -> answers.size() > 100);
        host.deactivate();
        sending.set(false);
        client.join(5000);
        for (CompletableFuture<InferenceResponse> a : answers) {
            try {
                assertArrayEquals(new float[] {2f}, (float[]) a.get(5, TimeUnit.SECONDS).outputs().get(0).data());
            } catch (ExecutionException e) {
                // refused (the balancer retries elsewhere), or after the stop: not here
                assertTrue(e.getCause() instanceof CapacityExceededException
                        || e.getCause() instanceof ModelNotReadyException, e.getCause().toString());
            }
        }
    }

    @Test
    void stoppingEndsEveryThreadOfTheHostAndRemovesItsMetrics() throws Exception {
        ModelHostImpl host = readyHost(Map.of("id", "mh8"), "iris", 1);
        RecordingMetrics metrics = new RecordingMetrics();
        host.bindMetrics(metrics);
        assertTrue(metrics.gauges.contains("fractal_modelhost_queued"));
        Recorder listener = new Recorder();
        host.bindStateListener(objects(listener));
        infer(host, "iris", 1, 1f);
        assertFalse(threads("fractal-mh8-").isEmpty());
        host.deactivate();
        await().atMost(WAIT).until(() -> threads("fractal-mh8-").isEmpty());
        assertEquals(List.of("modelhost=mh8"), metrics.removed);
        await().atMost(WAIT).until(() -> listener.events.contains("mh8 iris:1 DRAINING"));
        assertEquals(0, uses.get(listener).get(), "the listener's service was released");
    }

    @Test
    void aMetricsServiceThatGoesLosesThisHostsSeries() {
        ModelHostImpl host = host(Map.of("id", "mh9"));
        RecordingMetrics first = new RecordingMetrics();
        RecordingMetrics second = new RecordingMetrics();
        host.bindMetrics(first);
        host.bindMetrics(second); // a greedy replacement: bound before the old one is unbound
        host.unbindMetrics(first);
        assertEquals(List.of("modelhost=mh9"), first.removed);
        assertEquals(List.of(), second.removed);
        assertTrue(second.gauges.contains("fractal_modelhost_inflight"));
    }

    /** The service objects Declarative Services hands over for a listener: one per listener, counting its uses. */
    private final Map<ModelStateListener, ComponentServiceObjects<ModelStateListener>> objects = new HashMap<>();
    private final Map<ModelStateListener, java.util.concurrent.atomic.AtomicInteger> uses = new HashMap<>();

    @SuppressWarnings("unchecked")
    private ComponentServiceObjects<ModelStateListener> objects(ModelStateListener listener) {
        java.util.concurrent.atomic.AtomicInteger inUse = uses.computeIfAbsent(listener,
                l -> new java.util.concurrent.atomic.AtomicInteger());
        ServiceReference<ModelStateListener> ref = (ServiceReference<ModelStateListener>) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ServiceReference.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "ServiceReference[" + listener + "]";
                });
        return objects.computeIfAbsent(listener, l -> new ComponentServiceObjects<>() {
            @Override
            public ModelStateListener getService() {
                inUse.incrementAndGet();
                return l;
            }

            @Override
            public void ungetService(ModelStateListener service) {
                inUse.decrementAndGet();
            }

            @Override
            public ServiceReference<ModelStateListener> getServiceReference() {
                return ref;
            }
        });
    }

    /** A listener that records "host model:version STATE", and the threads it was called on. */
    private static final class Recorder implements ModelStateListener {
        final List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile ModelStatusDTO last;
        volatile RuntimeException failure;

        @Override
        public void stateChanged(String modelhost, ModelStatusDTO status) {
            events.add(modelhost + " " + status.model + ":" + status.version + " " + status.state);
            threads.add(Thread.currentThread().getName());
            last = status;
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Metrics that record gauges and removals. */
    private static final class RecordingMetrics implements FractalMetrics {
        final List<String> gauges = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<String> removed = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public Counter counter(String name, String... labels) {
            return new Counter() {
                @Override
                public void inc() {
                }

                @Override
                public void inc(long n) {
                }
            };
        }

        @Override
        public Timer timer(String name, String... labels) {
            return nanos -> { };
        }

        @Override
        public Histogram histogram(String name, String... labels) {
            return value -> { };
        }

        @Override
        public void gauge(String name, java.util.function.Supplier<? extends Number> value, String... labels) {
            gauges.add(name);
        }

        @Override
        public void remove(String name, String... labels) {
            removed.add(name);
        }

        @Override
        public void removeAll(String labelName, String labelValue) {
            removed.add(labelName + "=" + labelValue);
        }

        @Override
        public java.util.SortedMap<String, Double> samples(String namePrefix) {
            return new java.util.TreeMap<>();
        }
    }

    private static List<String> threads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith(prefix)).toList();
    }

    // ---- running on the caller's thread, dynamic batching --------------------------------------------------

    @Test
    void aQuickModelsRequestRunsOnItsCallersThreadWhenAWorkerIsFreeAndNobodyIsQueued() {
        // quick: any measured call under a second (a fake model's call takes microseconds, more on a busy machine)
        ModelHostImpl host = host(Map.of("id", "mh-caller", "workers", 1, "run_on_caller", true,
                "run_on_caller_max_us", 1_000_000L));
        FakeEngine engine = irisReady(host);
        // not measured yet (no warm-up here): on a worker, where a slow model would hold up no caller
        assertArrayEquals(new float[] {2}, host.infer(request("iris", 1, 1)).join().outputs().get(0).toFloats());
        assertNotEquals(Thread.currentThread(), engine.predictionThreads.get(0));
        CompletableFuture<InferenceResponse> f = host.infer(request("iris", 1, 3));
        assertTrue(f.isDone(), "answered before infer returned: no hand-off to a worker");
        assertEquals(Thread.currentThread(), engine.predictionThreads.get(1));
        assertArrayEquals(new float[] {6}, f.join().outputs().get(0).toFloats());
        assertEquals(0, host.outstanding());
    }

    @Test
    void aModelMeasuredQuickByItsWarmUpRunsItsFirstRequestOnTheCaller() {
        ModelHostImpl host = host(Map.of("id", "mh-warm-caller", "workers", 1, "run_on_caller", true,
                "warmup_calls", 2, "run_on_caller_max_us", 1_000_000L));
        FakeEngine engine = irisReady(host);
        CompletableFuture<InferenceResponse> f = host.infer(request("iris", 1, 3));
        assertTrue(f.isDone());
        assertEquals(Thread.currentThread(), engine.predictionThreads.get(2)); // after the two warm-up calls
    }

    @Test
    void aSlowModelsRequestsRunOnTheWorkersAndLeaveTheCallersThreadAtOnce() {
        ModelHostImpl host = host(Map.of("id", "mh-slow-caller", "workers", 2, "run_on_caller", true,
                "warmup_calls", 1, "run_on_caller_max_us", 2000L));
        FakeEngine engine = engine();
        engine.predictMillis = 20; // typically 20 ms a call: more than the 2 ms the caller's thread may give
        host.bindEngine(engine);
        bind(host, "iris", 1);
        awaitReady(host, "iris", 1);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(new float[] {2 * i}, host.infer(request("iris", 1, i)).join().outputs().get(0)
                    .toFloats());
        }
        assertEquals(4, engine.predictionThreads.size());
        engine.predictionThreads.subList(1, 4).forEach(t -> assertNotEquals(Thread.currentThread(), t));
        // the same model turned quick runs on the caller within a few calls (the typical call is an average)
        engine.predictMillis = 0;
        await().atMost(WAIT).until(() -> {
            host.infer(request("iris", 1, 1)).join();
            return engine.predictionThreads.get(engine.predictionThreads.size() - 1) == Thread.currentThread();
        });
    }

    @Test
    void aRequestOfManyMoreRowsThanUsualRunsOnTheWorkers() {
        ModelHostImpl host = host(Map.of("id", "mh-rows-caller", "workers", 1, "run_on_caller", true,
                "warmup_calls", 1, "run_on_caller_max_us", 100_000L));
        FakeEngine engine = engine();
        engine.predictMillis = 2; // a call of one row: about 2 ms, far under the 100 ms the caller's thread may give
        host.bindEngine(engine);
        bind(host, "iris", 1);
        awaitReady(host, "iris", 1);
        host.infer(request("iris", 1, 1)).join();
        assertEquals(Thread.currentThread(), engine.predictionThreads.get(engine.predictionThreads.size() - 1));
        // 200 rows at what a row has cost so far would take 400 ms: the workers take it, not the caller's thread
        InferenceRequest many = InferenceRequest.of("iris", 1, List.of(Tensor.of("x", DataType.FP32,
                new long[] {200}, new float[200])));
        assertEquals(200, host.infer(many).join().outputs().get(0).toFloats().length);
        assertNotEquals(Thread.currentThread(), engine.predictionThreads.get(engine.predictionThreads.size() - 1));
        // and one row again is quick
        host.infer(request("iris", 1, 1)).join();
        assertEquals(Thread.currentThread(), engine.predictionThreads.get(engine.predictionThreads.size() - 1));
    }

    @Test
    void aQuickModelWithLargeAnswersRunsOnTheWorkersWhichWriteThem() {
        ModelHostImpl host = host(Map.of("id", "mh-large-caller", "workers", 1, "run_on_caller", true,
                "run_on_caller_max_us", 20_000L));
        FakeEngine engine = irisReady(host);
        // a call of a few ms, but a million output elements to write (about 50 ms of JSON): not on the caller's thread
        InferenceRequest large = InferenceRequest.of("iris", 1, List.of(Tensor.of("x", DataType.FP32,
                new long[] {1, 1_000_000}, new float[1_000_000])));
        for (int i = 0; i < 3; i++) {
            assertEquals(1_000_000, host.infer(large).join().outputs().get(0).toFloats().length);
        }
        engine.predictionThreads.forEach(t -> assertNotEquals(Thread.currentThread(), t));
    }

    @Test
    void queuedRequestsOfAVersionThatBatchesRunAsOneCallAndEachGetsItsOwnRows() {
        batching.put("iris.max_batch_size", 4);
        ModelHostImpl host = host(Map.of("id", "mh-batch", "workers", 1, "queue_capacity", 16));
        FakeEngine engine = irisReady(host);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> first = host.infer(rows("iris", 1, 1));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        List<CompletableFuture<InferenceResponse>> queued = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            queued.add(host.infer(rows("iris", 1, 10 * (i + 1))));
        }
        engine.release();
        assertArrayEquals(new float[] {2, 4}, first.join().outputs().get(0).toFloats());
        for (int i = 0; i < 6; i++) {
            float x = 10 * (i + 1);
            InferenceResponse r = queued.get(i).join();
            assertArrayEquals(new long[] {1, 2}, r.outputs().get(0).shape());
            assertArrayEquals(new float[] {2 * x, 2 * (x + 1)}, r.outputs().get(0).toFloats(), "request " + i);
            assertArrayEquals(new float[] {2 * x + 1}, r.outputs().get(1).toFloats(), "request " + i);
        }
        // the first alone (nothing was queued), then batches of at most 4 rows in the order they came
        assertEquals(List.of(1L, 4L, 2L), engine.rowsSeen);
        assertEquals(4, host.status("iris", 1).batching.maxBatchSize());
    }

    @Test
    void aBatchingVersionsRequestRunsOnItsCallersThreadWhileFewOthersWaitForThatThread() {
        ModelHostImpl host = batchingOnTheCaller("mh-backlog");
        FakeEngine engine = irisReady(host);
        host.infer(rows("iris", 1, 1)).join(); // measured: a quick model
        engine.predictMillis = 3000; // the next call, on a worker, runs for 3 s
        try {
            // five other clients wait for this thread: the request queues, and the thread is free to read them
            ThreadBacklog.bind(() -> 5);
            CompletableFuture<InferenceResponse> queued = host.infer(rows("iris", 1, 2));
            assertFalse(queued.isDone());
            await().atMost(WAIT).until(() -> engine.entered.get() == 2);
            engine.predictMillis = 0;
            assertFalse(queued.isDone(), "its call runs for 3 s");
            // two wait: a batch of three would not pay for the hand-off; it runs here, although a call of its
            // version runs (the rule when the caller cannot tell would queue it)
            ThreadBacklog.bind(() -> 2);
            CompletableFuture<InferenceResponse> here = host.infer(rows("iris", 1, 3));
            assertTrue(here.isDone(), "answered before infer returned: no hand-off");
            assertEquals(Thread.currentThread(), engine.predictionThreads.get(2));
            assertArrayEquals(new float[] {6, 8}, here.join().outputs().get(0).toFloats());
            assertArrayEquals(new float[] {4, 6}, queued.join().outputs().get(0).toFloats());
            assertNotEquals(Thread.currentThread(), engine.predictionThreads.get(1));
        } finally {
            ThreadBacklog.bind(null);
        }
    }

    @Test
    void aBatchingVersionsRequestQueuesWhileOthersWaitForItsCallerOrTheCallerCannotTellAndACallRuns() {
        ModelHostImpl host = batchingOnTheCaller("mh-backlog-queue");
        FakeEngine engine = irisReady(host);
        host.infer(rows("iris", 1, 1)).join(); // measured: a quick model
        engine.blockPredictions(); // a call runs until released (one run here would block this thread)
        try {
            // nothing runs, a worker is free, but three wait for this thread: queued all the same
            ThreadBacklog.bind(() -> 3);
            CompletableFuture<InferenceResponse> first = host.infer(rows("iris", 1, 10));
            assertFalse(first.isDone(), "queued, not run on the caller's thread");
            await().atMost(WAIT).until(() -> engine.entered.get() == 2);
            // a caller that says nothing (a pool thread, another node): queued while a call of the version runs
            ThreadBacklog.bind(null);
            assertEquals(-1, ThreadBacklog.waiting());
            CompletableFuture<InferenceResponse> second = host.infer(rows("iris", 1, 20));
            assertFalse(second.isDone(), "queued, not run on the caller's thread");
            engine.release();
            assertArrayEquals(new float[] {20, 22}, first.join().outputs().get(0).toFloats());
            assertArrayEquals(new float[] {40, 42}, second.join().outputs().get(0).toFloats());
            engine.predictionThreads.subList(1, 3).forEach(t -> assertNotEquals(Thread.currentThread(), t));
        } finally {
            ThreadBacklog.bind(null);
            engine.release();
        }
    }

    /** A host of 2 workers that runs quick models on the caller's thread, iris batched up to 4 rows. */
    private ModelHostImpl batchingOnTheCaller(String id) {
        batching.put("iris.max_batch_size", 4);
        return host(Map.of("id", id, "workers", 2, "run_on_caller", true, "run_on_caller_max_us", 1_000_000L));
    }

    @Test
    void requestsOfOtherShapesOrTooManyRowsAreNotBatched() {
        batching.put("iris.max_batch_size", "3");
        ModelHostImpl host = host(Map.of("id", "mh-shapes", "workers", 1, "queue_capacity", 16));
        FakeEngine engine = irisReady(host);
        assertFails(InvalidInputException.class, host.infer(InferenceRequest.of("iris", 1, List.of(
                Tensor.of("x", DataType.FP32, new long[] {4, 1}, new float[4])))));
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> first = host.infer(rows("iris", 1, 1));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        CompletableFuture<InferenceResponse> a = host.infer(rows("iris", 1, 5));
        CompletableFuture<InferenceResponse> wide = host.infer(InferenceRequest.of("iris", 1, List.of(
                Tensor.of("x", DataType.FP32, new long[] {1, 3}, new float[] {1, 2, 3}))));
        CompletableFuture<InferenceResponse> b = host.infer(rows("iris", 1, 7));
        engine.release();
        assertArrayEquals(new float[] {6}, wide.join().outputs().get(1).toFloats());
        assertArrayEquals(new float[] {11}, a.join().outputs().get(1).toFloats());
        assertArrayEquals(new float[] {15}, b.join().outputs().get(1).toFloats());
        first.join();
        assertEquals(List.of(1L, 2L, 1L), engine.rowsSeen); // a and b together, the wide one alone
    }

    @Test
    void aBatchWhoseOutputsDoNotFollowItsRowsRunsOneByOne() {
        batching.put("iris.max_batch_size", 8);
        ModelHostImpl host = host(Map.of("id", "mh-nosplit", "workers", 1, "queue_capacity", 16));
        FakeEngine engine = irisReady(host);
        engine.blockPredictions();
        CompletableFuture<InferenceResponse> first = host.infer(request("iris", 1, 1));
        await().atMost(WAIT).until(() -> engine.entered.get() == 1);
        List<CompletableFuture<InferenceResponse>> queued = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            queued.add(host.infer(request("iris", 1, i + 2)));
        }
        engine.release();
        first.join();
        for (int i = 0; i < 3; i++) {
            // "sum" is one number for the whole call: the batch's would not split back, so each ran on its own
            assertArrayEquals(new float[] {i + 2}, queued.get(i).join().outputs().get(1).toFloats());
        }
        assertEquals(List.of(1L, 3L, 1L, 1L, 1L), engine.rowsSeen);
    }

    @Test
    void aModelIsWarmedUpWithZerosBeforeItIsReady() {
        ModelHostImpl host = host(Map.of("id", "mh-warm", "warmup_calls", 3));
        FakeEngine engine = irisReady(host);
        assertEquals(List.of(1L, 1L, 1L), engine.rowsSeen); // one row of zeros, three times, before READY
        assertEquals(3, engine.entered.get());
    }

    /** Binds a new engine and iris:1 to the host, and waits until iris is READY; returns the engine. */
    private FakeEngine irisReady(ModelHostImpl host) {
        FakeEngine engine = engine();
        host.bindEngine(engine);
        bind(host, "iris", 1);
        awaitReady(host, "iris", 1);
        return engine;
    }

    private static InferenceRequest rows(String model, int version, float x) {
        return InferenceRequest.of(model, version, List.of(Tensor.of("x", DataType.FP32, new long[] {1, 2},
                new float[] {x, x + 1})));
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private static FakeEngine.Artifact bind(ModelHostImpl host, String model, int version) {
        FakeEngine.Artifact a = FakeEngine.Artifact.of(model, version);
        host.bindArtifact(a, a.properties());
        return a;
    }

    /** What Declarative Services does when the repository withdraws a version: properties updated, then unbound. */
    private static void withdraw(ModelHostImpl host, String model, int version) {
        FakeEngine.Artifact a = FakeEngine.Artifact.of(model, version);
        host.updatedArtifact(a, a.withdrawnProperties());
        host.unbindArtifact(a, a.withdrawnProperties());
    }

    private FakeEngine engine() {
        FakeEngine e = new FakeEngine();
        engines.add(e);
        return e;
    }

    private ModelHostImpl host(Map<String, Object> settings) {
        return host(settings, Map.of("service.pid", "io.fractal.modelhost~test"));
    }

    private ModelHostImpl host(Map<String, Object> settings, Map<String, Object> properties) {
        Map<String, Object> withTimeout = new HashMap<>(settings);
        withTimeout.putIfAbsent("drain_timeout_seconds", 2); // keeps a stuck drain from stalling the suite
        // Requests run on the host's workers, so that a test blocking predictions never blocks its own thread; the
        // tests of running on the caller's thread ask for it.
        withTimeout.putIfAbsent("run_on_caller", false);
        withTimeout.putIfAbsent("warmup_calls", 0); // the tests count the calls their models get
        ModelHostImpl h = new ModelHostImpl(config(withTimeout), properties);
        h.bindBatchingSettings(new BatchingSettings(batching));
        hosts.add(h);
        return h;
    }

    private ModelHostImpl readyHost(Map<String, Object> settings, String model, int version) {
        ModelHostImpl h = host(settings);
        h.bindEngine(engine());
        bind(h, model, version);
        awaitReady(h, model, version);
        return h;
    }

    private static void awaitReady(ModelHostImpl host, String model, int version) {
        await().atMost(WAIT).until(() -> host.state(model, version) == ModelState.READY);
    }

    private static InferenceRequest request(String model, int version, float x) {
        return InferenceRequest.of(model, version, List.of(Tensor.of("x", DataType.FP32, new long[] {1},
                new float[] {x})));
    }

    private static InferenceResponse infer(ModelHostImpl host, String model, int version, float x) throws Exception {
        return host.infer(request(model, version, x)).get(5, TimeUnit.SECONDS);
    }

    private static <T extends Throwable> T assertFails(Class<T> type, CompletableFuture<?> future) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(5, TimeUnit.SECONDS));
        return assertInstanceOf(type, e.getCause());
    }

    /** The configuration annotation as Declarative Services builds it: the given values, else the defaults. */
    static ModelHostConfiguration config(Map<String, Object> values) {
        Map<String, Object> v = new HashMap<>(values);
        return (ModelHostConfiguration) Proxy.newProxyInstance(ModelHostConfiguration.class.getClassLoader(),
                new Class<?>[] {ModelHostConfiguration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "annotationType" -> ModelHostConfiguration.class;
                    case "toString" -> "ModelHostConfiguration" + v;
                    case "hashCode" -> v.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> v.containsKey(method.getName()) ? v.get(method.getName()) : method.getDefaultValue();
                });
    }
}
