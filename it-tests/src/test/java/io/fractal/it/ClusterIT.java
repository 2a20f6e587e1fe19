package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static io.fractal.it.ClusterNodes.CLIENT;
import static io.fractal.it.ClusterNodes.IRIS;
import static io.fractal.it.ClusterNodes.JSON;
import static io.fractal.it.ClusterNodes.await;
import static io.fractal.it.ClusterNodes.get;
import static io.fractal.it.ClusterNodes.hosts;
import static io.fractal.it.ClusterNodes.metrics;
import static io.fractal.it.ClusterNodes.ms;
import static io.fractal.it.ClusterNodes.predict;
import static io.fractal.it.ClusterNodes.predictIris;
import static io.fractal.it.ClusterNodes.sha256;
import static io.fractal.it.ClusterNodes.status;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.it.ClusterNodes.Load;
import io.fractal.it.ClusterNodes.Node;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
import java.util.concurrent.TimeUnit;
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
 *       their copies; a version uploaded on B carries its whole metadata (batching, description) to A, and a
 *       description and a default chosen later on B follow;</li>
 *   <li>{@code kill -9} of B under load: no request fails; the time until A drops B is measured;</li>
 *   <li>B restarted: used again through A within a second of being ready (and the time from its start);</li>
 *   <li>{@code kill -STOP} of C under load: ejected within the heartbeat timeout (within two when C is the master:
 *       a known defect, see the assertion), no request fails; then
 *       {@code kill -CONT}: C finds itself split off, merges back into the cluster (a new member UUID) and serves
 *       through A again;</li>
 *   <li>the cluster switched off on C ({@code enabled=false}, the path of a bundle stop or update): it withdraws and
 *       leaves while serving alone; switched on again, it rejoins and serves through A;</li>
 *   <li>the {@code io.fractal.cluster} bundle updated on B through its shell over SSH ({@code bin/client update
 *       N}): A drops B's modelhost and uses it again once the new bundle joined, no request failing;</li>
 *   <li>SIGTERM of B under load: it withdraws, drains, exits 0, and no request fails.</li>
 * </ol>
 */
public class ClusterIT {

    private ClusterNodes cluster;
    private boolean passed;

    @After
    public void stopNodes() throws IOException {
        if (cluster != null) {
            cluster.stop(passed);
        }
    }

