package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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

/**
 * Real Fractal nodes from the built distribution for the cluster tests (ClusterIT, ClusterPartitionIT): each
 * {@code bin/fractal run} in a process of its own, with its own home, HTTP, metrics and cluster ports, joined by a
 * TCP/IP member list; optionally started inside a network namespace ({@code ip netns exec}). Also the HTTP look-ups
 * the tests make on a node, and {@link Load}, clients predicting iris through one node with every answer checked.
 */
final class ClusterNodes {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String SECRET = "cluster-it-secret";
    static final String IRIS = "{\"values\": [5.1, 3.4, 1.5, 0.2]}";
    static final double[] IRIS_EXPECTED = {0.9999998807907104, 1.3075887750346737e-07, 1.3688482569662597e-09};
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();

    final List<Node> nodes = new ArrayList<>();
    /** The nodes' folders, removed after a passing run (kept for a look after a failure). */
    final Path root;
    private final String clusterName;

    /** A new folder for the nodes under failsafe's work folder; {@code name} prefixes it and the cluster's name. */
    ClusterNodes(String name) throws IOException {
        Path work = Files.createDirectories(Paths.get(System.getProperty("fractal.it.work", "target/it-work"))
                .toAbsolutePath());
        root = Files.createTempDirectory(work, name + "-");
        clusterName = name + "-" + ProcessHandle.current().pid() + "-" + root.getFileName().toString().replaceAll(
                "[^A-Za-z0-9]", "");
    }

    /**
     * A node, not started: {@code address} is where its HTTP API and its cluster member listen (loopback, or its
     * network namespace's address), {@code members} the member list ({@code host:port,...}).
     */
    Node node(String name, String address, int clusterPort, String members, boolean withIris) throws IOException {
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
        // Hazelcast's membership decisions and connections in the log: what a failure of these tests needs told
        Files.writeString(home.resolve("conf/logging.properties"), "\n"
                + "com.hazelcast.internal.cluster.impl.MembershipManager.level=INFO\n"
                + "com.hazelcast.internal.cluster.impl.ClusterHeartbeatManager.level=INFO\n"
                + "com.hazelcast.internal.server.tcp.level=INFO\n", java.nio.file.StandardOpenOption.APPEND);
        home.resolve("bin/fractal").toFile().setExecutable(true);
        home.resolve("bin/client").toFile().setExecutable(true);
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        Files.copy(dist.resolve("deploy/io.fractal.modelhost-mh1.cfg"), deploy.resolve("io.fractal.modelhost-mh1.cfg"));
        if (withIris) {
            TestFiles.copyTree(dist.resolve("deploy/iris"), deploy.resolve("iris"));
        }
        int port = TestFiles.freePort();
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.rest", "host", address, "port", port);
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.metrics", "port", TestFiles.freePort());
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.shell", "port", 0);
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.ssh", "port", 0);
        // the request path's warm-up as long as its least time (2 s), not on until the JIT is quiet: these nodes
        // start several to a test on a machine they share, and ProcessLifecycleIT checks the warm-up
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.inferrer", "warmup.max.ms", 2000);
        Files.writeString(deploy.resolve("io.fractal.cluster.cfg"), String.join("\n",
                "enabled=true",
                "cluster.name=" + clusterName,
                "node.name=" + name,
                "members=" + members,
                "bind.address=" + address,
                "port=" + clusterPort,
                "secret=" + SECRET, ""));
        Node n = new Node(name, home, URI.create("http://" + address + ":" + port));
        nodes.add(n);
        return n;
    }

    /** Kills every node (SIGCONT first, for a stopped one); removes their folders if {@code passed}. */
    void stop(boolean passed) throws IOException {
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
        if (passed && !Boolean.getBoolean("fractal.it.keep")) { // -Dfractal.it.keep=true keeps the nodes' logs
            TestFiles.deleteTree(root);
        }
    }

    static final class Node {
        final String name;
        final Path home;
        final URI base;
        final Path log;
        /** Put before {@code bin/fractal run}, e.g. {@code ip netns exec ns1}. */
        List<String> launcher = List.of();
        Process process;
        long startedAt;
        int starts;

        Node(String name, Path home, URI base) {
            this.name = name;
            this.home = home;
            this.base = base;
            this.log = home.resolve("log/it-process.out");
        }

        /** The SSH console on {@code 127.0.0.1:port} (off by default), for {@code bin/client} of this node. */
        Node withSsh(int port) throws IOException {
            TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.ssh", "host", "127.0.0.1", "port", port);
            return this;
        }

        /**
         * Runs a command in the node's Gogo shell over SSH, as an operator would: {@code bin/client} (OpenSSH) when
         * {@code ssh} is installed, else Apache SSHD's client with the operator key the node generated. Its output;
         * fails unless it exits 0.
         */
        String shell(String command) throws Exception {
            if (onPath("ssh")) {
                Process p = new ProcessBuilder(home.resolve("bin/client").toString(), command)
                        .redirectErrorStream(true).start();
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue("bin/client " + command + " ended within 60 s", p.waitFor(60, TimeUnit.SECONDS));
                assertEquals("bin/client " + command + ": " + out, 0, p.exitValue());
                return out;
            }
            int port = Integer.parseInt(Files.readAllLines(home.resolve("data/ssh/ssh_config")).stream()
                    .map(String::strip).filter(l -> l.startsWith("Port ")).findFirst().orElseThrow().substring(5)
                    .strip());
            try (SshConsoleClient ssh = new SshConsoleClient(port);
                    org.apache.sshd.client.session.ClientSession session = ssh.login("admin",
                            SshConsoleClient.readKey(home.resolve("data/ssh/client_key")), null)) {
                SshConsoleClient.Result r = SshConsoleClient.exec(session, command);
                assertEquals(command + ": " + r, 0, r.status());
                return r.out();
            }
        }

