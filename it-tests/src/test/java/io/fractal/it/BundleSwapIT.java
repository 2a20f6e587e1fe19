package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.FixMethodOrder;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.MethodSorters;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * Every Fractal bundle updated, one after the other, under continuous load, with zero failed requests (issue 8).
 *
 * <p>The server is the default one (the sample models iris and digits, modelhosts mh1 and mh2), plus an ONNX model
 * ({@code iris-onnx}, so that the ONNX engine's update matters) and the example model bundle ({@code iris-bundled},
 * so that the extender's update matters). For each bundle in turn the load runs (client threads on keep-alive
 * connections and on a new connection per request, {@code POST /api/v1/models/<model>/prediction} and
 * {@code POST /v2/models/<model>/infer} on the four models, every 200 checked against the reference values and the
 * version), then the bundle is updated with a real new revision ({@code Bundle.update} with the bytes of its jar in
 * the distribution's {@code bundle/} folder: a new revision and a new class loader), refreshed (through
 * {@link FrameworkWiring}, waiting for the refresh to end) where its old revision stays pending removal because
 * other bundles are wired to it ({@code io.fractal.engine.djl}, whose package the engines import; the extender, whose
 * {@code osgi.extender} capability the model bundle requires), and the load goes on until the new revision is the one
 * serving and a moment more. A first test runs the same load with no update: the reference, which must not fail
 * either.
 *
 * <p>A request fails when it does not answer 200 with the right values and version, when its connection is refused
 * or lost (reset included), when its body is not whole JSON, and when it takes more than {@link #REQUEST_TIMEOUT}. Each test asserts
 * that none failed, that the new revision serves (a new {@link BundleRevision}; as many services of its own classes
 * as before, all instances of the new revision's class loader and none of the old one's, not counting those SCR
 * registers on its behalf; the consumers that used its services before use them again; it uses again the services
 * it used; the bundles a refresh restarted are wired to the new revision; every request kind answered by both
 * modelhosts after that), and that the server's
 * state survived: the repository's models and versions, the modelhosts' configurations, the balancer's strategy
 * (switched away from the default before the first test), the models loaded and READY on both modelhosts, no model
 * reloaded (the {@code fractal_model_load_seconds_count} series unchanged) unless the bundle is a modelhost or an
 * engine, and no metric series vanished (the metrics bundle is updated last: its counters restart at zero).
 *
 * <p>The shell commands and the SSH console are updated through the SSH console ({@code update <id>} on an exec
 * channel, what {@code bin/client "update <id>"} does): the console even from one of its own sessions, which gets its
 * answer; a new SSH session must answer afterwards. The piece that owns the listening socket ({@code io.fractal.http})
 * is held to the same rule: its old revision hands the socket over to the new one (connections that arrive meanwhile
 * wait in its accept queue), so no connection is refused or reset, and a request on a kept-alive connection gets its
 * answer (with {@code Connection: close} while the old revision closes).
 *
 * <p>Each test prints a line of a table (requests, failed, p99 and max latency of the requests of the swap window
 * against the same load before the update, time from {@code update()} to the new revision serving and to the first
 * request it served, whether the old revision's class loader was collected, threads of the server before and after);
 * the last test prints the whole table. The tests run in name order on one server; one that finds the server
 * unhealthy after an earlier failure refreshes all Fractal bundles first, and says so.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
@FixMethodOrder(MethodSorters.NAME_ASCENDING)
public class BundleSwapIT extends ModelHostTestSupport {

    /** System property (driver) and framework property (probe): the example model bundle's jar. */
    private static final String MODEL_BUNDLE = "fractal.it.modelBundle";
    private static final String HTTP_BUNDLE = "io.fractal.http";
    /** Client threads on keep-alive connections (java.net.http). */
    private static final int KEEP_ALIVE_CLIENTS = 4;
    /** Client threads that open a connection per request ({@code Connection: close}). */
    private static final int NEW_CONNECTION_CLIENTS = 2;

    /** How long a stopped listener's socket waits for the next revision: {@code hold.ms}, left at its default. */
    private static final long HOLD_MS = 5000;
    /** A request not answered within this time failed. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    /** The load before the update: the baseline latencies. */
    private static final Duration WARM_UP = Duration.ofMillis(1500);
    /** The load after the new revision served: what must keep working once the swap is over. */
    private static final Duration AFTER_SERVING = Duration.ofMillis(1500);
    /** The swap window ends this long after the first request the new revision served. */
    private static final Duration WINDOW_TAIL = Duration.ofSeconds(1);
    /** How long the new revision may take to serve (a refresh of the DJL layer reloads every model). */
    private static final Duration SERVING_TIMEOUT = Duration.ofSeconds(30);
    /** How long the server's state may take to settle after the swap (models reloading after an engine swap). */
    private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration HEALTHY_TIMEOUT = Duration.ofSeconds(15);
    private static final String LOAD_COUNT = "fractal_model_load_seconds_count";
    private static final ObjectMapper JSON = new ObjectMapper();

    // In the probe, one class loader for the class: what the first test prepared, and the table of the results.
    private static volatile List<Kind> kinds;
    private static volatile String preparationProblem;
    private static volatile String strategy;
    private static final Map<String, String> ROWS = new LinkedHashMap<>();

    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("iris", "digits"), testLibraries(),
                frameworkProperty(MODEL_BUNDLE).value(exampleJar().toAbsolutePath().toString()));
    }

    private static Path exampleJar() {
        String configured = System.getProperty(MODEL_BUNDLE);
        Path jar = configured != null ? Paths.get(configured) : null;
        if (jar == null) {
            try (Stream<Path> files = Files.list(Paths.get("../examples/iris-model-bundle/target"))) {
                jar = files.filter(p -> p.getFileName().toString().matches("io\\.fractal\\.examples\\.iris-model-.*\\.jar"))
                        .findFirst().orElse(null);
            } catch (IOException e) {
                jar = null;
            }
        }
        if (jar == null || !Files.isRegularFile(jar)) {
            throw new IllegalStateException("No example model bundle at " + (jar == null ? "examples/iris-model-bundle/"
                    + "target" : jar.toAbsolutePath()) + ": build it first (mvn install -DskipTests in the repository root)");
        }
        return jar;
    }

    // ------------------------------------------------------------------------------------------------
    // One test per bundle, in this order

    /** The control: the same load for as long, with no update, must not fail either. */
    @Test
    public void s00_noSwap() throws Exception {
        swap(new Case(null));
    }

    /**
     * The API bundle updated without a refresh (what {@code update <id>} alone does): its old revision stays in use
     * and the new one takes every package from it, so the bundles updated after it (all the tests below) wire to the
     * same API classes as the rest of the server. Before the API bundle imported all its exports, the inferrer updated
     * after it took some packages from each revision and every prediction answered 401 (its {@code @Access}
     * annotations were no longer the class the REST application read).
     */
    @Test
    public void s00a_api() throws Exception {
        Case api = new Case("io.fractal.api");
        api.takesEffectAtRefresh = true;
        swap(api);
    }

    @Test
    public void s01_rest() throws Exception {
        swap(new Case("io.fractal.rest"));
    }

    @Test
    public void s02_inferrer() throws Exception {
        swap(new Case("io.fractal.inferrer"));
    }

    @Test
    public void s03_balancer() throws Exception {
        swap(new Case("io.fractal.balancer"));
    }

    @Test
    public void s04_modelhost() throws Exception {
        Case modelhost = new Case("io.fractal.modelhost");
        modelhost.modelsMayReload = true;
        swap(modelhost);
    }

    @Test
    public void s05_repository() throws Exception {
        swap(new Case("io.fractal.repository"));
    }

    @Test
    public void s06_extender() throws Exception {
        swap(new Case("io.fractal.extender"));
    }

    @Test
    public void s07_shell() throws Exception {
        Case shell = new Case("io.fractal.shell");
        shell.viaRemoteShell = true;
        shell.alsoServing = () -> remoteShellAnswers("fractal:modelhosts", "mh1");
        shell.servingMeans = "a new SSH session answers fractal:modelhosts";
        swap(shell);
    }

    /** The SSH console updated from one of its own sessions: it answers, then a new session works. */
    @Test
    public void s07_ssh() throws Exception {
        Case ssh = new Case("io.fractal.ssh");
        ssh.viaRemoteShell = true;
        ssh.alsoServing = () -> remoteShellAnswers("fractal:modelhosts", "mh1");
        ssh.servingMeans = "a new SSH session answers fractal:modelhosts";
        swap(ssh);
    }

    @Test
    public void s08_enginePytorch() throws Exception {
        Case pytorch = new Case("io.fractal.engine.pytorch");
        pytorch.modelsMayReload = true;
        swap(pytorch);
    }

    @Test
    public void s09_engineOnnx() throws Exception {
        Case onnx = new Case("io.fractal.engine.onnx");
        onnx.modelsMayReload = true;
        swap(onnx);
    }

    @Test
    public void s10_engineDjl() throws Exception {
        Case djl = new Case("io.fractal.engine.djl");
        djl.modelsMayReload = true;
        djl.mustRefresh = true;
        swap(djl);
    }

    @Test
    public void s11_http() throws Exception {
        swap(new Case(HTTP_BUNDLE));
    }

    /**
     * The listening socket's owner stopped, then started (what a stop and start from the shell does): meanwhile a new
     * connection waits in the socket's accept queue, and its request is answered once the listener is back. Stopped
     * for good, the socket closes after {@code hold.ms}: connections are refused from then on.
     */
    @Test
    public void s11a_httpStoppedThenStarted() throws Exception {
        ensureHealthy();
        Bundle http = findBundle(HTTP_BUNDLE);
        Kind kind = kinds.get(0);
        URI base = http().base();
        ExecutorService client = Executors.newSingleThreadExecutor();
        try {
            http.stop();
            Future<Verdict> waiting;
            try {
                waiting = client.submit(() -> SwapLoad.newConnection(base, kind));
                Thread.sleep(500);
                assertFalse("a request was answered, or failed, while the listener was stopped", waiting.isDone());
            } finally {
                http.start();
            }
            Verdict verdict = waiting.get(REQUEST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            assertNull("the request that waited for the listener: " + verdict.problem(), verdict.problem());

            http.stop();
            long stopped = System.nanoTime();
            try {
                boolean closed = waitUntil(Duration.ofMillis(HOLD_MS + 5000), Duration.ofMillis(50), () -> {
                    try (Socket socket = new Socket()) {
                        socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 1000);
                        return false;
                    } catch (IOException e) {
                        return true;
                    }
                });
                long afterMs = millis(System.nanoTime() - stopped);
                assertTrue("the socket of a stopped listener was still open " + afterMs + " ms after", closed);
                assertTrue("the socket of a stopped listener closed after " + afterMs + " ms, before hold.ms",
                        afterMs >= HOLD_MS - 100);
            } finally {
                http.start();
            }
            assertTrue("the listener did not serve again after its start", waitUntil(SERVING_TIMEOUT,
                    Duration.ofMillis(50), () -> {
                        try {
                            return SwapLoad.newConnection(base, kind).problem() == null;
                        } catch (IOException e) {
                            return false;
                        }
                    }));
        } finally {
            client.shutdownNow();
        }
    }

    /** Last: its counters restart at zero, so the tests after it could not tell a reload from the load counts. */
    @Test
    public void s12_metrics() throws Exception {
        Case metrics = new Case("io.fractal.metrics");
        metrics.countersMayReset = true;
        metrics.alsoServing = () -> metricsListener().get("/metrics", "text/plain").status == 200
                && http().get("/metrics", "text/plain").status == 200;
        metrics.servingMeans = "GET /metrics answers 200 on the metrics port and on the REST port";
        swap(metrics);
    }

    @Test
    public void s99_table() {
        StringBuilder table = new StringBuilder("\nBundleSwapIT: every Fractal bundle updated under load (")
                .append(KEEP_ALIVE_CLIENTS).append(" keep-alive + ").append(NEW_CONNECTION_CLIENTS)
                .append(" new-connection clients; v1 and v2 on iris, digits, iris-onnx, iris-bundled)\n")
                .append(Row.HEADER);
        synchronized (ROWS) {
            ROWS.values().forEach(row -> table.append(row).append('\n'));
        }
        System.out.println(table);
    }

    // ------------------------------------------------------------------------------------------------
    // The swap

    /** What differs between the bundles. */
    private static final class Case {
        /** The bundle to update, or null for the control run. */
        final String symbolicName;
        /** A modelhost or an engine: its models load again, and requests wait for them. */
        boolean modelsMayReload;
        /** The metrics bundle: counters start again at zero. */
        boolean countersMayReset;
        /** Update through the SSH console's {@code update <id>}, as {@code bin/client} does. */
        boolean viaRemoteShell;
        /** Refreshed after the update: its old revision exports packages that others use. */
        boolean mustRefresh;
        /**
         * The API bundle: not refreshed after its update (a refresh restarts every bundle that uses the API); the new
         * revision exports nothing of its own until then, and nothing may change for the bundles wired to the old.
         */
        boolean takesEffectAtRefresh;
        /** A further sign that the new revision serves, beyond its services. */
        BooleanSupplier alsoServing = () -> true;
        String servingMeans;

        Case(String symbolicName) {
            this.symbolicName = symbolicName;
        }
    }

    private void swap(Case c) throws Exception {
        if (c.symbolicName == null) {
            control();
            return;
        }
        Row row = new Row(c.symbolicName);
        List<String> problems = new ArrayList<>();
        SwapLoad load = null;
        try {
            Bundle bundle = findBundle(c.symbolicName);
            if (bundle == null) {
                row.result = "NO BUNDLE";
                fail("No bundle " + c.symbolicName + " is installed"
                        );
            }
            row.recovery = ensureHealthy();
            FrameworkWiring frameworkWiring = context.getBundle(0).adapt(FrameworkWiring.class);
            State before = state(c);

            WeakReference<BundleRevision> oldRevision = new WeakReference<>(bundle.adapt(BundleRevision.class));
            WeakReference<ClassLoader> oldLoader = new WeakReference<>(loaderOf(bundle));
            Map<Bundle, Integer> ownServices = new HashMap<>();
            // the bundles that a refresh would restart with it, wired to the packages it exports
            List<Bundle> dependents = new ArrayList<>(frameworkWiring.getDependencyClosure(List.of(bundle)));
            dependents.remove(bundle);
            if (c.takesEffectAtRefresh) {
                dependents.clear(); // not refreshed: they keep their revision and their wiring
            }
            Map<Bundle, Use> usesBefore = new LinkedHashMap<>();
            usesBefore.put(bundle, use(bundle));
            for (Bundle dependent : dependents) {
                usesBefore.put(dependent, use(dependent));
            }
            Map<Bundle, WeakReference<ClassLoader>> dependentLoaders = new HashMap<>();
            dependents.forEach(d -> dependentLoaders.put(d, new WeakReference<>(loaderOf(d))));
            for (Bundle b : usesBefore.keySet()) {
                ownServices.put(b, ownServices(b, loaderOf(b)));
            }

            SwapLoad running = new SwapLoad(http().base(), kinds);
            load = running;
            load.awaitWarm(WARM_UP);
            List<String> threadsBefore = serverThreads();
            if (load.failed.get() > 0) {
                problems.add("requests failed before the update (the server was not healthy): " + load.failureText());
            }

            // ---- the update
            long updateAt = load.markUpdate();
            String shellAnswer = null;
            if (c.viaRemoteShell) {
                shellAnswer = updateThroughRemoteShell(bundle);
            } else {
                try (InputStream jar = jarOf(bundle)) {
                    bundle.update(jar);
                } catch (BundleException e) {
                    problems.add("update() threw " + e + (e.getCause() == null ? "" : ", caused by " + e.getCause()));
                }
            }
            long updateReturned = System.nanoTime();
            boolean pending = frameworkWiring.getRemovalPendingBundles().contains(bundle);
            if (c.mustRefresh && !pending) {
                problems.add("expected the old revision of " + c.symbolicName + " to stay pending removal (its package"
                        + " is used by " + names(dependents) + ") until a refresh");
            }
            String refreshed = null;
            if (c.takesEffectAtRefresh) {
                problems.addAll(substitutedExports(bundle, oldRevision));
                row.notes.add("not refreshed: the new revision takes every package it exports from the old one");
            } else if (pending) {
                refreshed = refresh(frameworkWiring, bundle);
            }

            // ---- until the new revision serves
            String[] waitingFor = {""};
            boolean serving = waitUntil(SERVING_TIMEOUT, Duration.ofMillis(10), () -> {
                List<String> missing = new ArrayList<>();
                BundleRevision now = bundle.adapt(BundleRevision.class);
                if (now == null || now == oldRevision.get()) {
                    missing.add("a new revision of " + c.symbolicName);
                }
                for (Map.Entry<Bundle, Use> b : usesBefore.entrySet()) {
                    missing.addAll(b.getValue().missingIn(use(b.getKey()), b.getKey()));
                }
                if (missing.isEmpty() && !holds(c.alsoServing)) {
                    missing.add(c.servingMeans);
                }
                waitingFor[0] = String.join("; ", missing);
                return missing.isEmpty();
            });
            long servingAt = System.nanoTime();
            load.markServing(servingAt);
            if (!serving) {
                problems.add("the new revision did not serve within " + SERVING_TIMEOUT.toSeconds() + " s: still missing: "
                        + waitingFor[0] + "; bundle state " + stateName(bundle.getState()));
            }

            // ---- a moment more of load: every kind of request answered after the swap, by both modelhosts
            boolean flowing = waitUntil(SERVING_TIMEOUT, Duration.ofMillis(20),
                    () -> running.everyKindAnsweredAfter(servingAt) && running.bothModelhostsAnsweredAfter(servingAt)
                            && System.nanoTime() - servingAt >= AFTER_SERVING.toNanos());
            if (!flowing) {
                problems.add("after the swap not every request kind was answered correctly by both modelhosts within "
                        + SERVING_TIMEOUT.toSeconds() + " s: " + load.afterSwapText(servingAt));
            }
            List<String> threadsAfter = serverThreads();
            load.close();

            // ---- the figures
            row.fill(load, updateAt, servingAt);
            row.updateMs = millis(updateReturned - updateAt);
            row.threads = threadsBefore.size() + " -> " + threadsAfter.size();
            if (refreshed != null) {
                row.notes.add("refreshed " + refreshed);
            }
            if (shellAnswer != null) {
                row.notes.add("the SSH console answered the update with " + shellAnswer);
            }
            List<String> newThreads = new ArrayList<>(threadsAfter);
            threadsBefore.forEach(newThreads::remove);
            if (threadsAfter.size() > threadsBefore.size()) {
                row.notes.add("threads that were not there before: " + abbreviate(newThreads.toString(), 300));
            }

            // ---- the new revision is the one serving
            if (serving) {
                problems.addAll(newRevisionProblems(bundle, oldLoader, ownServices.get(bundle)));
                for (Bundle dependent : dependents) {
                    problems.addAll(newRevisionProblems(dependent, dependentLoaders.get(dependent),
                            ownServices.get(dependent)));
                    problems.addAll(wiredToNewRevision(dependent, bundle, oldRevision));
                }
            }

            // ---- the failures
            if (load.failed.get() > 0) {
                problems.add(load.failed.get() + " of " + load.total.get() + " requests failed"
                        + ": " + load.failureText());
            }

            // ---- the state survived
            problems.addAll(stateProblems(c, before, row));

            row.oldLoaderCollected = c.takesEffectAtRefresh ? "in use" : collected(oldLoader) ? "yes" : "no";
            row.result = problems.isEmpty() ? "PASS" : "FAIL";
        } finally {
            if (load != null) {
                load.close();
            }
            report(row, problems);
        }
        assertTrue(c.symbolicName + " updated under load (" + row + "):\n  - " + String.join("\n  - ", problems),
                problems.isEmpty());
    }

    /** The same load, as long, with no update: its figures are the table's reference, and nothing may fail. */
    private void control() throws Exception {
        Row row = new Row("(no swap)");
        List<String> problems = new ArrayList<>();
        SwapLoad load = null;
        try {
            row.recovery = ensureHealthy();
            SwapLoad running = new SwapLoad(http().base(), kinds);
            load = running;
            load.awaitWarm(WARM_UP);
            List<String> threadsBefore = serverThreads();
            long at = load.markUpdate();
            load.markServing(at);
            waitUntil(SERVING_TIMEOUT, Duration.ofMillis(20), () -> System.nanoTime() - at
                    >= AFTER_SERVING.toNanos() + WINDOW_TAIL.toNanos() && running.everyKindAnsweredAfter(at)
                    && running.bothModelhostsAnsweredAfter(at));
            List<String> threadsAfter = serverThreads();
            load.close();
            row.fill(load, at, at);
            row.toServingMs = -1;
            row.toFirstServedMs = -1;
            row.threads = threadsBefore.size() + " -> " + threadsAfter.size();
            if (load.failed.get() > 0) {
                problems.add(load.failed.get() + " of " + load.total.get() + " requests failed with no update at all: "
                        + load.failureText());
            }
            row.result = problems.isEmpty() ? "PASS" : "FAIL";
        } finally {
            if (load != null) {
                load.close();
            }
            report(row, problems);
        }
        assertTrue("the load with no update (" + row + "):\n  - " + String.join("\n  - ", problems), problems.isEmpty());
    }

    private static void report(Row row, List<String> problems) {
        if (row.result == null) {
            row.result = "ERROR";
        }
        synchronized (ROWS) {
            ROWS.put(row.bundle, row.toString());
        }
        System.out.println("BundleSwapIT " + Row.HEADER + row + (problems.isEmpty() ? ""
                : "\nBundleSwapIT " + row.bundle + " problems:\n  - " + String.join("\n  - ", problems)));
    }

    /** The jar of the bundle as the distribution has it: its location, a file: URL into bundle/. */
    private static InputStream jarOf(Bundle bundle) throws IOException {
        String location = bundle.getLocation();
        if (location.startsWith("file:")) {
            return new URL(location).openStream();
        }
        return Files.newInputStream(distributionJar(bundle.getSymbolicName() + "-"));
    }

    /** Refreshes the bundle (and the bundles wired to it) and waits for the refresh to end; what it refreshed. */
    private String refresh(FrameworkWiring frameworkWiring, Bundle bundle) throws InterruptedException {
        Collection<Bundle> closure = frameworkWiring.getDependencyClosure(List.of(bundle));
        CountDownLatch done = new CountDownLatch(1);
        FrameworkEvent[] event = new FrameworkEvent[1];
        frameworkWiring.refreshBundles(List.of(bundle), e -> {
            event[0] = e;
            done.countDown();
        });
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new AssertionError("the refresh of " + bundle.getSymbolicName() + " did not end within 60 s");
        }
        if (event[0].getType() != FrameworkEvent.PACKAGES_REFRESHED) {
            throw new AssertionError("the refresh of " + bundle.getSymbolicName() + " ended with " + event[0].getType()
                    + ": " + event[0].getThrowable());
        }
        return names(closure);
    }

    /**
     * Sends {@code update <id>} through the SSH console, as {@code bin/client "update <id>"} does (a new session, an
     * exec channel): what it answered, with its exit status.
     */
    private String updateThroughRemoteShell(Bundle bundle) {
        try {
            SshConsoleClient.Result answer = sshExec("update " + bundle.getBundleId());
            return "status " + answer.status() + " '" + withoutLogLines(answer.out() + answer.err()) + "'";
        } catch (IOException e) {
            return "no answer (" + e + ")";
        }
    }

    /**
     * An answer without the server's log lines: Gogo routes what the command's thread prints to System.err to the
     * session, and so the log lines of the bundles the update restarts on that thread.
     */
    private static String withoutLogLines(String answer) {
        return answer.lines()
                .filter(l -> !l.matches("^(\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d:\\d\\d\\.\\d+ +[A-Z]+ +\\[.*"))
                .collect(Collectors.joining(" ")).trim();
    }

    /** Whether a new SSH session runs the command with an answer that contains {@code expected}. */
    private boolean remoteShellAnswers(String command, String expected) {
        try {
            SshConsoleClient.Result answer = sshExec(command);
            return answer.status() == 0 && answer.out().contains(expected);
        } catch (IOException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Revisions, class loaders and services

    private static ClassLoader loaderOf(Bundle bundle) {
        BundleWiring wiring = bundle.adapt(BundleWiring.class);
        return wiring == null ? null : wiring.getClassLoader();
    }

    /**
     * What a bundle's services are and who uses them: the object classes it registers (with their counts), those of
     * them that other bundles use, and the object classes of the services it uses.
     */
    private final class Use {
        final Map<String, Integer> registered = new TreeMap<>();
        final Set<String> usedByOthers = new TreeSet<>();
        final Set<String> inUse = new TreeSet<>();

        Use(Bundle bundle) {
            Bundle probe = context.getBundle();
            ServiceReference<?>[] registrations = bundle.getRegisteredServices();
            for (ServiceReference<?> ref : registrations == null ? new ServiceReference<?>[0] : registrations) {
                String key = objectClass(ref);
                registered.merge(key, 1, Integer::sum);
                Bundle[] users = ref.getUsingBundles();
                if (users != null && Arrays.stream(users).anyMatch(u -> !u.equals(probe) && !u.equals(bundle))) {
                    usedByOthers.add(key);
                }
            }
            ServiceReference<?>[] used = bundle.getServicesInUse();
            for (ServiceReference<?> ref : used == null ? new ServiceReference<?>[0] : used) {
                if (ref.getBundle() != null && !ref.getBundle().equals(probe)) {
                    inUse.add(objectClass(ref));
                }
            }
        }

        /** What this (the use before the update) has that {@code now} has not yet. */
        List<String> missingIn(Use now, Bundle bundle) {
            List<String> missing = new ArrayList<>();
            String name = bundle.getSymbolicName();
            if (bundle.getState() != Bundle.ACTIVE) {
                missing.add(name + " ACTIVE (it is " + stateName(bundle.getState()) + ")");
                return missing;
            }
            registered.forEach((key, count) -> {
                if (now.registered.getOrDefault(key, 0) < count) {
                    missing.add(name + " registering " + count + " " + key + " (" + now.registered.getOrDefault(key, 0)
                            + " now)");
                }
            });
            for (String key : usedByOthers) {
                if (!now.usedByOthers.contains(key)) {
                    missing.add("a consumer using " + name + "'s " + key);
                }
            }
            for (String key : inUse) {
                if (!now.inUse.contains(key)) {
                    missing.add(name + " using a " + key);
                }
            }
            return missing;
        }
    }

    private Use use(Bundle bundle) {
        return new Use(bundle);
    }

    private static String objectClass(ServiceReference<?> ref) {
        Object classes = ref.getProperty(Constants.OBJECTCLASS);
        String key = classes instanceof String[] names ? String.join(",", names) : String.valueOf(classes);
        Object component = ref.getProperty("component.name");
        Object id = ref.getProperty("id");
        return key + (component != null && key.equals("java.lang.Object") ? "[" + component + "]" : "")
                + (id != null ? "[id=" + id + "]" : "");
    }

    /**
     * How many of the bundle's registered services are instances of its own classes (of this class loader): not those
     * an extender registers on its behalf, such as SCR's {@code ManagedService} for a component's configuration.
     */
    private int ownServices(Bundle bundle, ClassLoader loader) {
        int own = 0;
        ServiceReference<?>[] registrations = bundle.getRegisteredServices();
        for (ServiceReference<?> ref : registrations == null ? new ServiceReference<?>[0] : registrations) {
            Object service = context.getService(ref);
            if (service != null) {
                if (loader != null && service.getClass().getClassLoader() == loader) {
                    own++;
                }
                context.ungetService(ref);
            }
        }
        return own;
    }

    /**
     * The bundle's new revision serves: a new class loader, as many services of its own classes as before, all of the
     * new class loader, and no service that is an instance of a class of the old one (or of a subclass of one).
     */
    private List<String> newRevisionProblems(Bundle bundle, WeakReference<ClassLoader> oldLoaderRef, int ownBefore) {
        List<String> problems = new ArrayList<>();
        String name = bundle.getSymbolicName();
        ClassLoader newLoader = loaderOf(bundle);
        if (newLoader == null) {
            problems.add(name + " has no wiring after the update (state " + stateName(bundle.getState()) + ")");
            return problems;
        }
        if (newLoader == oldLoaderRef.get()) {
            problems.add(name + " still has its old class loader: no new revision");
        }
        int own = 0;
        ServiceReference<?>[] registrations = bundle.getRegisteredServices();
        for (ServiceReference<?> ref : registrations == null ? new ServiceReference<?>[0] : registrations) {
            Object service = context.getService(ref);
            try {
                if (service == null) {
                    problems.add(name + "'s service " + objectClass(ref) + " gives no object");
                    continue;
                }
                Set<ClassLoader> loaders = new HashSet<>();
                for (Class<?> type = service.getClass(); type != null; type = type.getSuperclass()) {
                    loaders.add(type.getClassLoader());
                }
                if (oldLoaderRef.get() != null && loaders.contains(oldLoaderRef.get())) {
                    problems.add(name + "'s service " + objectClass(ref) + " is a " + service.getClass().getName()
                            + " of the OLD revision's class loader");
                } else if (service.getClass().getClassLoader() == newLoader) {
                    own++;
                }
            } finally {
                if (service != null) {
                    context.ungetService(ref);
                }
            }
        }
        if (own < ownBefore) {
            problems.add(name + " registers " + own + " services of its new revision's classes, " + ownBefore
                    + " of its own classes before the update");
        }
        return problems;
    }

    /**
     * The new revision of a bundle updated without a refresh exports none of its packages itself: it imports each from
     * the old revision, which stays the one every bundle uses (one API class space), until a refresh.
     */
    private static List<String> substitutedExports(Bundle bundle, WeakReference<BundleRevision> oldRevision) {
        List<String> problems = new ArrayList<>();
        BundleWiring wiring = bundle.adapt(BundleWiring.class);
        BundleRevision old = oldRevision.get();
        if (wiring == null || old == null || wiring.getRevision() == old) {
            problems.add(bundle.getSymbolicName() + " has no new resolved revision beside the old one after the update");
            return problems;
        }
        Set<String> exported = new TreeSet<>();
        for (BundleCapability cap : old.getDeclaredCapabilities(BundleRevision.PACKAGE_NAMESPACE)) {
            exported.add((String) cap.getAttributes().get(BundleRevision.PACKAGE_NAMESPACE));
        }
        Set<String> fromOld = new TreeSet<>();
        for (BundleWire wire : wiring.getRequiredWires(BundleRevision.PACKAGE_NAMESPACE)) {
            if (wire.getProvider() == old) {
                fromOld.add((String) wire.getCapability().getAttributes().get(BundleRevision.PACKAGE_NAMESPACE));
            }
        }
        Set<String> own = new TreeSet<>(exported);
        own.removeAll(fromOld);
        if (exported.isEmpty() || !own.isEmpty()) {
            problems.add("the new revision of " + bundle.getSymbolicName() + " exports " + own + " itself beside its"
                    + " old revision (two class spaces for the bundles resolved after it); it took " + fromOld
                    + " of " + exported + " from the old revision");
        }
        for (BundleWire wire : wiring.getProvidedWires(BundleRevision.PACKAGE_NAMESPACE)) {
            if (wire.getRequirer().getBundle() != bundle) {
                problems.add(wire.getRequirer().getBundle().getSymbolicName() + " is wired to the new revision of "
                        + bundle.getSymbolicName() + " before any refresh");
            }
        }
        return problems;
    }

    /** A bundle the refresh restarted is wired to the new revision of the bundle that was updated. */
    private static List<String> wiredToNewRevision(Bundle dependent, Bundle updated,
            WeakReference<BundleRevision> oldRevision) {
        List<String> problems = new ArrayList<>();
        BundleWiring wiring = dependent.adapt(BundleWiring.class);
        BundleRevision current = updated.adapt(BundleRevision.class);
        if (wiring == null) {
            problems.add(dependent.getSymbolicName() + " is not resolved after the refresh");
            return problems;
        }
        boolean wiredToNew = false;
        for (BundleWire wire : wiring.getRequiredWires(null)) {
            if (wire.getProvider().getBundle().equals(updated)) {
                if (wire.getProvider() == oldRevision.get()) {
                    problems.add(dependent.getSymbolicName() + " is still wired to the old revision of "
                            + updated.getSymbolicName());
                } else if (wire.getProvider() == current) {
                    wiredToNew = true;
                }
            }
        }
        if (!wiredToNew) {
            problems.add(dependent.getSymbolicName() + " is not wired to the new revision of " + updated.getSymbolicName());
        }
        return problems;
    }

    /** Whether the class loader is collected after a few GCs (nothing of the server keeps the old revision). */
    private static boolean collected(WeakReference<ClassLoader> loader) {
        return waitUntil(Duration.ofSeconds(3), Duration.ofMillis(200), () -> {
            System.gc();
            return loader.get() == null;
        });
    }

    /**
     * The names of the live threads that are not the test's own (the server's and the framework's), with the
     * numbers taken out of them, sorted: two lists compare as multisets.
     */
    private static List<String> serverThreads() {
        List<String> names = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            if (t.isAlive() && !name.startsWith("swap-load-") && !name.startsWith("HttpClient-")
                    && !name.startsWith("ForkJoinPool") && !name.startsWith("awaitility")) {
                names.add(name.replaceAll("\\d+", "N"));
            }
        }
        names.sort(null);
        return names;
    }

    /** A condition that may throw (a listener not up yet) counts as not holding. */
    private static boolean holds(BooleanSupplier condition) {
        try {
            return condition.getAsBoolean();
        } catch (RuntimeException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // The server's state before and after

    /** What must be the same after a swap as before it. */
    private record State(Map<String, String> models, Map<String, String> modelhosts, String strategy,
            Map<String, Double> loads, Set<String> series, List<String> unreadable) {
    }

    private State state(Case c) {
        Map<String, String> models = new TreeMap<>();
        Map<String, String> hosts = new TreeMap<>();
        List<String> unreadable = new ArrayList<>();
        String strategyNow = null;
        Map<String, Double> loads = new TreeMap<>();
        Set<String> series = new TreeSet<>();
        try {
            HttpResult list = http().get("/api/v1/models");
            if (list.status != 200) {
                unreadable.add("GET /api/v1/models -> " + abbreviate(list.toString(), 200));
            }
            for (JsonNode m : list.json.path("models")) {
                List<String> versions = new ArrayList<>();
                for (JsonNode v : m.path("versions")) {
                    versions.add(v.path("version").asText() + ":" + v.path("sha256").asText() + ":"
                            + v.path("source").asText() + ":" + v.path("engine").asText() + ":" + v.path("created").asText());
                }
                models.put(m.path("name").asText(), "default " + m.path("default_version").asText() + " " + versions);
            }
            HttpResult hostList = http().get("/api/v1/modelhosts");
            if (hostList.status != 200) {
                unreadable.add("GET /api/v1/modelhosts -> " + abbreviate(hostList.toString(), 200));
            }
            for (JsonNode h : hostList.json.path("modelhosts")) {
                Set<String> loaded = new TreeSet<>();
                h.path("loaded").forEach(l -> loaded.add(l.path("model").asText() + ":" + l.path("version").asText() + "="
                        + l.path("state").asText()));
                hosts.put(h.path("id").asText(), h.path("state").asText() + ", " + h.path("workers").asText()
                        + " workers, queue " + h.path("queue_capacity").asText() + ", models " + h.path("models").asText()
                        + ", loaded " + loaded);
            }
            HttpResult balancer = http().get("/api/v1/balancer");
            if (balancer.status != 200) {
                unreadable.add("GET /api/v1/balancer -> " + abbreviate(balancer.toString(), 200));
            }
            strategyNow = balancer.json.path("strategy").asText(null);
            HttpResult scrape = metricsListener().get("/metrics", "text/plain");
            if (scrape.status != 200) {
                unreadable.add("GET /metrics on the metrics port -> " + abbreviate(scrape.toString(), 200));
            } else {
                Exposition exposition = Exposition.parse(scrape.body);
                for (Exposition.Sample s : exposition.samples()) {
                    series.add(s.name());
                    if (s.name().equals(LOAD_COUNT)) {
                        loads.put(new TreeMap<>(s.labels()).toString(), s.value());
                    }
                }
            }
        } catch (RuntimeException e) {
            unreadable.add(e.toString());
        }
        return new State(models, hosts, strategyNow, loads, series, unreadable);
    }

    private List<String> stateProblems(Case c, State before, Row row) {
        List<String> problems = new ArrayList<>();
        if (!before.unreadable().isEmpty()) {
            problems.add("the state before the update could not be read: " + before.unreadable());
        }
        waitUntil(SETTLE_TIMEOUT, Duration.ofMillis(200), () -> {
            State after = state(c);
            return after.unreadable().isEmpty() && after.models().equals(before.models())
                    && after.modelhosts().equals(before.modelhosts())
                    && Objects.equals(after.strategy(), before.strategy())
                    && after.series().containsAll(before.series());
        });
        State now = state(c);
        if (!now.unreadable().isEmpty()) {
            problems.add("the state after the update could not be read: " + now.unreadable());
        }
        if (!now.models().equals(before.models())) {
            problems.add("the repository's models changed: before " + before.models() + ", after " + now.models());
        }
        if (!now.modelhosts().equals(before.modelhosts())) {
            problems.add("the modelhosts changed (configuration or models loaded): before " + before.modelhosts()
                    + ", after " + now.modelhosts());
        }
        if (!Objects.equals(now.strategy(), before.strategy())) {
            problems.add("the balancer's strategy changed: before " + before.strategy() + ", after " + now.strategy());
        }
        Set<String> vanished = new TreeSet<>(before.series());
        vanished.removeAll(now.series());
        if (!vanished.isEmpty() && now.unreadable().isEmpty()) {
            problems.add("metric series vanished (not back " + SETTLE_TIMEOUT.toSeconds() + " s after the swap, with "
                    + "traffic; a series such as a model load timer comes back only with the next load): " + vanished);
        }
        if (!c.modelsMayReload && !c.countersMayReset) {
            if (before.loads().isEmpty()) {
                row.notes.add("reloads not checked: no " + LOAD_COUNT + " series before the update");
            } else if (!now.loads().equals(before.loads())) {
                problems.add("models were loaded again (" + LOAD_COUNT + "): before " + before.loads() + ", after "
                        + now.loads());
            }
        }
        return problems;
    }

    // ------------------------------------------------------------------------------------------------
    // A healthy server before each swap

    /**
     * Waits until every kind of request answers correctly and every model is READY on both modelhosts. The first
     * time, deploys the ONNX model and the example model bundle and switches the balancer away from its default
     * strategy. When the server is not healthy (an earlier swap broke it), refreshes and starts every Fractal bundle
     * and waits again; returns what it did then, or null.
     */
    private String ensureHealthy() throws Exception {
        prepareOnce();
        List<String> problems = healthProblems(HEALTHY_TIMEOUT);
        if (problems.isEmpty()) {
            return null;
        }
        String recovery = "unhealthy before the update (" + abbreviate(String.join("; ", problems), 300)
                + "): refreshed and started every Fractal bundle";
        System.out.println("BundleSwapIT: " + recovery);
        restartFractalBundles();
        problems = healthProblems(Duration.ofSeconds(90));
        if (!problems.isEmpty()) {
            fail("The server is not healthy before the update, even after a refresh of every Fractal bundle: " + problems);
        }
        return recovery;
    }

    private void prepareOnce() throws Exception {
        if (preparationProblem != null) {
            fail("The server could not be prepared in an earlier test: " + preparationProblem);
        }
        if (kinds != null) {
            return;
        }
        try {
            awaitServer();
            if (http().get("/api/v1/models/iris-onnx").status == 404) {
                deploy("/models/iris.onnx", "iris-onnx.onnx");
            }
            if (http().get("/api/v1/models/iris-bundled").status == 404) {
                deployBytes(Files.readAllBytes(Paths.get(property(MODEL_BUNDLE))), "iris-model.jar");
            }
            for (String model : List.of("iris", "digits", "iris-onnx", "iris-bundled")) {
                awaitReadyOn(model, MODELHOSTS.toArray(new String[0]));
            }
            List<Kind> all = new ArrayList<>();
            for (String model : List.of("iris", "digits", "iris-onnx", "iris-bundled")) {
                int version = modelView(model).path("default_version").asInt();
                all.add(Kind.v1(model, version));
                all.add(Kind.v2(model, version));
            }
            String current = balancer().path("strategy").asText();
            strategy = current.equals("POWER_OF_TWO") ? "ROUND_ROBIN" : "POWER_OF_TWO";
            HttpResult switched = http().put("/api/v1/balancer", Map.of("strategy", strategy));
            if (switched.status != 200) {
                throw new IllegalStateException("PUT /api/v1/balancer " + strategy + " -> " + switched);
            }
            kinds = List.copyOf(all);
        } catch (Exception | AssertionError e) {
            preparationProblem = e.toString();
            throw e;
        }
    }

    private List<String> healthProblems(Duration timeout) {
        List<String> problems = new ArrayList<>();
        waitUntil(timeout, Duration.ofMillis(200), () -> {
            problems.clear();
            try {
                for (Kind kind : kinds) {
                    HttpResult answer = http().post(kind.path, kind.body);
                    String problem = kind.check(answer.status, answer.body).problem();
                    if (problem != null) {
                        problems.add(kind.name + ": " + problem);
                    }
                }
                for (String model : List.of("iris", "digits", "iris-onnx", "iris-bundled")) {
                    HttpResult view = http().get("/api/v1/models/" + model);
                    JsonNode version = versionOf(view.json, view.json.path("default_version").asInt());
                    for (String host : MODELHOSTS) {
                        String state = version == null ? "absent" : version.path("modelhosts").path(host).asText();
                        if (!"READY".equals(state)) {
                            problems.add(model + " on " + host + ": " + state);
                        }
                    }
                }
                for (Bundle b : context.getBundles()) {
                    if (b.getSymbolicName() != null && b.getSymbolicName().startsWith("io.fractal.")
                            && b.getState() != Bundle.ACTIVE && b.getHeaders().get(Constants.FRAGMENT_HOST) == null) {
                        problems.add(b.getSymbolicName() + " is " + stateName(b.getState()));
                    }
                }
            } catch (RuntimeException e) {
                problems.add(e.toString());
            }
            return problems.isEmpty();
        });
        return problems;
    }

    /** What an operator does to a wedged server short of a restart: refresh every Fractal bundle, start them all. */
    private void restartFractalBundles() throws Exception {
        List<Bundle> fractal = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            String name = b.getSymbolicName();
            // not the API: the probe may be wired to it
            if (name != null && name.startsWith("io.fractal.") && !name.equals("io.fractal.api")
                    && !name.startsWith("io.fractal.examples.") && !b.equals(context.getBundle())) {
                fractal.add(b);
            }
        }
        FrameworkWiring frameworkWiring = context.getBundle(0).adapt(FrameworkWiring.class);
        CountDownLatch done = new CountDownLatch(1);
        frameworkWiring.refreshBundles(fractal, e -> done.countDown());
        done.await(60, TimeUnit.SECONDS);
        for (Bundle b : fractal) {
            if (b.getState() != Bundle.ACTIVE && b.getHeaders().get(Constants.FRAGMENT_HOST) == null) {
                try {
                    b.start();
                } catch (BundleException e) {
                    System.out.println("BundleSwapIT: cannot start " + b.getSymbolicName() + ": " + e);
                }
            }
        }
    }

    private Bundle findBundle(String symbolicName) {
        return Arrays.stream(context.getBundles()).filter(b -> symbolicName.equals(b.getSymbolicName())).findFirst()
                .orElse(null);
    }

    // ------------------------------------------------------------------------------------------------
    // Small things

    private static boolean waitUntil(Duration timeout, Duration poll, BooleanSupplier condition) {
        try {
            // in this thread: a condition is never interrupted half-way (an HTTP call would end in an exception)
            await().atMost(timeout).pollInSameThread().pollDelay(Duration.ZERO).pollInterval(poll)
                    .until(condition::getAsBoolean);
            return true;
        } catch (ConditionTimeoutException e) {
            return false;
        }
    }

    private static String names(Collection<Bundle> bundles) {
        return bundles.stream().map(Bundle::getSymbolicName).sorted().collect(Collectors.joining(", ", "[", "]"));
    }

    private static String stateName(int state) {
        return switch (state) {
            case Bundle.ACTIVE -> "ACTIVE";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.INSTALLED -> "INSTALLED";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            case Bundle.UNINSTALLED -> "UNINSTALLED";
            default -> String.valueOf(state);
        };
    }

    static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    static String abbreviate(String text, int max) {
        String oneLine = text == null ? "null" : text.replace('\n', ' ').replace('\r', ' ');
        return oneLine.length() <= max ? oneLine : oneLine.substring(0, max) + "...(" + oneLine.length() + " chars)";
    }

    // ------------------------------------------------------------------------------------------------
    // The requests and their expected answers

    /** What an answer was: correct (and from which modelhost, when it says), or what was wrong with it. */
    record Verdict(String problem, String modelhost) {
        static Verdict ok(String modelhost) {
            return new Verdict(null, modelhost);
        }

        static Verdict wrong(String problem) {
            return new Verdict(problem, null);
        }
    }

    /** One kind of request of the load: a model through v1 or v2, with the values and version it must answer. */
    static final class Kind {
        final String name;
        final String model;
        final boolean v2;
        final String path;
        final String body;
        final byte[] bodyBytes;
        final double[] expected;
        final JsonNode labels;
        final int version;

        private Kind(String model, boolean v2, String path, Object body, double[] expected, JsonNode labels, int version) {
            this.name = (v2 ? "v2 " : "v1 ") + model;
            this.model = model;
            this.v2 = v2;
            this.path = path;
            try {
                this.body = JSON.writeValueAsString(body);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            this.bodyBytes = this.body.getBytes(StandardCharsets.UTF_8);
            this.expected = expected;
            this.labels = labels;
            this.version = version;
        }

        /** The reference file of the model: iris-bundled is the iris model shipped in a bundle. */
        private static JsonNode reference(String model) {
            return expected(model.equals("iris-bundled") ? "iris" : model);
        }

        private static JsonNode input(JsonNode reference) {
            return reference.path("inputs").elements().next();
        }

        private static String inputName(JsonNode reference) {
            return reference.path("inputs").fieldNames().next();
        }

        private static double[] outputs(JsonNode reference) {
            return flatten(reference.path("outputs").elements().next().path("data"));
        }

        static Kind v1(String model, int version) {
            JsonNode reference = reference(model);
            // the ONNX file has no sidecar, hence no labels
            JsonNode labels = model.endsWith("-onnx") ? null : reference.path("predicted");
            return new Kind(model, false, "/api/v1/models/" + model + "/prediction",
                    Map.of("values", input(reference).path("data")), outputs(reference), labels, version);
        }

        static Kind v2(String model, int version) {
            JsonNode reference = reference(model);
            JsonNode input = input(reference);
            List<Double> flat = new ArrayList<>();
            for (double d : flatten(input.path("data"))) {
                flat.add(d);
            }
            Map<String, Object> tensor = new LinkedHashMap<>();
            tensor.put("name", inputName(reference));
            tensor.put("shape", input.path("shape"));
            tensor.put("datatype", "FP32");
            tensor.put("data", flat);
            return new Kind(model, true, "/v2/models/" + model + "/infer",
                    Map.of("id", "swap-" + model, "inputs", List.of(tensor)), outputs(reference), null, version);
        }

        /** Checks an answer: 200, whole JSON, this model and version, the reference values (and labels). */
        Verdict check(int status, String text) {
            if (status != 200) {
                return Verdict.wrong(status + " " + abbreviate(text, 300));
            }
            JsonNode json;
            try {
                json = JSON.readTree(text);
            } catch (IOException e) {
                return Verdict.wrong("garbled 200 body: " + abbreviate(text, 300));
            }
            if (json == null || !json.isObject()) {
                return Verdict.wrong("garbled 200 body: " + abbreviate(text, 300));
            }
            JsonNode values;
            if (v2) {
                if (!model.equals(json.path("model_name").asText()) || !String.valueOf(version).equals(
                        json.path("model_version").asText())) {
                    return Verdict.wrong("model or version: " + abbreviate(text, 300));
                }
                if (!("swap-" + model).equals(json.path("id").asText())) {
                    return Verdict.wrong("another request's id: " + abbreviate(text, 300));
                }
                values = json.path("outputs").path(0).path("data");
            } else {
                if (!model.equals(json.path("model").asText()) || version != json.path("version").asInt()) {
                    return Verdict.wrong("model or version: " + abbreviate(text, 300));
                }
                if (labels != null && !labels.equals(json.path("labels"))) {
                    return Verdict.wrong("labels: " + abbreviate(text, 300));
                }
                values = json.path("values");
            }
            double[] actual;
            try {
                actual = flatten(values);
            } catch (AssertionError e) {
                return Verdict.wrong("values: " + abbreviate(text, 300));
            }
            if (actual.length != expected.length) {
                return Verdict.wrong(actual.length + " values instead of " + expected.length + ": " + abbreviate(text, 300));
            }
            for (int i = 0; i < expected.length; i++) {
                if (Math.abs(actual[i] - expected[i]) > TOLERANCE) {
                    return Verdict.wrong("value " + i + " is " + actual[i] + ", not " + expected[i] + ": "
                            + abbreviate(text, 300));
                }
            }
            return Verdict.ok(json.path("modelhost").asText(null));
        }
    }

    // ------------------------------------------------------------------------------------------------
    // The load

    /**
     * Closed-loop client threads cycling through the request kinds until closed: some on keep-alive connections
     * (java.net.http), some opening a connection per request and reading it to its end (so that a refused
     * connection, a lost one and a garbled answer are told apart). Every answer is kept with its send and answer times.
     */
    static final class SwapLoad implements AutoCloseable {
        enum Outcome { OK, FAILED }

        record Sample(int kind, long sent, long done, Outcome outcome, String modelhost) {
        }

        private final URI base;
        private final List<Kind> kinds;
        private final List<Thread> threads = new ArrayList<>();
        private final ConcurrentLinkedQueue<Sample> samples = new ConcurrentLinkedQueue<>();
        private final ConcurrentLinkedQueue<String> failureSamples = new ConcurrentLinkedQueue<>();
        private final Map<String, AtomicLong> failureKinds = new java.util.concurrent.ConcurrentHashMap<>();
        final AtomicLong total = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        private final AtomicInteger counter = new AtomicInteger();
        private final long startedAt = System.nanoTime();
        private volatile long updateAt;
        private volatile long servingAt;
        private volatile boolean running = true;

        SwapLoad(URI base, List<Kind> kinds) {
            this.base = base;
            this.kinds = kinds;
            for (int i = 0; i < KEEP_ALIVE_CLIENTS; i++) {
                int offset = i;
                threads.add(new Thread(() -> loop(offset, true), "swap-load-keepalive-" + i));
            }
            for (int i = 0; i < NEW_CONNECTION_CLIENTS; i++) {
                int offset = KEEP_ALIVE_CLIENTS + i;
                threads.add(new Thread(() -> loop(offset, false), "swap-load-connection-" + i));
            }
            threads.forEach(t -> {
                t.setDaemon(true);
                t.start();
            });
        }

        private void loop(int offset, boolean keepAlive) {
            // a client (and so a connection) per thread, always busy: never an idle pooled connection that the
            // server's keep-alive timeout closes just as a request is sent on it
            HttpClient client = keepAlive ? HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(5)).build() : null;
            int next = offset;
            while (running) {
                int k = next++ % kinds.size();
                Kind kind = kinds.get(k);
                long sent = System.nanoTime();
                Outcome outcome;
                String problem;
                String modelhost = null;
                try {
                    Verdict verdict = keepAlive ? keepAlive(client, kind) : newConnection(base, kind);
                    problem = verdict.problem();
                    modelhost = verdict.modelhost();
                    outcome = problem == null ? Outcome.OK : Outcome.FAILED;
                } catch (ConnectException e) {
                    outcome = Outcome.FAILED;
                    problem = "connection refused (" + e.getMessage() + ")";
                } catch (HttpTimeoutException | SocketTimeoutException e) {
                    outcome = Outcome.FAILED;
                    problem = "no answer within " + REQUEST_TIMEOUT.toSeconds() + " s (" + e + ")";
                } catch (IOException e) {
                    outcome = Outcome.FAILED;
                    problem = "connection lost (" + e + ")";
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (RuntimeException e) {
                    outcome = Outcome.FAILED;
                    problem = e.toString();
                }
                long done = System.nanoTime();
                samples.add(new Sample(k, sent, done, outcome, modelhost));
                total.incrementAndGet();
                if (outcome == Outcome.FAILED) {
                    failed.incrementAndGet();
                    String category = problem.replaceAll("[:(].*", "").trim();
                    failureKinds.computeIfAbsent(category, x -> new AtomicLong()).incrementAndGet();
                    if (failureSamples.size() < 12) {
                        failureSamples.add(String.format(Locale.ROOT, "%s [%s, %s] sent at %s, after %d ms: %s",
                                kind.name, keepAlive ? "keep-alive" : "new connection", Thread.currentThread().getName(),
                                relative(sent), millis(done - sent), problem));
                    }
                }
            }
        }

        private Verdict keepAlive(HttpClient client, Kind kind) throws IOException, InterruptedException {
            HttpRequest request = HttpRequest.newBuilder(base.resolve(kind.path)).timeout(REQUEST_TIMEOUT)
                    .header("Content-Type", "application/json").header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(kind.bodyBytes)).build();
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            return kind.check(response.statusCode(), response.body());
        }

        /** One request on a connection of its own, read to the end: a refused connect throws ConnectException. */
        static Verdict newConnection(URI base, Kind kind) throws IOException {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5000);
                socket.setSoTimeout((int) REQUEST_TIMEOUT.toMillis());
                OutputStream out = socket.getOutputStream();
                String head = "POST " + kind.path + " HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort()
                        + "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: "
                        + kind.bodyBytes.length + "\r\nConnection: close\r\n\r\n";
                out.write(head.getBytes(StandardCharsets.ISO_8859_1));
                out.write(kind.bodyBytes);
                out.flush();
                java.io.InputStream in = socket.getInputStream();
                int first = in.read();
                byte[] rest = in.readAllBytes();
                byte[] response = new byte[(first >= 0 ? 1 : 0) + rest.length];
                if (first >= 0) {
                    response[0] = (byte) first;
                }
                System.arraycopy(rest, 0, response, first >= 0 ? 1 : 0, rest.length);
                return parse(kind, response);
            } catch (ConnectException e) {
                throw e;
            } catch (IOException e) {
                if (e instanceof SocketTimeoutException) {
                    throw e;
                }
                throw new IOException("after the connection was accepted: " + e, e);
            }
        }

        /** An HTTP/1.1 response read to the end of its connection: status line, headers, a whole body. */
        private static Verdict parse(Kind kind, byte[] response) {
            if (response.length == 0) {
                return Verdict.wrong("the connection closed without an answer");
            }
            String text = new String(response, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end < 0 || !text.startsWith("HTTP/1.1 ")) {
                return Verdict.wrong("garbled answer: " + abbreviate(text, 300));
            }
            String[] lines = text.substring(0, end).split("\r\n");
            int status;
            try {
                status = Integer.parseInt(lines[0].substring(9, 12));
            } catch (RuntimeException e) {
                return Verdict.wrong("garbled status line: " + abbreviate(lines[0], 100));
            }
            Map<String, String> headers = new HashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0) {
                    headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
                }
            }
            byte[] body = Arrays.copyOfRange(response, end + 4, response.length);
            if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
                body = dechunk(body);
                if (body == null) {
                    return Verdict.wrong("garbled chunked body: " + abbreviate(text, 300));
                }
            } else if (headers.containsKey("content-length")) {
                int length = Integer.parseInt(headers.get("content-length"));
                if (body.length != length) {
                    return Verdict.wrong("a body of " + body.length + " bytes where Content-Length says " + length + ": "
                            + abbreviate(text, 300));
                }
            }
            return kind.check(status, new String(body, StandardCharsets.UTF_8));
        }

        private static byte[] dechunk(byte[] body) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int at = 0;
            while (true) {
                int lineEnd = indexOf(body, at);
                if (lineEnd < 0) {
                    return null;
                }
                int size;
                try {
                    size = Integer.parseInt(new String(body, at, lineEnd - at, StandardCharsets.ISO_8859_1)
                            .split(";")[0].trim(), 16);
                } catch (NumberFormatException e) {
                    return null;
                }
                at = lineEnd + 2;
                if (size == 0) {
                    return out.toByteArray();
                }
                if (at + size + 2 > body.length) {
                    return null;
                }
                out.write(body, at, size);
                at += size + 2;
            }
        }

        private static int indexOf(byte[] bytes, int from) {
            for (int i = from; i + 1 < bytes.length; i++) {
                if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
                    return i;
                }
            }
            return -1;
        }

        private String relative(long nanos) {
            long mark = updateAt != 0 ? updateAt : startedAt;
            return String.format(Locale.ROOT, "%+d ms%s", millis(nanos - mark), updateAt != 0 ? " from update()" : "");
        }

        /** Waits until the load ran this long and answered every kind of request correctly a few times. */
        void awaitWarm(Duration minimum) {
            waitUntil(Duration.ofSeconds(30), Duration.ofMillis(20), () -> {
                if (System.nanoTime() - startedAt < minimum.toNanos()) {
                    return false;
                }
                int[] ok = new int[kinds.size()];
                samples.forEach(s -> {
                    if (s.outcome() == Outcome.OK) {
                        ok[s.kind()]++;
                    }
                });
                return Arrays.stream(ok).allMatch(n -> n >= 3) || failed.get() > 0;
            });
        }

        long markUpdate() {
            updateAt = System.nanoTime();
            return updateAt;
        }

        void markServing(long at) {
            servingAt = at;
        }

        boolean everyKindAnsweredAfter(long at) {
            boolean[] ok = new boolean[kinds.size()];
            samples.forEach(s -> {
                if (s.outcome() == Outcome.OK && s.sent() >= at) {
                    ok[s.kind()] = true;
                }
            });
            for (boolean b : ok) {
                if (!b) {
                    return false;
                }
            }
            return true;
        }

        boolean bothModelhostsAnsweredAfter(long at) {
            Set<String> hosts = new HashSet<>();
            samples.forEach(s -> {
                if (s.outcome() == Outcome.OK && s.sent() >= at && s.modelhost() != null) {
                    hosts.add(s.modelhost());
                }
            });
            return hosts.containsAll(MODELHOSTS);
        }

        String afterSwapText(long at) {
            Map<String, Integer> ok = new TreeMap<>();
            Map<String, Integer> hosts = new TreeMap<>();
            samples.forEach(s -> {
                if (s.outcome() == Outcome.OK && s.sent() >= at) {
                    ok.merge(kinds.get(s.kind()).name, 1, Integer::sum);
                    if (s.modelhost() != null) {
                        hosts.merge(s.modelhost(), 1, Integer::sum);
                    }
                }
            });
            return "correct answers by kind " + ok + ", by modelhost " + hosts;
        }

        String failureText() {
            return "by kind " + new TreeMap<>(failureKinds.entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get()))) + "; first failures:\n      "
                    + String.join("\n      ", failureSamples);
        }

        List<Sample> samples() {
            return new ArrayList<>(samples);
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            for (Thread t : threads) {
                t.join(REQUEST_TIMEOUT.toMillis() + 5000);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // The figures of one swap

    private static final class Row {
        static final String HEADER = "| bundle | requests | in swap window | failed | p99 ms (no swap) | "
                + "max ms (no swap) | update() ms | to serving ms | to first served ms | old loader GC'd | threads | "
                + "result | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|\n";
        final String bundle;
        long requests;
        long inWindow;
        long failed;
        String p99 = "-";
        String max = "-";
        long updateMs = -1;
        long toServingMs = -1;
        long toFirstServedMs = -1;
        String oldLoaderCollected = "-";
        String threads = "-";
        String result;
        String recovery;
        final List<String> notes = new ArrayList<>();

        Row(String bundle) {
            this.bundle = bundle;
        }

        /**
         * The swap window: from the update() call to {@link #WINDOW_TAIL} after the first request the new revision
         * served (every request answered in it, including those sent before the update); the baseline: the requests
         * answered before the update.
         */
        void fill(SwapLoad load, long updateAt, long servingAt) {
            List<SwapLoad.Sample> samples = load.samples();
            requests = samples.size();
            failed = load.failed.get();
            long firstServed = samples.stream()
                    .filter(s -> s.outcome() == SwapLoad.Outcome.OK && s.sent() >= servingAt)
                    .mapToLong(SwapLoad.Sample::done).min().orElse(-1);
            toServingMs = millis(servingAt - updateAt);
            toFirstServedMs = firstServed < 0 ? -1 : millis(firstServed - updateAt);
            long windowEnd = (firstServed < 0 ? servingAt : firstServed) + WINDOW_TAIL.toNanos();
            List<Long> window = new ArrayList<>();
            List<Long> baseline = new ArrayList<>();
            for (SwapLoad.Sample s : samples) {
                if (s.done() < updateAt) {
                    baseline.add(s.done() - s.sent());
                } else if (s.sent() <= windowEnd) {
                    window.add(s.done() - s.sent());
                }
            }
            inWindow = window.size();
            p99 = ms(percentile(window, 0.99)) + " (" + ms(percentile(baseline, 0.99)) + ")";
            max = ms(percentile(window, 1.0)) + " (" + ms(percentile(baseline, 1.0)) + ")";
        }

        private static long percentile(List<Long> values, double p) {
            if (values.isEmpty()) {
                return -1;
            }
            List<Long> sorted = new ArrayList<>(values);
            sorted.sort(null);
            int index = (int) Math.ceil(p * sorted.size()) - 1;
            return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
        }

        private static String orDash(long value) {
            return value < 0 ? "-" : String.valueOf(value);
        }

        private static String ms(long nanos) {
            return nanos < 0 ? "-" : String.format(Locale.ROOT, "%.1f", nanos / 1e6);
        }

        @Override
        public String toString() {
            List<String> all = new ArrayList<>(notes);
            if (recovery != null) {
                all.add(0, recovery);
            }
            return "| " + bundle + " | " + requests + " | " + inWindow + " | " + failed + " | " + p99
                    + " | " + max + " | " + orDash(updateMs) + " | " + orDash(toServingMs) + " | " + orDash(toFirstServedMs) + " | "
                    + oldLoaderCollected + " | " + threads + " | " + result + " | " + String.join("; ", all) + " |";
        }
    }
}