    @Test
    public void threeNodesServeEachOthersModelsAndLoseNothingToFaults() throws Exception {
        cluster = new ClusterNodes("cluster");
        List<Node> nodes = cluster.nodes;
        int[] clusterPorts = {TestFiles.freePort(), TestFiles.freePort(), TestFiles.freePort()};
        String members = "127.0.0.1:" + clusterPorts[0] + ",127.0.0.1:" + clusterPorts[1] + ",127.0.0.1:"
                + clusterPorts[2];
        Node a = cluster.node("a", "127.0.0.1", clusterPorts[0], members, false);
        Node b = cluster.node("b", "127.0.0.1", clusterPorts[1], members, true);
        b.withSsh(TestFiles.freePort()); // for the bundle update through its shell
        Node c = cluster.node("c", "127.0.0.1", clusterPorts[2], members, false);
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

        // ---- the whole metadata travels: a model uploaded on B with batching and a description, both seen on A,
        // and a description, then the default version, changed later on B
        byte[] irisFile = Files.readAllBytes(b.home.resolve("deploy/iris/model.pt"));
        JsonNode sidecar = JSON.readTree(Files.readString(b.home.resolve("deploy/iris/model.json")));
        ((com.fasterxml.jackson.databind.node.ObjectNode) sidecar).put("max_batch_size", 4)
                .put("max_queue_delay_us", 200);
        assertEquals(201, upload(b, "iris-b", irisFile, sidecar.toString(), "uploaded on b"));
        await("iris-b's batching in A's /v2 config", 60, () -> {
            JsonNode config = get(a, "/v2/models/iris-b/config");
            return config != null && config.path("max_batch_size").asInt() == 4;
        });
        JsonNode configOnA = get(a, "/v2/models/iris-b/config");
        assertTrue(configOnA.toString(), configOnA.has("dynamic_batching"));
        assertEquals("uploaded on b", get(a, "/api/v1/models/iris-b").path("versions").path(0).path("description")
                .asText());
        await("iris-b served through A", 30, () -> predict(a, "iris-b") != null);
        assertEquals(200, manage(b, "/api/v1/models/iris-b/information",
                "{\"model_description\": \"changed on b\"}"));
        long described = System.nanoTime();
        await("B's new description of iris-b on A and C", 30, () -> List.of(a, c).stream().allMatch(n -> "changed on b"
                .equals(get(n, "/api/v1/models/iris-b").path("versions").path(0).path("description").asText())));
        long describedMs = ms(System.nanoTime() - described);
        // a second version uploaded on B (other bytes: versions are known by checksum; not the default), then made
        // the default there
        Path dist = Paths.get(System.getProperty("fractal.dist", "../runtime/target/fractal-server")).toAbsolutePath();
        assertEquals(201, upload(b, "iris-b", Files.readAllBytes(dist.resolve("deploy/digits/model.pt")),
                "{\"description\": \"second\"}", null, false));
        await("iris-b:2 on A", 60, () -> get(a, "/api/v1/models/iris-b").path("versions").size() == 2);
        assertEquals(1, get(a, "/api/v1/models/iris-b").path("default_version").asInt());
        assertEquals(200, manage(b, "/api/v1/models/iris-b/default", "{\"default\": 2}"));
        await("B's new default of iris-b on A", 30, () -> "second".equals(defaultDescription(a, "iris-b")));
        System.out.println("metadata: batching and description of a version uploaded on B seen on A; a description "
                + "changed on B seen on A and C " + describedMs + " ms later");

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
            long restartWall = System.currentTimeMillis();
            b.start();
            long readyAt = -1;
            long readyWall = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (readyAt < 0 && System.nanoTime() - deadline < 0) {
                if (status(b, "GET", "/v2/health/ready", null) == 200) {
                    readyAt = System.nanoTime();
                    readyWall = System.currentTimeMillis();
                }
                Thread.sleep(10);
            }
            assertTrue("B never ready after its restart; see " + b.log, readyAt > 0);
            load.awaitServed("mh1@b", 60);
            long firstServed = ms(load.firstServedNanos("mh1@b") - b.startedAt);
            long afterReady = ms(load.firstServedNanos("mh1@b") - readyAt);
            table.add(load.row("B restarted (start to first served through A)", firstServed));
            System.out.println("B restarted: ready " + ms(readyAt - b.startedAt) + " ms after its start, first served "
                    + "through A " + afterReady + " ms after ready (B joined the cluster at "
                    + since(readyWall, b.log, "Cluster: node b joined cluster") + " ms, A registered mh1@b at "
                    + since(readyWall, a.log.resolveSibling("fractal.log"), "modelhost mh1@b of node b registered")
                    + " ms, relative to ready)");
            assertTrue("B restarted was used through A " + afterReady + " ms after it was ready (issue 12: within a "
                    + "second)", afterReady < 1000);

            // ---- kill -STOP of C under load, on a settled cluster. B's return moves partitions to it; a member that
            // hangs while they still move holds the master's membership work, heartbeats included, until the moves
            // to it time out (seen once in CI: A silent to B for 6 s, so B took A for dead too, and C was ejected
            // after 10.8 s). The master (the oldest member: any of the three) logs the end of each repartitioning;
            // the one after B's restart is B's.
            await("the partition migrations after B's return completed", 60, () -> {
                for (Node n : List.of(a, b, c)) {
                    try {
                        Long settled = since(restartWall, n.log.resolveSibling("fractal.log"),
                                "All migration tasks have been completed");
                        if (settled != null && settled >= 0) {
                            return true;
                        }
                    } catch (IOException e) {
                        // not written yet
                    }
                }
                return false;
            });
            load.mark();
            long stopped = System.nanoTime();
            long stoppedWall = System.currentTimeMillis();
            c.signal("STOP");
            boolean dumped = false;
            while (hosts(a).contains("mh1@c") && System.nanoTime() - stopped < TimeUnit.SECONDS.toNanos(30)) {
                if (!dumped && System.nanoTime() - stopped > TimeUnit.SECONDS.toNanos(7)) {
                    // late (the heartbeat timeout is 5 s): what A and B are doing, for the failure to explain
                    a.dumpThreads("late-ejection");
                    b.dumpThreads("late-ejection");
                    dumped = true;
                }
                Thread.sleep(50);
            }
            long hung = ms(System.nanoTime() - stopped);
            Thread.sleep(1000);
            table.add(load.row("kill -STOP C", hung));
            // When the hung node is the Hazelcast master, the two others sometimes stopped hearing each other for a
            // heartbeat timeout while one claimed mastership, and split before they merged back; C then left after
            // up to two timeouts (2 runs of 6, issue 11's notes of 2026-12-03). Since bin/fractal has Hazelcast's I/O
            // selector wake every 100 ms it has not happened (8 of 8 runs, 4.7 to 5.7 s); the wider bound stays until
            // more runs confirm it. The logs say which case it was, and the thread dumps above are kept for it.
            boolean masterHung = false;
            for (Node n : List.of(a, b)) {
                Long claim = since(stoppedWall, n.log.resolveSibling("fractal.log"), "Starting mastership claim process");
                masterHung |= claim != null && claim >= 0;
            }
            long limit = masterHung ? 13000 : 9000;
            assertTrue("a hung node was ejected after " + hung + " ms, past " + limit + " ms (C "
                    + (masterHung ? "was" : "was not") + " the master; A and B's threads: log/threads-late-ejection.txt "
                    + "in their homes)", hung < limit);

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

            // ---- the io.fractal.cluster bundle updated on B through its shell over SSH (bin/client): B leaves and
            // joins again with the new bundle; A drops B's modelhost, then uses it again; no request fails
            String bundles = b.shell("lb -s");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^\\s*(\\d+)\\|Active\\s*\\|\\s*\\d+\\|"
                    + "io\\.fractal\\.cluster \\(").matcher(bundles);
            assertTrue("io.fractal.cluster active on B: " + bundles, m.find());
            String clusterBundle = m.group(1);
            load.mark();
            java.util.concurrent.atomic.AtomicLong droppedAt = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicBoolean watching = new java.util.concurrent.atomic.AtomicBoolean(true);
            Thread watcher = new Thread(() -> { // when A dropped B's modelhost: then the load forgets it
                while (watching.get() && droppedAt.get() == 0) {
                    if (!hosts(a).contains("mh1@b")) {
                        load.forget("mh1@b");
                        droppedAt.set(System.nanoTime());
                    }
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "cluster-it-watch");
            long updating = System.nanoTime();
            watcher.start();
            b.shell("update " + clusterBundle);
            long updated = ms(System.nanoTime() - updating);
            await("A dropped B's modelhost during the update", 30, () -> droppedAt.get() != 0);
            watching.set(false);
            watcher.join();
            await("A lists B's modelhost again after the update", 60, () -> hosts(a).contains("mh1@b"));
            load.awaitServed("mh1@b", 30);
            long backMs = ms(load.firstServedNanos("mh1@b") - droppedAt.get());
            assertTrue("the cluster bundle active again on B", java.util.regex.Pattern.compile("(?m)^\\s*"
                    + clusterBundle + "\\|Active").matcher(b.shell("lb -s")).find());
            Thread.sleep(500);
            table.add(load.row("io.fractal.cluster updated on B (bin/client update " + clusterBundle + " took "
                    + updated + " ms; A dropped mh1@b " + ms(droppedAt.get() - updating) + " ms in; from then to "
                    + "first served through A again)", backMs));

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
     * When the last line of a log that contains {@code text} was written, in ms after {@code epochMillis} (negative:
     * before), or null if there is none. The logs' time stamps are local time, to the millisecond.
     */
    private static Long since(long epochMillis, Path log, String text) throws IOException {
        Long at = null;
        java.time.format.DateTimeFormatter f = java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            if (line.contains(text) && line.length() > 23) {
                try {
                    at = java.time.LocalDateTime.parse(line.substring(0, 23), f).atZone(java.time.ZoneId.systemDefault())
                            .toInstant().toEpochMilli();
                } catch (java.time.format.DateTimeParseException e) {
                    // not a log line's start
                }
            }
        }
        return at == null ? null : at - epochMillis;
    }

    /** The description of a model's default version on a node, or null. */
    private static String defaultDescription(Node n, String model) {
        JsonNode m = get(n, "/api/v1/models/" + model);
        if (m == null) {
            return null;
        }
        for (JsonNode v : m.path("versions")) {
            if (v.path("version").asInt() == m.path("default_version").asInt()) {
                return v.path("description").asText(null);
            }
        }
        return null;
    }

    /** The node's management token (written at its first start), for the calls that change models. */
    private static String managementToken(Node n) throws IOException {
        return Files.readString(n.home.resolve("data/management.token")).strip();
    }

    /** A POST of JSON with the management token: its status. */
    private static int manage(Node n, String path, String json) throws IOException, InterruptedException {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(n.base.resolve(path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + managementToken(n))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(path + ": " + r.body(), 200, r.statusCode());
        return r.statusCode();
    }

    private static int upload(Node n, String model, byte[] file, String metadata, String description)
            throws IOException, InterruptedException {
        return upload(n, model, file, metadata, description, true);
    }

    /** POST /api/v1/models/{model} as multipart/form-data: the file, its model.json, a description. */
    private static int upload(Node n, String model, byte[] file, String metadata, String description,
            boolean makeDefault) throws IOException, InterruptedException {
        String boundary = "----fractal-it-" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        part(body, boundary, "path", "model.pt", "application/octet-stream", file);
        part(body, boundary, "metadata", "model.json", "application/json", metadata.getBytes(StandardCharsets.UTF_8));
        if (description != null) {
            part(body, boundary, "model_description", null, null, description.getBytes(StandardCharsets.UTF_8));
        }
        part(body, boundary, "make_default", null, null, Boolean.toString(makeDefault).getBytes(StandardCharsets.UTF_8));
        body.write(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(n.base.resolve("/api/v1/models/" + model))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .header("Authorization", "Bearer " + managementToken(n))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertTrue("upload of " + model + ": " + r.statusCode() + " " + r.body(), r.statusCode() == 201);
        return r.statusCode();
    }

    private static void part(ByteArrayOutputStream body, String boundary, String name, String fileName, String type,
            byte[] content) throws IOException {
        StringBuilder head = new StringBuilder("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"")
                .append(name).append('"');
        if (fileName != null) {
            head.append("; filename=\"").append(fileName).append('"');
        }
        head.append("\r\n");
        if (type != null) {
            head.append("Content-Type: ").append(type).append("\r\n");
        }
        head.append("\r\n");
        body.write(head.toString().getBytes(StandardCharsets.UTF_8));
        body.write(content);
        body.write("\r\n".getBytes(StandardCharsets.UTF_8));
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
}
