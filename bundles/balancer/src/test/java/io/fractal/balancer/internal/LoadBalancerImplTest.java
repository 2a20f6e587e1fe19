package io.fractal.balancer.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.balancer.BalancerDTO;
import io.fractal.api.balancer.Strategy;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.Tensor;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

class LoadBalancerImplTest {

    private final List<Dictionary<String, Object>> savedConfigurations = new ArrayList<>();
    private final List<LoadBalancerImpl> balancers = new ArrayList<>();
    @TempDir
    Path dataArea;

    @AfterEach
    void deactivate() {
        balancers.forEach(LoadBalancerImpl::deactivate);
    }

    // ---- routing -------------------------------------------------------------------------------------------

    @Test
    void routesOnlyToHostsWhereTheModelIsReady() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        FakeHost ready = FakeHost.answering("ready");
        FakeHost loading = FakeHost.loading("loading");
        FakeHost failed = new FakeHost("failed");
        failed.state = ModelState.FAILED;
        FakeHost waiting = new FakeHost("waiting");
        waiting.state = ModelState.WAITING_FOR_ENGINE;
        FakeHost draining = new FakeHost("draining");
        draining.state = ModelState.DRAINING;
        FakeHost without = new FakeHost("without");
        without.state = null;
        for (FakeHost h : List.of(loading, failed, ready, waiting, draining, without)) {
            lb.bindModelHost(h);
        }
        for (int i = 0; i < 20; i++) {
            assertEquals("ready", infer(lb).modelhost());
        }
        assertEquals(20, ready.calls.get());
        for (FakeHost h : List.of(loading, failed, waiting, draining, without)) {
            assertEquals(0, h.calls.get(), h.id);
        }
    }

    @Test
    void skipsHostsThatStoppedAccepting() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of());
        FakeHost drained = FakeHost.answering("drained");
        drained.accepting = false;
        FakeHost open = FakeHost.answering("open");
        lb.bindModelHost(drained);
        lb.bindModelHost(open);
        for (int i = 0; i < 10; i++) {
            assertEquals("open", infer(lb).modelhost());
        }
        assertEquals(0, drained.calls.get());
    }

    @Test
    void spreadsOverTheReadyHosts() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        FakeHost a = FakeHost.answering("a");
        FakeHost b = FakeHost.answering("b");
        lb.bindModelHost(a);
        lb.bindModelHost(b);
        for (int i = 0; i < 10; i++) {
            infer(lb);
        }
        assertEquals(5, a.calls.get());
        assertEquals(5, b.calls.get());
        BalancerDTO dto = lb.describe();
        assertEquals(Strategy.ROUND_ROBIN, dto.strategy);
        assertEquals(10, dto.decisions);
        assertEquals(List.of(5L, 5L), dto.modelhosts.stream().map(c -> c.routed).toList());
    }

    @Test
    void anUnboundHostGetsNoMoreRequests() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of());
        FakeHost a = FakeHost.answering("a");
        FakeHost b = FakeHost.answering("b");
        lb.bindModelHost(a);
        lb.bindModelHost(b);
        lb.unbindModelHost(a);
        for (int i = 0; i < 10; i++) {
            assertEquals("b", infer(lb).modelhost());
        }
        assertEquals(0, a.calls.get());
        assertEquals(List.of("b"), lb.describe().modelhosts.stream().map(c -> c.id).toList());
    }

    // ---- retries -------------------------------------------------------------------------------------------

    @Test
    void retriesARefusedRequestOnAnotherHost() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        FakeHost full = FakeHost.full("full");
        FakeHost good = FakeHost.answering("good");
        lb.bindModelHost(full); // round robin asks it first
        lb.bindModelHost(good);
        assertEquals("good", infer(lb).modelhost());
        assertEquals(1, full.calls.get());
        assertEquals(1, good.calls.get());
        assertEquals(1, lb.describe().retries);
    }

    @Test
    void retriesOnlyOnce() {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        List<FakeHost> hosts = List.of(FakeHost.full("f1"), FakeHost.full("f2"), FakeHost.full("f3"));
        hosts.forEach(lb::bindModelHost);
        CapacityExceededException e = assertFails(CapacityExceededException.class, lb.infer(request()));
        assertTrue(e.getMessage().contains("queue is full"), e.getMessage());
        assertEquals(2, hosts.stream().mapToInt(h -> h.calls.get()).sum());
        assertEquals(1, lb.describe().retries);
    }

    @Test
    void aRequestAHostFailedGoesOnceToAnotherHost() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        FakeHost failing = FakeHost.failing("failing");
        FakeHost good = FakeHost.answering("good");
        lb.bindModelHost(failing);
        lb.bindModelHost(good);
        assertEquals("good", lb.infer(request()).get(1, TimeUnit.SECONDS).modelhost());
        assertEquals(1, failing.calls.get());
        assertEquals(1, good.calls.get());
        assertEquals(1, lb.describe().retries);
        assertEquals(1, candidate(lb, "failing").consecutiveFailures);
    }

    @Test
    void aRequestTwoHostsFailedIsTheLastHostsFailure() {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        List<FakeHost> hosts = List.of(FakeHost.failing("a"), FakeHost.failing("b"), FakeHost.failing("c"));
        hosts.forEach(lb::bindModelHost);
        RuntimeException e = assertFails(RuntimeException.class, lb.infer(request()));
        assertTrue(e.getMessage().startsWith("engine crashed on "), e.getMessage());
        assertEquals(2, hosts.stream().mapToInt(h -> h.calls.get()).sum()); // once to another host, not more
    }

    @Test
    void aFailureWithNoOtherHostIsTheClients() {
        LoadBalancerImpl lb = balancer(Map.of());
        FakeHost failing = FakeHost.failing("alone");
        lb.bindModelHost(failing);
        RuntimeException e = assertFails(RuntimeException.class, lb.infer(request()));
        assertEquals("engine crashed on alone", e.getMessage());
        assertEquals(1, failing.calls.get()); // not sent to the same host again
    }

    @Test
    void aBusyHostWithoutAlternativeAnswersCapacityExceeded() {
        LoadBalancerImpl lb = balancer(Map.of());
        lb.bindModelHost(FakeHost.full("full"));
        assertFails(CapacityExceededException.class, lb.infer(request()));
    }

    // ---- ejection ------------------------------------------------------------------------------------------

    @Test
    void ejectsAHostAfterConsecutiveFailuresAndProbesItBackLater() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("ejection_failures", 3, "ejection_seconds", 1));
        FakeHost host = FakeHost.failing("flaky");
        lb.bindModelHost(host);
        for (int i = 0; i < 2; i++) {
            assertFails(RuntimeException.class, lb.infer(request()));
            assertFalse(candidate(lb, "flaky").ejected);
        }
        assertFails(RuntimeException.class, lb.infer(request()));
        BalancerDTO.Candidate c = candidate(lb, "flaky");
        assertTrue(c.ejected);
        assertEquals(3, c.consecutiveFailures);
        assertTrue(c.ejectedUntil > System.currentTimeMillis());
        assertEquals(1, lb.describe().ejections);

        // Ejected: it gets nothing, and with no other host the request is refused as a 503.
        host.answerNormally();
        CapacityExceededException refused = assertFails(CapacityExceededException.class, lb.infer(request()));
        assertTrue(refused.getMessage().contains("ejected"), refused.getMessage());
        assertEquals(3, host.calls.get());

        // After ejection_seconds the next request probes it; it answers, so it is back.
        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(50))
                .until(() -> lb.infer(request()).handle((r, e) -> r != null).get());
        assertEquals(4, host.calls.get());
        c = candidate(lb, "flaky");
        assertFalse(c.ejected);
        assertEquals(0, c.consecutiveFailures);
        assertEquals(0, c.ejectedUntil);
    }

    @Test
    void anEjectedHostLeavesTheOthersServing() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN, "ejection_failures", 2,
                "ejection_seconds", 60));
        FakeHost bad = FakeHost.failing("bad");
        FakeHost good = FakeHost.answering("good");
        lb.bindModelHost(bad);
        lb.bindModelHost(good);
        int failures = 0;
        for (int i = 0; i < 20; i++) {
            try {
                infer(lb);
            } catch (ExecutionException e) {
                failures++;
            }
        }
        assertEquals(0, failures, "bad's failures went to good");
        assertEquals(2, bad.calls.get());
        assertEquals(20, good.calls.get());
    }

    @Test
    void aSuccessResetsTheFailureCount() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("ejection_failures", 3));
        FakeHost host = FakeHost.failing("h");
        lb.bindModelHost(host);
        assertFails(RuntimeException.class, lb.infer(request()));
        assertFails(RuntimeException.class, lb.infer(request()));
        host.answerNormally();
        infer(lb);
        host.failWith(new RuntimeException("again"));
        assertFails(RuntimeException.class, lb.infer(request()));
        assertFails(RuntimeException.class, lb.infer(request()));
        assertFalse(candidate(lb, "h").ejected);
        assertEquals(2, candidate(lb, "h").consecutiveFailures);
    }

    @Test
    void badInputIsNotTheHostsFault() {
        LoadBalancerImpl lb = balancer(Map.of("ejection_failures", 2));
        FakeHost host = new FakeHost("h");
        host.failWith(new InvalidInputException("input 'input' must have shape [-1, 4]"));
        lb.bindModelHost(host);
        for (int i = 0; i < 5; i++) {
            assertFails(InvalidInputException.class, lb.infer(request()));
        }
        assertFalse(candidate(lb, "h").ejected);
        assertEquals(0, lb.describe().ejections);
    }

    // ---- models that are not ready -------------------------------------------------------------------------

    @Test
    void waitsForALoadingModelWithinTheGrace() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost host = FakeHost.loading("h");
        lb.bindModelHost(host);
        CompletableFuture<InferenceResponse> pending = lb.infer(request());
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(150, TimeUnit.MILLISECONDS));
        assertEquals(0, host.calls.get());
        host.state = ModelState.READY;
        assertEquals("h", pending.get(2, TimeUnit.SECONDS).modelhost());
        assertEquals(1, host.calls.get());
    }

    @Test
    void waitsForAModelWhoseEngineIsAway() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost host = new FakeHost("h");
        host.state = ModelState.WAITING_FOR_ENGINE;
        lb.bindModelHost(host);
        CompletableFuture<InferenceResponse> pending = lb.infer(request());
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(150, TimeUnit.MILLISECONDS));
        host.state = ModelState.READY;
        assertEquals("h", pending.get(2, TimeUnit.SECONDS).modelhost());
    }

    @Test
    void failsWithModelNotReadyAfterTheGrace() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 300L));
        FakeHost host = FakeHost.loading("h");
        lb.bindModelHost(host);
        long start = System.nanoTime();
        ModelNotReadyException e = assertFails(ModelNotReadyException.class, lb.infer(request()));
        long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waitedMs >= 300, "answered after " + waitedMs + " ms, before the grace");
        assertTrue(waitedMs < 3000, "answered after " + waitedMs + " ms");
        assertTrue(e.getMessage().contains("iris:1") && e.getMessage().contains("not ready"), e.getMessage());
        assertEquals(0, host.calls.get());
    }

    @Test
    void aFailedModelAnswersAtOnceWithTheReason() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost host = new FakeHost("h");
        host.state = ModelState.FAILED;
        host.reason = "PyTorch cannot load model.pt: not a zip archive";
        lb.bindModelHost(host);
        long start = System.nanoTime();
        ModelNotReadyException e = assertFails(ModelNotReadyException.class, lb.infer(request()));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2));
        assertEquals("model iris:1 failed to load: PyTorch cannot load model.pt: not a zip archive", e.getMessage());
    }

    @Test
    void aModelNoHostHoldsIsNotReadyAfterTheGrace() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 200L));
        FakeHost host = new FakeHost("h");
        host.state = null;
        lb.bindModelHost(host);
        long start = System.nanoTime();
        ModelNotReadyException e = assertFails(ModelNotReadyException.class, lb.infer(request()));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(200), "it did not wait for the grace");
        assertEquals("no modelhost serves model iris:1", e.getMessage());
        assertEquals(0, host.calls.get());
    }

    @Test
    void withoutAnyHostItAnswersCapacityExceededAfterTheGrace() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 300L));
        long start = System.nanoTime();
        CapacityExceededException e = assertFails(CapacityExceededException.class, lb.infer(request()));
        long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waitedMs >= 300, "answered after " + waitedMs + " ms, before the grace");
        assertTrue(waitedMs < 3000, "answered after " + waitedMs + " ms");
        assertEquals("no modelhost is running", e.getMessage());
        assertTrue(e.retryAfterSeconds() >= 1);
        CapacityExceededException echo = assertFails(CapacityExceededException.class, lb.echo("x"));
        assertEquals("no modelhost is running", echo.getMessage());
    }

    // ---- waiting for a modelhost ---------------------------------------------------------------------------

    @Test
    void aRequestWaitsForAModelhostAndIsWokenWhenOneBinds() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 20_000L));
        lb.waitStepMillis = 60_000; // the poll alone would not look again within the test: the binding must wake it
        CompletableFuture<InferenceResponse> pending = lb.infer(request());
        CompletableFuture<EchoDTO> echo = lb.echo("x");
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(100, TimeUnit.MILLISECONDS));
        assertFalse(echo.isDone());
        long bound = System.nanoTime();
        lb.bindModelHost(FakeHost.answering("late"));
        assertEquals("late", pending.get(5, TimeUnit.SECONDS).modelhost());
        assertEquals("late", echo.get(5, TimeUnit.SECONDS).modelhost);
        long wokenMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - bound);
        assertTrue(wokenMs < 5_000, "answered " + wokenMs + " ms after the modelhost bound");
    }

    @Test
    void aRequestWaitsForAModelNoHostHoldsYet() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost host = new FakeHost("h");
        host.state = null; // the host has not been offered the model yet
        lb.bindModelHost(host);
        CompletableFuture<InferenceResponse> pending = lb.infer(request());
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(100, TimeUnit.MILLISECONDS));
        host.state = ModelState.LOADING;
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(60, TimeUnit.MILLISECONDS));
        host.state = ModelState.READY;
        assertEquals("h", pending.get(2, TimeUnit.SECONDS).modelhost());
        assertEquals(1, host.calls.get());
    }

    @Test
    void aRequestWaitsWhileTheOnlyHostDrainsAndGoesToTheNextOne() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost old = FakeHost.answering("old");
        old.accepting = false;
        lb.bindModelHost(old);
        CompletableFuture<InferenceResponse> pending = lb.infer(request());
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(100, TimeUnit.MILLISECONDS));
        lb.unbindModelHost(old);
        lb.bindModelHost(FakeHost.answering("new"));
        assertEquals("new", pending.get(2, TimeUnit.SECONDS).modelhost());
        assertEquals(0, old.calls.get());
    }

    // ---- refusals that are no fault of the request ---------------------------------------------------------

    @Test
    void aDrainingHostsRefusalIsReRoutedWithoutUsingTheRetryBudget() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN, "retries", 0));
        FakeHost draining = drainsWhenAsked("draining");
        FakeHost good = FakeHost.answering("good");
        lb.bindModelHost(draining); // round robin asks it first
        lb.bindModelHost(good);
        assertEquals("good", infer(lb).modelhost());
        assertEquals(1, draining.calls.get());
        assertEquals(1, good.calls.get());
    }

    @Test
    void aStoppedHostsRefusalWaitsForAnotherHostWithinTheDeadline() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("retries", 0, "grace_ms", 5000L));
        FakeHost stopping = new FakeHost("stopping");
        stopping.behaviour = r -> {
            stopping.accepting = false;
            return CompletableFuture.failedFuture(new CapacityExceededException("modelhost stopping stopped", 1));
        };
        lb.bindModelHost(stopping);
        CompletableFuture<InferenceResponse> pending = lb.infer(request());
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pending.get(100, TimeUnit.MILLISECONDS));
        assertEquals(1, stopping.calls.get());
        lb.unbindModelHost(stopping);
        lb.bindModelHost(FakeHost.answering("successor"));
        assertEquals("successor", pending.get(2, TimeUnit.SECONDS).modelhost());
    }

    @Test
    void aStoppedHostsRefusalAnswers503AfterTheGraceWhenNoOtherHostComes() {
        LoadBalancerImpl lb = balancer(Map.of("retries", 0, "grace_ms", 200L));
        FakeHost stopping = drainsWhenAsked("stopping");
        lb.bindModelHost(stopping);
        long start = System.nanoTime();
        CapacityExceededException e = assertFails(CapacityExceededException.class, lb.infer(request()));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(200), "it did not wait");
        assertTrue(e.getMessage().contains("draining"), e.getMessage());
        assertEquals(1, stopping.calls.get());
    }

    @Test
    void aModelNotReadyOrNotFoundRefusalIsReRoutedWithoutUsingTheRetryBudget() throws Exception {
        for (RuntimeException refusal : List.of(new ModelNotReadyException("model iris:1 is not ready on modelhost a"),
                new io.fractal.api.inference.ModelNotFoundException("modelhost a has no model iris:1"))) {
            LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN, "retries", 0));
            FakeHost a = new FakeHost("a");
            a.failWith(refusal);
            FakeHost b = FakeHost.answering("b");
            lb.bindModelHost(a);
            lb.bindModelHost(b);
            assertEquals("b", infer(lb).modelhost(), refusal.toString());
            assertEquals(1, a.calls.get());
            assertFalse(candidate(lb, "a").ejected);
            assertEquals(0, candidate(lb, "a").consecutiveFailures);
        }
    }

    @Test
    void aVersionRemovedUnderTheRequestAnswersAtOnce() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L));
        FakeHost host = new FakeHost("h");
        host.behaviour = r -> {
            host.state = null; // the version was removed from the host between the look and the call
            return CompletableFuture.failedFuture(new ModelNotReadyException("model iris:1 is not ready on h"));
        };
        lb.bindModelHost(host);
        long start = System.nanoTime();
        assertFails(ModelNotReadyException.class, lb.infer(request()));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "it waited for the grace");
    }

    @Test
    void aFullQueueStillAnswersAtOnceWhileAnotherHostLoads() {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 5000L, "retries", 1));
        FakeHost full = FakeHost.full("full");
        lb.bindModelHost(full);
        lb.bindModelHost(FakeHost.loading("loading"));
        long start = System.nanoTime();
        CapacityExceededException e = assertFails(CapacityExceededException.class, lb.infer(request()));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1), "a full queue waited");
        assertTrue(e.getMessage().contains("queue is full"), e.getMessage());
        assertEquals(1, full.calls.get());
    }

    // ---- no request hangs ----------------------------------------------------------------------------------

    @Test
    void aHostThatThrowsOrAnswersNothingFailsTheRequestInsteadOfHangingIt() {
        LoadBalancerImpl lb = balancer(Map.of());
        FakeHost throwing = new FakeHost("throwing");
        throwing.behaviour = r -> {
            throw new IllegalStateException("modelhost torn down");
        };
        lb.bindModelHost(throwing);
        IllegalStateException e = assertFails(IllegalStateException.class, lb.infer(request()));
        assertEquals("modelhost torn down", e.getMessage());

        lb.unbindModelHost(throwing);
        FakeHost nothing = new FakeHost("nothing");
        nothing.behaviour = r -> null;
        lb.bindModelHost(nothing);
        assertFails(NullPointerException.class, lb.infer(request()));
    }

    @Test
    void aHostWhoseStateCannotBeReadIsSkipped() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("grace_ms", 200L));
        FakeHost broken = new FakeHost("broken") {
            @Override
            public ModelState state(String model, int version) {
                throw new IllegalStateException("gone");
            }

            @Override
            public boolean accepting() {
                throw new IllegalStateException("gone");
            }
        };
        lb.bindModelHost(broken);
        lb.bindModelHost(FakeHost.answering("good"));
        for (int i = 0; i < 5; i++) {
            assertEquals("good", infer(lb).modelhost());
        }
    }

    // ---- echo, status, administration ----------------------------------------------------------------------

    @Test
    void echoGoesToAnAcceptingHost() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of());
        FakeHost drained = FakeHost.answering("drained");
        drained.accepting = false;
        lb.bindModelHost(drained);
        lb.bindModelHost(FakeHost.answering("open"));
        EchoDTO echo = lb.echo(42).get(1, TimeUnit.SECONDS);
        assertEquals("open", echo.modelhost);
        assertEquals(42, echo.data);
    }

    @Test
    void statusListsTheHostsHoldingAVersion() {
        LoadBalancerImpl lb = balancer(Map.of());
        FakeHost b = FakeHost.loading("b");
        FakeHost a = FakeHost.answering("a");
        FakeHost none = new FakeHost("none");
        none.state = null;
        lb.bindModelHost(b);
        lb.bindModelHost(none);
        lb.bindModelHost(a);
        Map<String, ModelStatusDTO> status = lb.status("iris", 1);
        assertEquals(List.of("a", "b"), List.copyOf(status.keySet()));
        assertEquals(ModelState.READY, status.get("a").state);
        assertEquals(ModelState.LOADING, status.get("b").state);
        assertEquals(List.of("a", "b", "none"), lb.modelHosts().stream().map(d -> d.id).toList());
    }

    @Test
    void setStrategySwitchesAtOnceAndSavesTheChoice() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        FakeHost busy = FakeHost.answering("busy");
        busy.outstanding = 10;
        FakeHost idle = FakeHost.answering("idle");
        lb.bindModelHost(busy);
        lb.bindModelHost(idle);
        lb.setStrategy(Strategy.LEAST_OUTSTANDING);
        assertEquals(Strategy.LEAST_OUTSTANDING, lb.describe().strategy);
        assertEquals(1, savedConfigurations.size());
        assertEquals("LEAST_OUTSTANDING", savedConfigurations.get(0).get("strategy"));
        for (int i = 0; i < 10; i++) {
            assertEquals("idle", infer(lb).modelhost());
        }
    }

    @Test
    void aModifiedConfigurationTakesEffect() throws Exception {
        LoadBalancerImpl lb = balancer(Map.of("strategy", Strategy.ROUND_ROBIN));
        lb.modified(config(Map.of("strategy", Strategy.POWER_OF_TWO, "grace_ms", 100L)));
        assertEquals(Strategy.POWER_OF_TWO, lb.describe().strategy);
        lb.bindModelHost(FakeHost.loading("h"));
        long start = System.nanoTime();
        assertFails(ModelNotReadyException.class, lb.infer(request()));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2));
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private LoadBalancerImpl balancer(Map<String, Object> settings) {
        return balancer(settings, dataArea.resolve(EjectionStore.FILE_NAME));
    }

    /** A balancer that keeps its ejections in {@code ejectionsFile}, as in its bundle's data area. */
    private LoadBalancerImpl balancer(Map<String, Object> settings, Path ejectionsFile) {
        LoadBalancerImpl lb = new LoadBalancerImpl(configAdmin(), config(settings), ejectionsFile);
        balancers.add(lb);
        return lb;
    }

    private static InferenceRequest request() {
        return InferenceRequest.of("iris", 1, List.of(Tensor.of("input", DataType.FP32, new long[] {1, 4},
                new float[] {5.1f, 3.5f, 1.4f, 0.2f})));
    }

    /** A host that, asked for a request, starts draining and refuses it (the race with a drain). */
    private static FakeHost drainsWhenAsked(String id) {
        FakeHost h = new FakeHost(id);
        h.behaviour = r -> {
            h.accepting = false;
            return CompletableFuture.failedFuture(new CapacityExceededException("modelhost " + id + " is draining", 1));
        };
        return h;
    }

    private static InferenceResponse infer(LoadBalancerImpl lb) throws Exception {
        return lb.infer(request()).get(5, TimeUnit.SECONDS);
    }

    private static <T extends Throwable> T assertFails(Class<T> type, CompletableFuture<?> future) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(5, TimeUnit.SECONDS));
        return assertInstanceOf(type, e.getCause());
    }

    private static BalancerDTO.Candidate candidate(LoadBalancerImpl lb, String id) {
        return lb.describe().modelhosts.stream().filter(c -> c.id.equals(id)).findFirst().orElseThrow();
    }

    /** The configuration annotation as Declarative Services builds it: the given values, else the defaults. */
    static BalancerConfiguration config(Map<String, Object> values) {
        Map<String, Object> v = new HashMap<>(values);
        return (BalancerConfiguration) Proxy.newProxyInstance(BalancerConfiguration.class.getClassLoader(),
                new Class<?>[] {BalancerConfiguration.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "annotationType":
                            return BalancerConfiguration.class;
                        case "toString":
                            return "BalancerConfiguration" + v;
                        case "hashCode":
                            return v.hashCode();
                        case "equals":
                            return proxy == args[0];
                        default:
                            return v.containsKey(method.getName()) ? v.get(method.getName()) : method.getDefaultValue();
                    }
                });
    }

    /** Config Admin, as far as {@code setStrategy} uses it: it records what is saved. */
    private ConfigurationAdmin configAdmin() {
        Configuration configuration = (Configuration) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {Configuration.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "getProperties":
                            return savedConfigurations.isEmpty() ? null
                                    : savedConfigurations.get(savedConfigurations.size() - 1);
                        case "update":
                            if (args != null && args.length == 1) {
                                @SuppressWarnings("unchecked")
                                Dictionary<String, Object> d = (Dictionary<String, Object>) args[0];
                                savedConfigurations.add(d);
                            }
                            return null;
                        case "getPid":
                            return BalancerConfiguration.PID;
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        case "toString":
                            return "Configuration[" + BalancerConfiguration.PID + "]";
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
        return (ConfigurationAdmin) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ConfigurationAdmin.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "getConfiguration":
                            assertEquals(BalancerConfiguration.PID, args[0]);
                            return configuration;
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        case "toString":
                            return "ConfigurationAdmin";
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
    }
}
