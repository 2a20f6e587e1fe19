package io.fractal.balancer.internal;

import static io.fractal.balancer.internal.LoadBalancerImplTest.config;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.balancer.BalancerDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.Tensor;
import io.fractal.api.metrics.FractalMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a bundle update asks of the balancer: its requests finish on the old instance, none is left unanswered,
 * the ejections in force carry over to the new instance, and the metrics service keeps nothing of the old one.
 */
class LoadBalancerSwapTest {

    @TempDir
    Path dataArea;
    private final List<LoadBalancerImpl> balancers = new ArrayList<>();

    @AfterEach
    void deactivate() {
        balancers.forEach(LoadBalancerImpl::deactivate);
    }

    // ---- deactivation ----------------------------------------------------------------------------------------

    @Test
    void deactivationLetsARequestInFlightFinishOnThisInstance() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        CompletableFuture<InferenceResponse> onHost = new CompletableFuture<>();
        FakeHost host = new FakeHost("h");
        host.behaviour = r -> onHost;
        lb.bindModelHost(host);
        CompletableFuture<InferenceResponse> request = lb.infer(request());

        CompletableFuture<Void> deactivation = CompletableFuture.runAsync(lb::deactivate);
        assertThrows(TimeoutException.class, () -> deactivation.get(150, TimeUnit.MILLISECONDS));
        assertFalse(request.isDone());

