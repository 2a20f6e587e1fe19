package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * A few thousand malformed requests, seeded ({@code -Dfractal.fuzz.seed}, default {@value #DEFAULT_SEED}), over every
 * call {@code GET /help} lists ({@link HostileRequests}): garbled request lines, targets and headers on a raw
 * socket; bad bodies, shapes, numbers, datatypes, names, uploads, encodings and methods through Java's HTTP client;
 * with the management token, with a wrong one and with none. None may be answered 5xx (but 505 for a well-formed
 * version the server does not speak), every 4xx is {@code {"error": "..."}} without a file of the server, a Java class
 * or a stack frame, and afterwards the server predicts iris as before, its metrics have not grown past twice what a
 * server that served each call once has, and its heap and memory have not run away.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HostileInputIT extends FractalTestSupport {

    private static final Logger LOG = Logger.getLogger(HostileInputIT.class.getName());
    private static final long DEFAULT_SEED = 20261202L;
    private static final int RAW_CASES = 1400;
    private static final int CLIENT_CASES = 2600;
    private static final Set<String> METHOD_LABELS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
            "PATCH", "TRACE", "CONNECT", "other");
    private static final long MIB = 1024 * 1024;

    @Before
    public void modelsReady() {
        awaitReady("iris");
        awaitReady("digits");
    }

    @Test
    public void malformedRequestsAreAnswered4xxInJsonAndChangeNothing() throws Exception {
        List<HostileRequests.Route> routes = HostileRequests.routes(http().get("/help").json);
        assertTrue("calls listed by /help: " + routes, routes.size() > 30);
        warmUp(routes);
        int seriesBefore = series().size();
        long heapBefore = heapAfterGc();
        long rssBefore = rss();

        long seed = Long.getLong("fractal.fuzz.seed", DEFAULT_SEED);
        List<String> serverPaths = new ArrayList<>();
        Path home = Paths.get(property(FRACTAL_HOME));
        serverPaths.add(home.toString());
        serverPaths.add(home.toRealPath().toString());
        HostileRequests.Report report = new HostileRequests(http().base(), MANAGEMENT_TOKEN, seed, routes,
                serverPaths).run(RAW_CASES, CLIENT_CASES);
        LOG.info(report.summary());
        long heapAfter = heapAfterGc();
        long rssAfter = rss();
        cleanUp();

        assertEquals(report.summary() + "; the first failures (rerun with -Dfractal.fuzz.seed=" + seed + "):\n\n"
                + report.failureText(), 0, report.failureCount);
        assertTrue(report.summary(), report.answers >= (RAW_CASES + CLIENT_CASES) * 9 / 10);

        // the server still does its job
        assertPredictsIris("iris", 1, true);
        assertEquals(List.of("digits", "iris"), modelNames());

        // metrics: labels from fixed sets, and no more than twice the series of a server that served each call once
        List<String> after = series();
        Set<String> templates = new TreeSet<>();
        routes.forEach(r -> templates.add(r.template()));
        Set<String> strange = new TreeSet<>();
        for (String line : after) {
            label(line, "method").filter(m -> !METHOD_LABELS.contains(m)).ifPresent(m -> strange.add(line));
            label(line, "route").filter(r -> !templates.contains(r) && !r.equals("unmatched"))
                    .ifPresent(r -> strange.add(line));
            label(line, "status").filter(s -> !s.matches("[1-5][0-9][0-9]")).ifPresent(s -> strange.add(line));
        }
        assertEquals("series whose labels come from the requests", Set.of(), strange);
        LOG.info("metrics series: " + seriesBefore + " before, " + after.size() + " after");
        assertTrue("metrics series: " + seriesBefore + " before, " + after.size() + " after",
                after.size() < 2 * seriesBefore);

        String memory = "heap after GC " + heapBefore / MIB + " -> " + heapAfter / MIB + " MiB, RSS " + rssBefore / MIB
                + " -> " + rssAfter / MIB + " MiB";
        LOG.info(memory);
        assertTrue(memory, heapAfter - heapBefore < 256 * MIB);
        assertTrue(memory, rssBefore <= 0 || rssAfter - rssBefore < 512 * MIB);

        aModelThatCannotLoadNamesNoServerFolder(serverPaths);
        cleanUp();
    }

    /**
     * Each listed call once, as a client that uses the API would (well-formed, with the token): the baseline of the
     * metrics is a server that has served its calls, not a fresh one. Calls that change something get a model or
     * modelhost that does not exist.
     */
    private void warmUp(List<HostileRequests.Route> routes) {
        for (HostileRequests.Route r : routes) {
            boolean changes = r.method().equals("DELETE") || r.method().equals("PUT")
                    || (r.method().equals("POST") && !r.template().endsWith("/prediction")
                    && !r.template().endsWith("/infer") && !r.template().endsWith("/sendtomodelhost")
                    && !r.template().endsWith("/index") && !r.template().endsWith("/load")
                    && !r.template().endsWith("/unload"));
            String path = r.template().replace("{model}", changes ? "warm-up-none" : "iris").replace("{version}", "1")
                    .replace("{id}", "warm-up-none");
            if (r.method().equals("PUT")) {
                http().put(path, "{}");
            } else {
                http().send(r.method(), path, "{}");
            }
        }
    }

    /**
     * Garbage uploaded as an ONNX model: why it failed to load (the model view, a v2 load, the repository index, a
     * prediction) says what ONNX Runtime said, without the folder the server keeps the file in.
     */
    private void aModelThatCannotLoadNamesNoServerFolder(List<String> serverPaths) {
        String model = HostileRequests.UPLOAD_MODEL;
        cleanUp(); // a model of its own: this version is its default
        HttpResult up = postMultipart("/api/v1/models/" + model, java.util.Map.of("path",
                FilePart.of("garbage.onnx", "not a model".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                "make_default", "true"));
        assertEquals(up.toString(), 201, up.status);
        int version = up.json.path("version").asInt();
        org.awaitility.Awaitility.await("the garbage version FAILED").atMost(READY_TIMEOUT)
                .pollInterval(java.time.Duration.ofMillis(100))
                .until(() -> versionOf(http().get("/api/v1/models/" + model).json, version).path("failures").size()
                        == MODELHOSTS.size());
        List<HttpResult> answers = List.of(http().get("/api/v1/models/" + model),
                http().post("/v2/repository/models/" + model + "/load"), http().post("/v2/repository/index"),
                http().post("/api/v1/models/" + model + ":" + version + "/prediction", "{\"values\": [1, 2]}"));
        for (HttpResult a : answers) {
            assertTrue(a.toString(), a.body.contains("ORT_INVALID_PROTOBUF"));
            for (String path : serverPaths) {
                assertTrue("server folder in " + a, !a.body.contains(path));
            }
        }
    }

    /** Deletes what the hostile uploads left (they go to one model name only). */
    private void cleanUp() {
        HttpResult gone = http().delete("/api/v1/models/" + HostileRequests.UPLOAD_MODEL);
        assertTrue(gone.toString(), gone.status == 200 || gone.status == 404);
    }

    private List<String> modelNames() {
        List<String> names = new ArrayList<>();
        for (JsonNode m : http().get("/api/v1/models").json.path("models")) {
            names.add(m.path("name").asText());
        }
        names.sort(null);
        return names;
    }

    /** The samples of {@code GET /metrics} on the REST port, one per line. */
    private List<String> series() {
        HttpResult metrics = http().get("/metrics", "text/plain");
        assertEquals(metrics.toString(), 200, metrics.status);
        List<String> lines = new ArrayList<>();
        for (String line : metrics.body.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                lines.add(line);
            }
        }
        return lines;
    }

    private static java.util.Optional<String> label(String line, String name) {
        Matcher m = Pattern.compile("[{,]" + name + "=\"([^\"]*)\"").matcher(line);
        return m.find() ? java.util.Optional.of(m.group(1)) : java.util.Optional.empty();
    }

    /** The heap in use after collecting what can be: this JVM is the server's (Pax Exam's native container). */
    private static long heapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The resident set of this JVM from /proc, or -1 where there is none. */
    private static long rss() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }
}