        private static boolean onPath(String program) {
            for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
                if (Files.isExecutable(Paths.get(dir, program))) {
                    return true;
                }
            }
            return false;
        }

        void start() throws IOException {
            Files.createDirectories(log.getParent());
            starts++;
            startedAt = System.nanoTime();
            List<String> command = new ArrayList<>(launcher);
            command.addAll(List.of(home.resolve("bin/fractal").toString(), "run"));
            process = new ProcessBuilder(command).directory(home.toFile())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
            process.getOutputStream().close();
        }

        /**
         * The node's threads ({@code jcmd Thread.print}) into {@code log/threads-<label>.txt}, for a failure to
         * explain; nothing if the node is not running (or jcmd cannot reach it).
         */
        void dumpThreads(String label) {
            if (process == null || !process.isAlive()) {
                return;
            }
            try {
                Path out = log.resolveSibling("threads-" + label + ".txt");
                Process jcmd = new ProcessBuilder("jcmd", Long.toString(process.pid()), "Thread.print")
                        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
                jcmd.waitFor(20, TimeUnit.SECONDS);
            } catch (IOException e) {
                System.out.println("no thread dump of " + name + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
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

        /** Waits until the node answers ready; the time it did, {@link System#nanoTime()}. */
        long awaitReady(int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() - deadline < 0) {
                if (status(this, "GET", "/v2/health/ready", null) == 200) {
                    return System.nanoTime();
                }
                Thread.sleep(20);
            }
            throw new AssertionError("node " + name + " not ready within " + seconds + " s; see " + log);
        }

        @Override
        public String toString() {
            return name + " (" + base + ")";
        }
    }

    // ---- the load through one node ---------------------------------------------------------------------------

    /** Clients predicting iris through one node without pause, every answer checked. */
    static final class Load implements AutoCloseable {
        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong ok = new AtomicLong();
        final ConcurrentLinkedQueue<String> failed = new ConcurrentLinkedQueue<>();
        final Map<String, Long> firstServed = new ConcurrentHashMap<>();
        final Map<String, Long> lastServed = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> servedBy = new ConcurrentHashMap<>();
        final List<Thread> threads = new ArrayList<>();
        long markOk;
        int markFailed;

        Load(Node target, int clients) {
            this(target, clients, "iris");
        }

        Load(Node target, int clients, String model) {
            for (int i = 0; i < clients; i++) {
                Thread t = new Thread(() -> {
                    HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                            .connectTimeout(Duration.ofSeconds(2)).build();
                    while (running.get()) {
                        try {
                            HttpResponse<String> r = own.send(HttpRequest.newBuilder(target.base.resolve(
                                    "/api/v1/models/" + model + "/prediction")).timeout(Duration.ofSeconds(40))
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(IRIS)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() != 200) {
                                failed.add(r.statusCode() + " " + r.body());
                                continue;
                            }
                            String host = checkIris(r.body());
                            long now = System.nanoTime();
                            firstServed.putIfAbsent(host, now);
                            lastServed.put(host, now);
                            servedBy.computeIfAbsent(host, h -> new AtomicLong()).incrementAndGet();
                            ok.incrementAndGet();
                        } catch (IOException | RuntimeException | AssertionError e) {
                            failed.add(e.toString());
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, "cluster-load-" + target.name + "-" + i);
                threads.add(t);
                t.start();
            }
        }

        void mark() {
            markOk = ok.get();
            markFailed = failed.size();
        }

        /** Failed and all answers since the last {@link #mark()}. */
        long failedSinceMark() {
            return failed.size() - markFailed;
        }

        long totalSinceMark() {
            return ok.get() - markOk + failed.size() - markFailed;
        }

        String row(String fault, long detectionMillis) {
            return fault + " | " + detectionMillis + " | " + failedSinceMark() + "/" + totalSinceMark();
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

    // ---- what a node answers ---------------------------------------------------------------------------------

    /** The modelhost that answered, after checking the values against torch's. */
    static String checkIris(String body) throws IOException {
        JsonNode json = JSON.readTree(body);
        JsonNode values = json.path("values");
        assertEquals(body, IRIS_EXPECTED.length, values.size());
        for (int i = 0; i < IRIS_EXPECTED.length; i++) {
            assertEquals(body, IRIS_EXPECTED[i], values.get(i).asDouble(), 1e-4);
        }
        return json.path("modelhost").asText();
    }

    static String predictIris(Node n) {
        return predict(n, "iris");
    }

    /** The modelhost that answered a prediction of {@code model} (iris's values checked), or null. */
    static String predict(Node n, String model) {
        try {
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(n.base.resolve(
                    "/api/v1/models/" + model + "/prediction")).timeout(Duration.ofSeconds(10))
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

    /** The ids of the modelhosts a node's balancer sees. */
    static List<String> hosts(Node n) {
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
    static String sha256(Node n, String model) {
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

    static JsonNode get(Node n, String path) {
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

    static String metrics(Node n) {
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

    /** The cluster's members as a node counts them ({@code fractal_cluster_members}), or -1. */
    static int members(Node n) {
        return metrics(n).lines().filter(l -> l.startsWith("fractal_cluster_members ")).findFirst()
                .map(l -> (int) Double.parseDouble(l.substring(l.indexOf(' ') + 1).trim())).orElse(-1);
    }

    static int status(Node n, String method, String path, String json) {
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
    static void await(String what, int seconds, BooleanSupplier condition) {
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

    static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
