package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.After;
import org.junit.Test;

/**
 * Three real nodes from the built distribution, each {@code bin/fractal run} in a process of its own with its own
 * home, HTTP, metrics and cluster ports on loopback, joined by a TCP/IP member list (issue 12). Node A and C start
 * with no model; B has iris in its deploy folder. Checked, with the load going through A and every answer's values
 * compared with those torch computed:
 * <ol>
 *   <li>join: each node lists the other nodes' modelhosts ({@code mh1@b}) beside its own;</li>
 *   <li>deploy once, serve everywhere: iris is copied to A and C (same SHA-256), and A serves it on B's modelhost
 *       with the right values; a model dropped into C's deploy folder reaches A and B, and its removal deletes
 *       their copies;</li>
 *   <li>{@code kill -9} of B under load: no request fails; the time until A drops B is measured;</li>
 *   <li>B restarted: used again through A (the time from its start to its first request served through A);</li>
 *   <li>{@code kill -STOP} of C under load: ejected within the heartbeat timeout, no request fails; then
 *       {@code kill -CONT}: C finds itself split off, merges back into the cluster (a new member UUID) and serves
 *       through A again;</li>
 *   <li>the cluster switched off on C ({@code enabled=false}, the path of a bundle stop or update): it withdraws and
 *       leaves while serving alone; switched on again, it rejoins and serves through A;</li>
 *   <li>SIGTERM of B under load: it withdraws, drains, exits 0, and no request fails.</li>
 * </ol>
 */
