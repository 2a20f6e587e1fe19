package io.fractal.inferrer.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ServingTest {

    private volatile InferrerConfiguration config = Fakes.config(Map.of("grace_ms", 5000L));
    private volatile FractalMetrics metrics;
    private final Deadlines deadlines = new Deadlines("test-deadlines");
    private final DynamicService<ModelRepository> repository = new DynamicService<>("the model repository",
            () -> config.grace_ms(), deadlines);
    private final DynamicService<LoadBalancer> balancer = new DynamicService<>("the balancer",
            () -> config.grace_ms(), deadlines);
    private final Serving serving = new Serving(repository, balancer, () -> metrics, () -> config, deadlines,
            new ServingStats());
    private final Fakes.Repository repo = new Fakes.Repository().with("iris", 2, 1);

    // ---- services that come and go -------------------------------------------------------------------------

    @Test
    void aPredictionWaitsForTheBalancerWhileItIsAwayAndRunsOnTheNextOne() throws Exception {
        repository.bind(repo);
        Fakes.Balancer old = new Fakes.Balancer("old");
        balancer.bind(old);
        assertEquals("old", predict().get(1, TimeUnit.SECONDS).response().modelhost());

        balancer.unbind(old); // the balancer bundle is being updated
        CompletableFuture<Serving.Served> waiting = predict();
        assertThrows(TimeoutException.class, () -> waiting.get(100, TimeUnit.MILLISECONDS));
        balancer.bind(new Fakes.Balancer("new"));
        assertEquals("new", waiting.get(2, TimeUnit.SECONDS).response().modelhost());
        assertEquals(1, old.requests.size());
    }

    @Test
    void aPredictionWaitsForTheRepositoryToo() throws Exception {
        balancer.bind(new Fakes.Balancer("b"));
        CompletableFuture<Serving.Served> waiting = predict();
        assertThrows(TimeoutException.class, () -> waiting.get(100, TimeUnit.MILLISECONDS));
        repository.bind(repo);
        InferenceResponse r = waiting.get(2, TimeUnit.SECONDS).response();
        assertEquals("iris", r.model());
        assertEquals(1, r.version());
    }

    @Test
    void aServiceThatStaysAwayAnswers503AfterTheGrace() {
        config = Fakes.config(Map.of("grace_ms", 150L));
        repository.bind(repo);
        long start = System.nanoTime();
        CapacityExceededException e = assertFails(CapacityExceededException.class, predict());
        assertTrue(e.getMessage().startsWith("the balancer is not available"), e.getMessage());
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(150));
    }

    @Test
    void aRefusalByABalancerThatWasBeingReplacedGoesToTheNewOne() throws Exception {
        repository.bind(repo);
        Fakes.Balancer old = new Fakes.Balancer("old");
        old.behaviour = r -> {
            // the old instance finished deactivating between the lookup and the call: it refuses
            balancer.unbind(old);
            return CompletableFuture.failedFuture(new CapacityExceededException("the balancer stopped", 1));
        };
        balancer.bind(old);
        CompletableFuture<Serving.Served> answer = predict();
        assertThrows(TimeoutException.class, () -> answer.get(100, TimeUnit.MILLISECONDS));
        balancer.bind(new Fakes.Balancer("new"));
        assertEquals("new", answer.get(2, TimeUnit.SECONDS).response().modelhost());
    }

    @Test
    void aDefaultVersionReplacedBetweenResolvingAndRoutingIsFollowed() throws Exception {
        repository.bind(repo);
        Fakes.Balancer b = new Fakes.Balancer("b");
        b.behaviour = r -> {
            if (r.version() == 1) {
                repo.setDefault("iris", 2);
                return CompletableFuture.failedFuture(new ModelNotReadyException("no modelhost serves model iris:1"));
            }
            return b.answer(r);
        };
        balancer.bind(b);
        assertEquals(2, predict().get(1, TimeUnit.SECONDS).response().version());
    }

    // ---- deadlines -----------------------------------------------------------------------------------------

    @Test
    void aPredictionNeverOutlivesItsDeadline() throws Exception {
        config = Fakes.config(Map.of("request_timeout_ms", 200L));
        repository.bind(repo);
        Fakes.Balancer silent = Fakes.Balancer.silent("silent");
        balancer.bind(silent);
        long start = System.nanoTime();
        CompletableFuture<Serving.Served> answer = serving.infer(new ModelRef("iris", null), null, s -> input(),
                Set.of(), serving.timeoutMillis(null, null));
        ExecutionException e = assertThrows(ExecutionException.class, () -> answer.get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(tookMs >= 200 && tookMs < 3000, "timed out after " + tookMs + " ms");
        // the balancer's request is let go, so a request still waiting there is not run for nobody
        assertTrue(silent.answers.get(0).isCancelled());
    }

    @Test
    void theDeadlineCoversTheWaitForAnAbsentService() {
        config = Fakes.config(Map.of("grace_ms", 10_000L));
        repository.bind(repo);
        CompletableFuture<Serving.Served> answer = serving.infer(new ModelRef("iris", null), null, s -> input(),
                Set.of(), 150);
        ExecutionException e = assertThrows(ExecutionException.class, () -> answer.get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
    }

    @Test
    void aClientMayAskForAShorterDeadlineButNotALongerOne() {
        config = Fakes.config(Map.of("request_timeout_ms", 30_000L));
        assertEquals(30_000, serving.timeoutMillis(null, null));
        assertEquals(30_000, serving.timeoutMillis(" ", null));
        assertEquals(250, serving.timeoutMillis("250", null));
        assertEquals(30_000, serving.timeoutMillis("90000", null));
        assertEquals(2, serving.timeoutMillis(null, 1_001L)); // Triton's microseconds, rounded up
        assertEquals(1, serving.timeoutMillis(null, 1L));
        assertEquals(30_000, serving.timeoutMillis(null, 0L)); // 0: no timeout asked for
        assertEquals(100, serving.timeoutMillis("100", 500_000L));
        assertEquals(500, serving.timeoutMillis("900", 500_000L));
        for (String bad : List.of("soon", "0", "-5", "1.5")) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> serving.timeoutMillis(bad, null));
            assertTrue(e.getMessage().contains(Serving.TIMEOUT_HEADER), e.getMessage());
        }
    }

    // ---- metrics and signatures ----------------------------------------------------------------------------

    @Test
    void aMetricsServiceThatFailsNeverFailsAPrediction() throws Exception {
        repository.bind(repo);
        balancer.bind(new Fakes.Balancer("b"));
        AtomicInteger attempts = new AtomicInteger();
        metrics = (FractalMetrics) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {FractalMetrics.class}, (proxy, method, args) -> {
                    attempts.incrementAndGet();
                    throw new IllegalStateException("the metrics service was unregistered");
                });
        assertEquals("b", predict().get(1, TimeUnit.SECONDS).response().modelhost());
        assertEquals(1, attempts.get());
    }

    @Test
    void signaturesAreKeptOncePerVersionAndTheirNumberIsBounded() {
        int versions = Serving.MAX_SIGNATURES + 40;
        Fakes.Repository many = new Fakes.Repository().with("m", versions, 1);
        repository.bind(many);
        Fakes.Balancer b = new Fakes.Balancer("b");
        b.signature = new ModelSignature(List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 4})), List.of(),
                List.of());
        balancer.bind(b);
        for (int v = 1; v <= versions; v++) {
            ModelSignature s = serving.signature(Fakes.Repository.version("m", v));
            assertEquals("x", s.inputs().get(0).name());
            assertTrue(serving.signaturesKept() <= Serving.MAX_SIGNATURES, serving.signaturesKept() + " kept");
        }

        // versions that are gone are the first dropped
        many.with("m", 3, 1);
        serving.signature(Fakes.Repository.version("m", 1));
        while (serving.signaturesKept() < Serving.MAX_SIGNATURES) {
            serving.signature(Fakes.Repository.version("other", serving.signaturesKept() + 1));
        }
        serving.signature(Fakes.Repository.version("m", 2));
        assertTrue(serving.signaturesKept() < Serving.MAX_SIGNATURES / 2, serving.signaturesKept() + " kept");
    }

    // ---- signatures learned from a first call ------------------------------------------------------------

    private static final String FILE_AND_CALL = ModelSignature.MODEL_FILE + " + " + ModelSignature.FIRST_CALL;
    /** What the PyTorch engine reads from a bare TorchScript file: the names of forward's arguments. */
    private static final ModelSignature NAMES_ONLY = new ModelSignature(
            List.of(new TensorSpec("x", null, null), new TensorSpec("y", null, null)), List.of(), List.of(),
            ModelSignature.MODEL_FILE);
    /** And what its first call completes. */
    private static final ModelSignature COMPLETED = new ModelSignature(
            List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 3}),
                    new TensorSpec("y", DataType.FP32, new long[] {-1, 3})),
            List.of(new TensorSpec("output0", DataType.FP32, new long[] {-1, 3})), List.of(), FILE_AND_CALL);

    @Test
    void aSignatureAFirstCallCompletedIsGivenToTheRepositoryOnce() {
        serving.learning = Runnable::run;
        repository.bind(repo);
        Fakes.Balancer b = new Fakes.Balancer("b");
        b.signature = COMPLETED;
        balancer.bind(b);
        for (int i = 0; i < 5; i++) {
            assertEquals(COMPLETED, serving.signature(Fakes.Repository.version("iris", 1)), "a stale DTO, each time");
        }
        assertEquals(List.of("iris:1"), repo.learned);
        assertEquals(COMPLETED.withOrigin(ModelSignature.FIRST_CALL), repo.resolve("iris", 1).learned);
        // from now on the repository's DTO says it is kept: nobody asks again, cached or not
        Serving fresh = new Serving(repository, balancer, () -> metrics, () -> config, deadlines, new ServingStats());
        fresh.learning = Runnable::run;
        assertEquals(COMPLETED, fresh.signature(repo.resolve("iris", 1)));
        assertEquals(List.of("iris:1"), repo.learned);

        // a signature complete without a call (declared, or read from the file) is not learned
        b.signature = COMPLETED.withOrigin(ModelSignature.METADATA);
        serving.signature(Fakes.Repository.version("iris", 2));
        assertEquals(List.of("iris:1"), repo.learned);
    }

    @Test
    void theRepositoryIsToldOffTheCallersThreadAndItsFailuresChangeNothing() {
        repository.bind(repo);
        Fakes.Balancer b = new Fakes.Balancer("b");
        b.signature = COMPLETED;
        balancer.bind(b);
        Thread caller = Thread.currentThread();
        java.util.List<Thread> ran = new java.util.concurrent.CopyOnWriteArrayList<>();
        serving.learning = task -> new Thread(() -> {
            ran.add(Thread.currentThread());
            task.run();
        }).start();
        repo.failure = new IllegalStateException("the repository is stopping");
        assertEquals(COMPLETED, serving.signature(Fakes.Repository.version("iris", 1)));
        await().atMost(Duration.ofSeconds(5)).until(() -> ran.size() == 1);
        assertTrue(ran.stream().noneMatch(t -> t == caller));
        assertEquals(COMPLETED, serving.signature(Fakes.Repository.version("iris", 1)));
        assertEquals(List.of(), repo.learned);

        // away: nothing is sent, and the next description tells the repository once it is back
        repo.failure = null;
        repository.unbind(repo);
        assertEquals(COMPLETED, serving.signature(Fakes.Repository.version("iris", 2)));
        repository.bind(repo);
        assertEquals(COMPLETED, serving.signature(Fakes.Repository.version("iris", 2)));
        await().atMost(Duration.ofSeconds(5)).until(() -> repo.learned.equals(List.of("iris:2")));
    }

    @Test
    void whileTheModelhostsSignatureIsIncompleteTheLearnedOneCompletesIt() {
        serving.learning = Runnable::run;
        repository.bind(repo);
        Fakes.Balancer b = new Fakes.Balancer("b");
        b.signature = NAMES_ONLY; // reloaded after a restart: no call yet
        balancer.bind(b);
        ModelVersionDTO v = Fakes.Repository.version("iris", 1);
        v.learned = COMPLETED.withOrigin(ModelSignature.FIRST_CALL);
        ModelSignature s = serving.signature(v);
        assertEquals(COMPLETED.inputs(), s.inputs());
        assertEquals(COMPLETED.outputs(), s.outputs());
        assertEquals(FILE_AND_CALL, s.origin());
        assertTrue(s.complete());
        assertEquals(List.of(), repo.learned, "nothing new to keep");

        // no modelhost has it (yet): the declared signature, completed the same way
        balancer.bind(new Fakes.Balancer("none"));
        ModelVersionDTO v2 = Fakes.Repository.version("iris", 2);
        v2.learned = v.learned;
        ModelSignature unloaded = serving.signature(v2);
        assertEquals(COMPLETED.inputs(), unloaded.inputs());
        assertEquals(ModelSignature.FIRST_CALL, unloaded.origin());
        // and without anything learned, as before
        assertEquals(ModelSignature.UNKNOWN, serving.signature(Fakes.Repository.version("iris", 3)));
    }

    @Test
    void onlyWhatIsMissingIsTakenFromTheLearnedSignature() {
        ModelSignature learned = COMPLETED.withOrigin(ModelSignature.FIRST_CALL);
        ModelSignature declared = new ModelSignature(
                List.of(new TensorSpec("y", DataType.FP64, null), new TensorSpec("x", null, new long[] {2, 3})),
                List.of(), List.of("a", "b"), ModelSignature.METADATA);
        ModelSignature s = Serving.completedBy(declared, learned);
        assertEquals(List.of(new TensorSpec("y", DataType.FP64, new long[] {-1, 3}),
                new TensorSpec("x", DataType.FP32, new long[] {2, 3})), s.inputs(), "matched by name");
        assertEquals(learned.outputs(), s.outputs());
        assertEquals(List.of("a", "b"), s.labels());
        assertEquals(ModelSignature.METADATA + " + " + ModelSignature.FIRST_CALL, s.origin());
        // another number of inputs: not the same tensors, nothing taken from them
        ModelSignature one = new ModelSignature(List.of(new TensorSpec("x", null, null)), learned.outputs(),
                List.of(), ModelSignature.MODEL_FILE);
        assertEquals(one, Serving.completedBy(one, learned));
        assertSame(COMPLETED, Serving.completedBy(COMPLETED, learned));
        assertSame(NAMES_ONLY, Serving.completedBy(NAMES_ONLY, null));
    }

    @Test
    void aFirstCallThatCompletesTheSignatureIsKeptEvenIfNobodyAsksAgain() throws Exception {
        serving.learning = Runnable::run;
        repository.bind(repo);
        Fakes.Balancer b = new Fakes.Balancer("b");
        b.signature = NAMES_ONLY;
        b.behaviour = r -> {
            b.signature = COMPLETED; // the engine completes it from the call
            return b.answer(r);
        };
        balancer.bind(b);
        predict().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> repo.learned.equals(List.of("iris:1")));
        assertEquals(COMPLETED, serving.signature(repo.resolve("iris", 1)));
        predict().get(5, TimeUnit.SECONDS);
        assertEquals(List.of("iris:1"), repo.learned);
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private CompletableFuture<Serving.Served> predict() {
        return serving.infer(new ModelRef("iris", null), null, s -> input(), Set.of(), 30_000);
    }

    private static List<Tensor> input() {
        return List.of(Tensor.of("input", DataType.FP32, new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f}));
    }

    private static <T extends Throwable> T assertFails(Class<T> type, CompletableFuture<?> future) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(5, TimeUnit.SECONDS));
        return assertInstanceOf(type, e.getCause());
    }
}