        InferenceResponse answer = new InferenceResponse("r", "iris", 1, List.of(), "h", 0, 0);
        onHost.complete(answer);
        assertEquals(answer, request.get(1, TimeUnit.SECONDS));
        deactivation.get(2, TimeUnit.SECONDS);
    }

    @Test
    void deactivationLetsAWaitingRequestBeServedByTheStillBoundHosts() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost host = FakeHost.loading("h");
        lb.bindModelHost(host);
        CompletableFuture<InferenceResponse> request = lb.infer(request());

        CompletableFuture<Void> deactivation = CompletableFuture.runAsync(lb::deactivate);
        assertThrows(TimeoutException.class, () -> deactivation.get(150, TimeUnit.MILLISECONDS));
        host.state = ModelState.READY;
        assertEquals("h", request.get(2, TimeUnit.SECONDS).modelhost());
        deactivation.get(2, TimeUnit.SECONDS);
    }

    @Test
    void whatIsLeftAfterTheDeactivationBoundIsAnswered503() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 100L));
        lb.deactivateMarginMillis = 100;
        FakeHost stuck = new FakeHost("stuck");
        stuck.behaviour = r -> new CompletableFuture<>(); // never answers
        lb.bindModelHost(stuck);
        CompletableFuture<InferenceResponse> request = lb.infer(request());

        long start = System.nanoTime();
        lb.deactivate();
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2));
        ExecutionException e = assertThrows(ExecutionException.class, () -> request.get(1, TimeUnit.SECONDS));
        CapacityExceededException refused = assertInstanceOf(CapacityExceededException.class, e.getCause());
        assertTrue(refused.retryAfterSeconds() >= 1);
    }

    @Test
    void aDeactivatedInstanceRefusesAtOnce() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        lb.bindModelHost(FakeHost.answering("h"));
        lb.deactivate();
        long start = System.nanoTime();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> lb.infer(request()).get(1, TimeUnit.SECONDS));
        assertInstanceOf(CapacityExceededException.class, e.getCause());
        e = assertThrows(ExecutionException.class, () -> lb.echo("x").get(1, TimeUnit.SECONDS));
        assertInstanceOf(CapacityExceededException.class, e.getCause());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1));
    }

    @Test
    void anInstanceHasOneWaitThreadForItsLifeAndNoneAfterIt() {
        balancers.forEach(LoadBalancerImpl::deactivate);
        // earlier tests' instances are deactivated: their threads end
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> waitThreads() == 0);
        LoadBalancerImpl lb = balancer(Map.of());
        assertEquals(1, waitThreads()); // started with the instance, not by the first request that waits
        lb.deactivate();
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> waitThreads() == 0);
    }

    private static long waitThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().equals("fractal-balancer-wait")).count();
    }

    // ---- ejections across an update -----------------------------------------------------------------------

    @Test
    void ejectionsInForceSurviveABundleUpdate() throws Exception {
        Path file = dataArea.resolve(EjectionStore.FILE_NAME);
        LoadBalancerImpl old = balancer(Map.of("ejection_failures", 2, "ejection_seconds", 60), file);
        FakeHost flaky = FakeHost.failing("flaky");
        FakeHost fine = FakeHost.answering("fine");
        old.bindModelHost(flaky);
        old.bindModelHost(fine);
        for (int i = 0; i < 2; i++) {
            failOn(old, flaky);
        }
        BalancerDTO.Candidate before = candidate(old, "flaky");
        assertTrue(before.ejected);
        old.deactivate();
        assertTrue(Files.isRegularFile(file));

        // the new revision: a new instance reading the same data area, the same modelhosts binding again
        LoadBalancerImpl updated = balancer(Map.of("ejection_failures", 2, "ejection_seconds", 60), file);
        FakeHost flakyAgain = FakeHost.answering("flaky");
        updated.bindModelHost(flakyAgain);
        updated.bindModelHost(FakeHost.answering("fine"));
        BalancerDTO.Candidate after = candidate(updated, "flaky");
        assertTrue(after.ejected);
        assertEquals(before.ejectedUntil, after.ejectedUntil);
        assertEquals(2, after.consecutiveFailures);
        assertFalse(candidate(updated, "fine").ejected);
        for (int i = 0; i < 5; i++) {
            assertEquals("fine", updated.infer(request()).get(1, TimeUnit.SECONDS).modelhost());
        }
        assertEquals(0, flakyAgain.calls.get());
    }

    @Test
    void anEjectionWhoseHostHasNotComeBackIsKeptForTheNextUpdate() throws Exception {
        Path file = dataArea.resolve(EjectionStore.FILE_NAME);
        long until = System.currentTimeMillis() + 60_000;
        new EjectionStore(file).save(List.of(new EjectionStore.Ejection("away", until, 3)));

        LoadBalancerImpl first = balancer(Map.of(), file);
        first.deactivate(); // "away" never bound to it

        LoadBalancerImpl second = balancer(Map.of(), file);
        second.bindModelHost(FakeHost.answering("away"));
        BalancerDTO.Candidate c = candidate(second, "away");
        assertTrue(c.ejected);
        assertEquals(until, c.ejectedUntil);
        assertEquals(3, c.consecutiveFailures);
    }

    @Test
    void expiredOrUnreadableEjectionsAreIgnored() throws Exception {
        Path file = dataArea.resolve(EjectionStore.FILE_NAME);
        new EjectionStore(file).save(List.of(new EjectionStore.Ejection("h", System.currentTimeMillis() - 1, 3)));
        LoadBalancerImpl lb = balancer(Map.of(), file);
        lb.bindModelHost(FakeHost.answering("h"));
        assertFalse(candidate(lb, "h").ejected);
        assertEquals(0, candidate(lb, "h").consecutiveFailures);

        Path garbled = dataArea.resolve("garbled.json");
        Files.writeString(garbled, "{\"ejections\": [ {\"modelhost\": ");
        LoadBalancerImpl other = balancer(Map.of(), garbled);
        other.bindModelHost(FakeHost.answering("h"));
        assertEquals("h", other.infer(request()).get(1, TimeUnit.SECONDS).modelhost());
    }

    // ---- metrics -------------------------------------------------------------------------------------------

    @Test
    void theLiveGaugeReleasesTheInstanceOnDeactivationAndUnbind() {
        FakeMetrics metrics = new FakeMetrics();
        LoadBalancerImpl lb = balancer(Map.of());
        lb.bindMetrics(metrics);
        lb.bindModelHost(FakeHost.answering("a"));
        lb.bindModelHost(FakeHost.answering("b"));
        assertEquals(2, metrics.gauge(LoadBalancerImpl.LIVE_GAUGE).intValue());
        lb.deactivate();
        assertFalse(metrics.gauges.containsKey(LoadBalancerImpl.LIVE_GAUGE), "the gauge is removed");

        FakeMetrics other = new FakeMetrics();
        LoadBalancerImpl next = balancer(Map.of());
        next.bindMetrics(other);
        next.bindModelHost(FakeHost.answering("a"));
        assertEquals(1, other.gauge(LoadBalancerImpl.LIVE_GAUGE).intValue());
        next.unbindMetrics(other);
        assertFalse(other.gauges.containsKey(LoadBalancerImpl.LIVE_GAUGE), "the gauge is removed");
    }

    @Test
    void aMetricsServiceThatFailsNeverFailsARequest() throws Exception {
        FakeMetrics metrics = new FakeMetrics();
        metrics.broken = true;
        LoadBalancerImpl lb = balancer(Map.of("strategy", io.fractal.api.balancer.Strategy.ROUND_ROBIN,
                "ejection_failures", 1));
        lb.bindMetrics(metrics); // registering the gauge fails too
        FakeHost full = FakeHost.full("full");
        lb.bindModelHost(full);
        lb.bindModelHost(FakeHost.answering("good"));
        lb.bindModelHost(FakeHost.failing("bad"));
        int answered = 0;
        for (int i = 0; i < 9; i++) {
            try {
                lb.infer(request()).get(1, TimeUnit.SECONDS);
                answered++;
            } catch (ExecutionException e) {
                // the failing host's own error, once, before it is ejected
                assertEquals("engine crashed on bad", e.getCause().getMessage());
            }
        }
        assertTrue(answered >= 8, answered + " answered");
        assertTrue(metrics.attempts.get() > 0);
        lb.unbindMetrics(metrics);
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private LoadBalancerImpl balancer(Map<String, Object> settings) {
        return balancer(settings, dataArea.resolve("balancer-" + balancers.size() + ".json"));
    }

    private LoadBalancerImpl balancer(Map<String, Object> settings, Path ejections) {
        LoadBalancerImpl lb = new LoadBalancerImpl(null, config(settings), ejections);
        balancers.add(lb);
        return lb;
    }

    /** Sends requests until one reaches the failing host (which fails it; another host answers it). */
    private static void failOn(LoadBalancerImpl lb, FakeHost host) throws Exception {
        int before = host.calls.get();
        for (int i = 0; i < 10; i++) {
            lb.infer(request()).get(1, TimeUnit.SECONDS); // a host's failure goes to the other host
            if (host.calls.get() > before) {
                return;
            }
        }
        throw new AssertionError("no request reached " + host.id());
    }

    private static InferenceRequest request() {
        return InferenceRequest.of("iris", 1, List.of(Tensor.of("input", DataType.FP32, new long[] {1, 4},
                new float[] {5.1f, 3.5f, 1.4f, 0.2f})));
    }

    private static BalancerDTO.Candidate candidate(LoadBalancerImpl lb, String id) {
        return lb.describe().modelhosts.stream().filter(c -> c.id.equals(id)).findFirst().orElseThrow();
    }

    /** Gauges by name; when broken, every call throws, as a metrics service that went away mid-call may. */
    private static final class FakeMetrics implements FractalMetrics {
        final Map<String, Supplier<? extends Number>> gauges = new ConcurrentHashMap<>();
        final AtomicInteger attempts = new AtomicInteger();
        volatile boolean broken;

        Number gauge(String name) {
            return gauges.get(name).get();
        }

        private void check() {
            attempts.incrementAndGet();
            if (broken) {
                throw new IllegalStateException("metrics service unregistered");
            }
        }

        @Override
        public Counter counter(String name, String... labels) {
            check();
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
            check();
            return nanos -> { };
        }

        @Override
        public Histogram histogram(String name, String... labels) {
            check();
            return value -> { };
        }

        @Override
        public void gauge(String name, Supplier<? extends Number> value, String... labels) {
            check();
            gauges.put(name, value);
        }

        @Override
        public void remove(String name, String... labels) {
            check();
            gauges.remove(name);
        }

        @Override
        public void removeAll(String labelName, String labelValue) {
            check();
        }

        @Override
        public SortedMap<String, Double> samples(String namePrefix) {
            check();
            return new java.util.TreeMap<>();
        }
    }
}