public class ClusterIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SECRET = "cluster-it-secret";
    private static final String IRIS = "{\"values\": [5.1, 3.4, 1.5, 0.2]}";
    private static final double[] IRIS_EXPECTED = {0.9999998807907104, 1.3075887750346737e-07, 1.3688482569662597e-09};
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();

    private final List<Node> nodes = new ArrayList<>();

    /** The nodes' folders, removed after a passing run (kept for a look after a failure). */
    private Path root;
    private boolean passed;

    @After
    public void stopNodes() throws IOException {
        for (Node n : nodes) {
            n.destroy();
        }
        for (Node n : nodes) {
            try {
                if (n.process != null) {
                    n.process.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (passed && root != null) {
            TestFiles.deleteTree(root);
        }
    }

    @Test
    public void threeNodesServeEachOthersModelsAndLoseNothingToFaults() throws Exception {
        Path work = Files.createDirectories(Paths.get(System.getProperty("fractal.it.work", "target/it-work"))
                .toAbsolutePath());
        root = Files.createTempDirectory(work, "cluster-");
        int[] clusterPorts = {TestFiles.freePort(), TestFiles.freePort(), TestFiles.freePort()};
        String members = "127.0.0.1:" + clusterPorts[0] + ",127.0.0.1:" + clusterPorts[1] + ",127.0.0.1:"
                + clusterPorts[2];
        Node a = node(root, "a", clusterPorts[0], members, false);
        Node b = node(root, "b", clusterPorts[1], members, true);
        Node c = node(root, "c", clusterPorts[2], members, false);
        for (Node n : nodes) {
            n.start();
        }

        // ---- join: each node sees the others' modelhosts beside its own
        for (Node n : nodes) {
            await("node " + n.name + " lists every modelhost", 120, () -> hosts(n).containsAll(
                    List.of("mh1", "mh1@a", "mh1@b", "mh1@c").stream().filter(h -> !h.equals("mh1@" + n.name))
                            .toList()));
        }
        long joined = System.nanoTime();
        await("A's metrics count three members", 10, () -> metrics(a).lines()
                .anyMatch(l -> l.startsWith("fractal_cluster_members ") && l.endsWith(" 3.0")));

        // ---- deploy once, serve everywhere: iris, deployed on B only, is copied to A and C
        String sha = sha256(b, "iris");
        assertNotNull("iris on B", sha);
        await("iris copied to A and C with B's checksum", 60, () -> sha.equals(sha256(a, "iris"))
                && sha.equals(sha256(c, "iris")));
        // A serves it on B's modelhost (and the others), with torch's values
        Map<String, Integer> servedBy = new ConcurrentHashMap<>();
        await("A served iris on mh1@b", 30, () -> {
            String host = predictIris(a);
            servedBy.merge(host, 1, Integer::sum);
            return "mh1@b".equals(host);
        });
        System.out.println("join: all three nodes saw each other's modelhosts " + ms(joined - a.startedAt)
                + " ms after the first start; first answers through A by " + servedBy);

        // a model dropped into C's deploy folder reaches A and B; its removal deletes the copies
        TestFiles.copyTree(b.home.resolve("deploy/iris"), c.home.resolve("deploy/iris-c"));
        await("iris-c served through A and B", 60, () -> status(a, "POST", "/api/v1/models/iris-c/prediction", IRIS)
                == 200 && status(b, "POST", "/api/v1/models/iris-c/prediction", IRIS) == 200);
        TestFiles.deleteTree(c.home.resolve("deploy/iris-c"));
        await("iris-c deleted on A and B", 30, () -> status(a, "GET", "/api/v1/models/iris-c", null) == 404
                && status(b, "GET", "/api/v1/models/iris-c", null) == 404);
        Thread.sleep(1500);
        assertEquals("iris-c came back on A", 404, status(a, "GET", "/api/v1/models/iris-c", null));

        List<String> table = new ArrayList<>();
        try (Load load = new Load(a, 4)) {
            load.awaitServed("mh1@b", 20);

            // ---- kill -9 of B under load
            load.mark();
            long killed = System.nanoTime();
            b.signal("KILL");
            b.process.waitFor(10, TimeUnit.SECONDS);
            await("A drops B's modelhost", 30, () -> !hosts(a).contains("mh1@b"));
            long ejected = ms(System.nanoTime() - killed);
            Thread.sleep(1000);
            table.add(load.row("kill -9 B", ejected));

            // ---- B restarted: used again through A
            load.mark();
            load.forget("mh1@b");
            b.start();
            long readyAt = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (readyAt < 0 && System.nanoTime() - deadline < 0) {
                if (status(b, "GET", "/v2/health/ready", null) == 200) {
                    readyAt = System.nanoTime();
                }
                Thread.sleep(20);
            }
            assertTrue("B never ready after its restart; see " + b.log, readyAt > 0);
            load.awaitServed("mh1@b", 60);
            long firstServed = ms(load.firstServedNanos("mh1@b") - b.startedAt);
            table.add(load.row("B restarted (start to first served through A)", firstServed));
            System.out.println("B restarted: ready " + ms(readyAt - b.startedAt) + " ms after its start, first served "
                    + "through A " + ms(load.firstServedNanos("mh1@b") - readyAt) + " ms after ready");

            // ---- kill -STOP of C under load
            load.mark();
            long stopped = System.nanoTime();
            c.signal("STOP");
            await("A ejects the hung C", 30, () -> !hosts(a).contains("mh1@c"));
            long hung = ms(System.nanoTime() - stopped);
            Thread.sleep(1000);
            table.add(load.row("kill -STOP C", hung));
            assertTrue("a hung node was ejected after " + hung + " ms, past the heartbeat timeout", hung < 9000);

            // ---- C resumed (a healed partition, seen from the small side): it merges back and serves again
            load.mark();
            load.forget("mh1@c");
            long resumed = System.nanoTime();
            c.signal("CONT");
            load.awaitServed("mh1@c", 60);
            long merged = ms(load.firstServedNanos("mh1@c") - resumed);
            table.add(load.row("C resumed (merge, to first served through A)", merged));

            // ---- the cluster switched off on C (as a bundle stop or update does): it leaves, serving locally
            load.mark();
            Path cfg = c.home.resolve("deploy/io.fractal.cluster.cfg");
            String enabled = Files.readString(cfg);
            long off = System.nanoTime();
            Files.writeString(cfg, enabled.replace("enabled=true", "enabled=false"));
            await("A drops C's modelhost when C leaves", 30, () -> !hosts(a).contains("mh1@c"));
            long left = ms(System.nanoTime() - off);
            // C withdrew first (A dropped it); it unregisters the others' modelhosts once its calls drained
            await("C serves alone", 15, () -> hosts(c).equals(List.of("mh1")));
            assertTrue(predictIris(c) != null);
            load.forget("mh1@c");
            Files.writeString(cfg, enabled);
            load.awaitServed("mh1@c", 60);
            table.add(load.row("C's cluster off, then on again", left));

            // ---- SIGTERM of B under load: withdraw, drain, exit 0
            load.mark();
            long term = System.nanoTime();
            b.signal("TERM");
            await("A drops B's modelhost after SIGTERM", 30, () -> !hosts(a).contains("mh1@b"));
            long withdrawn = ms(System.nanoTime() - term);
            assertTrue("B did not exit within 60 s of SIGTERM", b.process.waitFor(60, TimeUnit.SECONDS));
            assertEquals("B's exit status after SIGTERM; see " + b.log, 0, b.process.exitValue());
            Thread.sleep(500);
            table.add(load.row("SIGTERM B", withdrawn));
            load.assertNoFailure();
        }
        System.out.println("fault | detection ms | failed/total (load through A, 4 clients)");
        table.forEach(System.out::println);
        assertFalse("a stack trace in A's log", Files.readString(a.log).contains("Exception in thread"));
        passed = true;
    }

    /**
     * The container entry point (deploy/docker/docker-entrypoint.sh), run as the image runs it but with
     * FRACTAL_ENTRYPOINT_DRY_RUN: the configuration it writes from the environment, and what it refuses.
     */
    @Test
    public void containerEntryPointWritesTheNodeConfiguration() throws Exception {
        Path script = Paths.get(System.getProperty("fractal.dist", "../runtime/target/fractal-server"))
                .toAbsolutePath().resolve("../../../deploy/docker/docker-entrypoint.sh").normalize();
        assertTrue(script + " is missing", Files.isRegularFile(script));
        Path work = Files.createDirectories(Paths.get(System.getProperty("fractal.it.work", "target/it-work"))
                .toAbsolutePath());
        Path home = Files.createTempDirectory(work, "entrypoint-");
        Path secret = home.resolve("secret");
        Files.writeString(secret, "s3cret\n");

        Entry tcp = entrypoint(script, home, Map.of("FRACTAL_CLUSTER_ENABLED", "true", "FRACTAL_CLUSTER_MEMBERS",
                "fractal-1,fractal-2,fractal-3", "FRACTAL_CLUSTER_BIND", "10.1.2.3", "FRACTAL_NODE_NAME", "fractal-2",
                "FRACTAL_CLUSTER_SECRET_FILE", secret.toString(), "FRACTAL_HTTP_PORT", "8080"));
        assertEquals(tcp.output, 0, tcp.status);
        String cluster = Files.readString(home.resolve("deploy/io.fractal.cluster.cfg"));
        for (String line : List.of("enabled=true", "cluster.name=fractal", "node.name=fractal-2",
                "bind.address=10.1.2.3", "port=5701", "advertise.url=http://10.1.2.3:8080/",
                "secret.file=" + secret, "members=fractal-1,fractal-2,fractal-3")) {
            assertTrue(line + " in " + cluster, cluster.lines().anyMatch(line::equals));
        }
        assertEquals("host=0.0.0.0\nport=8080\n", Files.readString(home.resolve("deploy/io.fractal.rest.cfg")));
        assertEquals("host=0.0.0.0\nport=0\n", Files.readString(home.resolve("deploy/io.fractal.ssh.cfg")));
        assertFalse("the printed configuration shows no secret", tcp.output.contains("s3cret"));

        Entry k8s = entrypoint(script, home, Map.of("FRACTAL_CLUSTER_ENABLED", "true", "FRACTAL_CLUSTER_BIND",
                "10.1.2.4", "FRACTAL_CLUSTER_SECRET", "abc", "FRACTAL_KUBERNETES_SERVICE_DNS",
                "fractal-cluster.default.svc.cluster.local"));
        assertEquals(k8s.output, 0, k8s.status);
        cluster = Files.readString(home.resolve("deploy/io.fractal.cluster.cfg"));
        assertTrue(cluster, cluster.contains("kubernetes.enabled=true\n"));
        assertTrue(cluster, cluster.contains("kubernetes.service.dns=fractal-cluster.default.svc.cluster.local\n"));
        assertFalse(cluster, cluster.contains("members="));
        assertTrue(k8s.output, k8s.output.contains("secret=<set>") && !k8s.output.contains("abc"));

        Entry noSecret = entrypoint(script, home, Map.of("FRACTAL_CLUSTER_ENABLED", "true",
                "FRACTAL_CLUSTER_MEMBERS", "a", "FRACTAL_CLUSTER_BIND", "10.1.2.3"));
        assertTrue(noSecret.output, noSecret.status != 0 && noSecret.output.contains("shared secret"));
        Entry badPort = entrypoint(script, home, Map.of("FRACTAL_HTTP_PORT", "80a"));
        assertTrue(badPort.output, badPort.status != 0 && badPort.output.contains("FRACTAL_HTTP_PORT"));
        Entry anyAddress = entrypoint(script, home, Map.of("FRACTAL_CLUSTER_ENABLED", "true",
                "FRACTAL_CLUSTER_MEMBERS", "a", "FRACTAL_CLUSTER_BIND", "0.0.0.0", "FRACTAL_CLUSTER_SECRET", "x"));
        assertTrue(anyAddress.output, anyAddress.status != 0 && anyAddress.output.contains("one address"));

        Entry off = entrypoint(script, home, Map.of());
        assertEquals(off.output, 0, off.status);
        assertFalse("no cluster configuration when it is off",
                Files.exists(home.resolve("deploy/io.fractal.cluster.cfg")));
        TestFiles.deleteTree(home);
    }

    private record Entry(int status, String output) {
    }

    private static Entry entrypoint(Path script, Path home, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("FRACTAL_"));
        pb.environment().putAll(env);
        pb.environment().put("FRACTAL_HOME", home.toString());
        pb.environment().put("FRACTAL_ENTRYPOINT_DRY_RUN", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new Entry(p.exitValue(), out);
    }

    // ---- the load through one node ---------------------------------------------------------------------------

    /** Clients predicting iris through one node without pause, every answer checked. */
    private static final class Load implements AutoCloseable {
        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong ok = new AtomicLong();
        final ConcurrentLinkedQueue<String> failed = new ConcurrentLinkedQueue<>();
        final Map<String, Long> firstServed = new ConcurrentHashMap<>();
        final List<Thread> threads = new ArrayList<>();
        long markOk;
        int markFailed;

        Load(Node target, int clients) {
            for (int i = 0; i < clients; i++) {
                Thread t = new Thread(() -> {
                    HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                            .connectTimeout(Duration.ofSeconds(2)).build();
                    while (running.get()) {
                        try {
                            HttpResponse<String> r = own.send(HttpRequest.newBuilder(target.base.resolve(
                                    "/api/v1/models/iris/prediction")).timeout(Duration.ofSeconds(40))
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(IRIS)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() != 200) {
                                failed.add(r.statusCode() + " " + r.body());
                                continue;
                            }
                            String host = checkIris(r.body());
                            firstServed.putIfAbsent(host, System.nanoTime());
                            ok.incrementAndGet();
                        } catch (IOException | RuntimeException e) {
                            failed.add(e.toString());
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, "cluster-load-" + i);
                threads.add(t);
                t.start();
            }
        }

        void mark() {
            markOk = ok.get();
            markFailed = failed.size();
        }

        String row(String fault, long detectionMillis) {
            long total = ok.get() - markOk + failed.size() - markFailed;
            return fault + " | " + detectionMillis + " | " + (failed.size() - markFailed) + "/" + total;
        }

        void forget(String host) {
            firstServed.remove(host);
        }

        void awaitServed(String host, int seconds) {
            await(host + " serves through the load's node", seconds, () -> firstServed.containsKey(host));
        }

        long firstServedNanos(String host) {
            return firstServed.get(host);
        }

        void assertNoFailure() {
            assertTrue("failed requests: " + failed.size() + ", first: " + failed.stream().limit(5).toList(),
                    failed.isEmpty());
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            for (Thread t : threads) {
                t.join(45_000);
            }
        }
    }

    /** The modelhost that answered, after checking the values against torch's. */
    private static String checkIris(String body) throws IOException {
        JsonNode json = JSON.readTree(body);
        JsonNode values = json.path("values");
        assertEquals(body, IRIS_EXPECTED.length, values.size());
        for (int i = 0; i < IRIS_EXPECTED.length; i++) {
            assertEquals(body, IRIS_EXPECTED[i], values.get(i).asDouble(), 1e-4);
        }
        return json.path("modelhost").asText();
    }

    private static String predictIris(Node n) {
        try {
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(n.base.resolve(
                    "/api/v1/models/iris/prediction")).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(IRIS))
                    .build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? checkIris(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    // ---- nodes -----------------------------------------------------------------------------------------------

    private Node node(Path root, String name, int clusterPort, String members, boolean withIris) throws IOException {
        Path dist = Paths.get(System.getProperty("fractal.dist", "../runtime/target/fractal-server"))
                .toAbsolutePath();
        Path home = Files.createDirectories(root.resolve(name));
        for (String part : List.of("bin", "conf", "bundle")) {
            TestFiles.copyTree(dist.resolve(part), home.resolve(part));
        }
        Files.createSymbolicLink(home.resolve("lib"), dist.resolve("lib"));
        String engines = System.getenv("ENGINE_CACHE_DIR"); // failsafe's, shared: libtorch is extracted once (432 MB)
        if (engines != null && !engines.isBlank()) {
            Path shared = Files.createDirectories(Paths.get(engines).toAbsolutePath());
            Files.createSymbolicLink(Files.createDirectories(home.resolve("cache")).resolve("djl"), shared);
        }
        home.resolve("bin/fractal").toFile().setExecutable(true);
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        Files.copy(dist.resolve("deploy/io.fractal.modelhost-mh1.cfg"), deploy.resolve("io.fractal.modelhost-mh1.cfg"));
        if (withIris) {
            TestFiles.copyTree(dist.resolve("deploy/iris"), deploy.resolve("iris"));
        }
        int port = TestFiles.freePort();
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.rest", "host", "127.0.0.1", "port", port);
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.metrics", "port", TestFiles.freePort());
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.shell", "port", 0);
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.ssh", "port", 0);
        Files.writeString(deploy.resolve("io.fractal.cluster.cfg"), String.join("\n",
                "enabled=true",
                "cluster.name=cluster-it-" + ProcessHandle.current().pid(),
                "node.name=" + name,
                "members=" + members,
                "bind.address=127.0.0.1",
                "port=" + clusterPort,
                "secret=" + SECRET, ""));
        Node n = new Node(name, home, URI.create("http://127.0.0.1:" + port));
        nodes.add(n);
        return n;
    }

    private static final class Node {
        final String name;
        final Path home;
        final URI base;
        final Path log;
        Process process;
        long startedAt;
        int starts;

        Node(String name, Path home, URI base) {
            this.name = name;
            this.home = home;
            this.base = base;
            this.log = home.resolve("log/it-process.out");
        }

        void start() throws IOException {
            Files.createDirectories(log.getParent());
            starts++;
            startedAt = System.nanoTime();
            process = new ProcessBuilder(home.resolve("bin/fractal").toString(), "run").directory(home.toFile())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
            process.getOutputStream().close();
        }

        void signal(String signal) throws IOException, InterruptedException {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
            assertEquals("kill -" + signal, 0, kill.waitFor());
        }

        void destroy() {
            if (process != null && process.isAlive()) {
                try {
                    signal("CONT");
                } catch (IOException | InterruptedException | AssertionError e) {
                    // killed below anyway
                }
                process.destroyForcibly();
            }
        }
    }

    /** The ids of the modelhosts a node's balancer sees. */
    private static List<String> hosts(Node n) {
        JsonNode json = get(n, "/api/v1/modelhosts");
        List<String> ids = new ArrayList<>();
        if (json != null) {
            for (JsonNode h : json.path("modelhosts")) {
                ids.add(h.path("id").asText());
            }
        }
        return ids;
    }

    /** The SHA-256 of a model's default version on a node, or null. */
    private static String sha256(Node n, String model) {
        JsonNode json = get(n, "/api/v1/models/" + model);
        if (json == null) {
            return null;
        }
        for (JsonNode v : json.path("versions")) {
            if (v.has("sha256")) {
                return v.path("sha256").asText();
            }
        }
        return json.has("sha256") ? json.path("sha256").asText() : null;
    }

    private static JsonNode get(Node n, String path) {
        try {
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(n.base.resolve(path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? JSON.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static String metrics(Node n) {
        try {
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(n.base.resolve("/metrics"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static int status(Node n, String method, String path, String json) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(n.base.resolve(path)).timeout(Duration.ofSeconds(10));
            b.method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(json));
            if (json != null) {
                b.header("Content-Type", "application/json");
            }
            return CLIENT.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /** Polls every 50 ms (a condition over processes and HTTP, which Awaitility would poll the same way). */
    private static void await(String what, int seconds, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + seconds + " s: " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what);
            }
        }
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

}
