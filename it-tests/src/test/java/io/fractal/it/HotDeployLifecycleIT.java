package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * The life of models in deploy/: a file or a folder dropped is served, a replaced file becomes a new version that
 * replaces the old one, a deleted file is undeployed, a corrupt file fails on its own while everything else serves,
 * and a file being written slowly, new or overwritten in place, is only deployed once complete.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotDeployLifecycleIT extends FractalTestSupport {

    /** FileInstall's poll interval in these tests ({@code FractalTestSupport}). */
    private static final long POLL_MS = 200;
    /** A dropped model serves within a few seconds (FileInstall polls every 200 ms here; the engine is warm). */
    private static final Duration DEPLOY_TIMEOUT = Duration.ofSeconds(10);
    /** A deleted file is undeployed within a few seconds. */
    private static final Duration UNDEPLOY_TIMEOUT = Duration.ofSeconds(5);

    /** The iris sample: the model that must keep serving whatever happens to the others. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("iris"), testLibraries());
    }

    @Before
    public void irisServes() {
        awaitReady("iris");
    }

    @Test
    public void modelFileCopiedIntoDeployIsServed() throws Exception {
        assertEquals(404, http().get("/api/v1/models/quick").status);
        JsonNode expected = expected("adder");

        long copied = System.nanoTime();
        deploy("/models/adder.pt", "quick.pt");
        AtomicInteger attempts = new AtomicInteger();
        HttpResult[] first = new HttpResult[1];
        await("the copied quick.pt answers a prediction").atMost(DEPLOY_TIMEOUT).pollDelay(Duration.ZERO)
                .pollInterval(Duration.ofMillis(10))
                .until(() -> {
                    attempts.incrementAndGet();
                    first[0] = http().post("/v2/models/quick/infer", adderRequest(expected));
                    return first[0].status == 200;
                });
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - copied);

        System.out.println("HotDeployLifecycleIT: copy into deploy/ to first successful prediction: " + millis + " ms ("
                + attempts.get() + " attempts)");
        assertValues("quick", expected.path("outputs").path("output").path("data"),
                first[0].json.path("outputs").get(0).path("data"));
        JsonNode version = versionOf(modelView("quick"), 1);
        assertEquals(version.toString(), "deploy:quick.pt", version.path("source").asText());
        assertEquals(version.toString(), sha256(resourceBytes("/models/adder.pt")), version.path("sha256").asText());
    }

    @Test
    public void modelFolderIsServedWithItsSidecar() throws Exception {
        byte[] sidecar = Files.readAllBytes(sampleFile("iris/model.json"));
        deployModelFolder("flower", files("model.pt", Files.readAllBytes(sampleFile("iris/model.pt")),
                "model.json", sidecar));

        awaitReady("flower");
        JsonNode declared = json(new String(sidecar, java.nio.charset.StandardCharsets.UTF_8));
        JsonNode view = modelView("flower");
        assertEquals(view.toString(), List.of(1), versionNumbers(view));
        JsonNode version = versionOf(view, 1);
        assertEquals(version.toString(), "deploy:flower/", version.path("source").asText());
        assertEquals(version.toString(), "PyTorch", version.path("engine").asText());
        assertEquals(version.toString(), declared.path("description"), version.path("description"));
        assertEquals(version.toString(), declared.path("inputs"), version.path("inputs"));
        assertEquals(version.toString(), declared.path("outputs"), version.path("outputs"));
        assertEquals(version.toString(), declared.path("labels"), version.path("labels"));
        JsonNode expected = expected("iris");
        HttpResult prediction = http().post("/api/v1/models/flower/prediction",
                Map.of("values", expected.path("inputs").path("input").path("data")));
        assertEquals(prediction.toString(), 200, prediction.status);
        assertValues("flower", expected.path("outputs").path("probabilities").path("data"), prediction.json.path("values"));
        assertEquals(prediction.toString(), expected.path("predicted"), prediction.json.path("labels"));

        undeployModelFolder("flower");

        await("flower undeployed").atMost(UNDEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .until(() -> http().get("/api/v1/models/flower").status == 404);
    }

    /**
     * Model folders taken out of deploy/ (each in one rename: what {@code rm -r} looks like to a poller) are undeployed
     * within seconds, one after the other, whatever moment of FileInstall's polling each removal falls on.
     */
    @Test
    public void removedModelFoldersAreUndeployed() throws Exception {
        List<String> names = List.of("petal", "sepal", "stem");
        for (String name : names) {
            deployModelFolder(name, files("model.pt", Files.readAllBytes(sampleFile("iris/model.pt")),
                    "model.json", Files.readAllBytes(sampleFile("iris/model.json"))));
        }
        for (String name : names) {
            awaitReady(name);
        }

        Map<String, String> outcome = new LinkedHashMap<>();
        for (String name : names) {
            long removed = System.nanoTime();
            undeployModelFolder(name);
            try {
                await(name + " undeployed").atMost(UNDEPLOY_TIMEOUT).pollDelay(Duration.ZERO)
                        .pollInterval(Duration.ofMillis(20))
                        .until(() -> http().get("/api/v1/models/" + name).status == 404);
                outcome.put(name, "404 after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - removed) + " ms");
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                outcome.put(name, "still served " + UNDEPLOY_TIMEOUT.toMillis() + " ms after its folder left deploy/: "
                        + http().get("/api/v1/models/" + name));
            }
        }

        System.out.println("HotDeployLifecycleIT: model folders removed: " + outcome);
        for (String name : names) {
            assertTrue(name + ": " + outcome, outcome.get(name).startsWith("404"));
        }
    }

    @Test
    public void replacedFileDeploysAVersionThatReplacesTheOld() throws Exception {
        byte[] adder = resourceBytes("/models/adder.pt");
        byte[] iris = Files.readAllBytes(sampleFile("iris/model.pt"));
        deployBytes(adder, "m.pt");
        awaitReady("m");
        HttpResult before = http().post("/v2/models/m/infer", adderRequest(expected("adder")));
        assertEquals(before.toString(), 200, before.status);
        assertEquals(before.toString(), "1", before.json.path("model_version").asText());

        // another TorchScript model under the same file name
        deployBytes(iris, "m.pt");

        JsonNode version = awaitDefaultVersion("m", v -> v.path("version").asInt() == 2, true, DEPLOY_TIMEOUT);
        assertEquals(version.toString(), sha256(iris), version.path("sha256").asText());
        assertEquals(version.toString(), iris.length, version.path("size").asLong());
        assertEquals(List.of(2), versionNumbers(modelView("m")));
        JsonNode expected = expected("iris");
        JsonNode input = expected.path("inputs").path("input");
        HttpResult after = http().post("/v2/models/m/infer", Map.of("inputs", List.of(Map.of(
                // a bare file: its input is named as forward's argument, "x", which the v2 metadata says
                "name", "x", "shape", input.path("shape"), "datatype", "FP32", "data", input.path("data")))));
        assertEquals(after.toString(), 200, after.status);
        assertEquals(after.toString(), "2", after.json.path("model_version").asText());
        assertValues("m version 2", expected.path("outputs").path("probabilities").path("data"),
                after.json.path("outputs").get(0).path("data"));
        HttpResult old = http().post("/v2/models/m/versions/1/infer", adderRequest(expected("adder")));
        assertEquals(old.toString(), 404, old.status);
    }

    @Test
    public void deletedFileIsUndeployedWithinSeconds() throws Exception {
        Path file = deployBytes(resourceBytes("/models/adder.pt"), "doomed.pt");
        awaitReady("doomed");

        long deleted = System.nanoTime();
        Files.delete(file);

        await("doomed undeployed").atMost(UNDEPLOY_TIMEOUT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                .until(() -> http().get("/api/v1/models/doomed").status == 404);
        System.out.println("HotDeployLifecycleIT: deleted file to 404: "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - deleted) + " ms");
        HttpResult prediction = http().post("/v2/models/doomed/infer", adderRequest(expected("adder")));
        assertEquals(prediction.toString(), 404, prediction.status);
        HttpResult list = http().get("/api/v1/models");
        assertTrue(list.toString(), ModelsV1IT.find(list.json.path("models"), "name", "doomed") == null);
    }

    @Test
    public void corruptFileFailsWithItsReasonAndEverythingElseServes() throws Exception {
        deploy("/models/corrupt.pt", "corrupt.pt");

        JsonNode[] failed = new JsonNode[1];
        await("corrupt FAILED on every modelhost").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    HttpResult view = http().get("/api/v1/models/corrupt");
                    assertEquals(view.toString(), 200, view.status);
                    JsonNode version = versionOf(view.json, 1);
                    assertTrue(view.toString(), version != null);
                    for (String host : MODELHOSTS) {
                        assertEquals(view.toString(), "FAILED", version.path("modelhosts").path(host).asText());
                        assertFalse(view.toString(), version.path("failures").path(host).asText().isBlank());
                    }
                    failed[0] = version;
                });
        String reason = failed[0].path("failures").path(MODELHOSTS.get(0)).asText();

        HttpResult prediction = http().post("/api/v1/models/corrupt/prediction", Map.of("values", List.of(1, 2, 3, 4)));

        assertEquals(prediction.toString(), 503, prediction.status);
        assertTrue("the reason " + reason + " in " + prediction, prediction.error().contains(reason));
        HttpResult ready = http().get("/v2/models/corrupt/ready");
        assertFalse(ready.toString(), ready.status == 200 || ready.json.path("ready").asBoolean());
        // everything else serves
        assertPredictsIris();
    }

    @Test
    public void failedReplacementKeepsTheOldVersionServing() throws Exception {
        deployBytes(resourceBytes("/models/adder.pt"), "fragile.pt");
        awaitReady("fragile");

        deployBytes(resourceBytes("/models/corrupt.pt"), "fragile.pt");

        await("fragile version 2 FAILED").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    JsonNode version = versionOf(modelView("fragile"), 2);
                    assertTrue("no version 2", version != null);
                    for (String host : MODELHOSTS) {
                        assertEquals(version.toString(), "FAILED", version.path("modelhosts").path(host).asText());
                    }
                });
        JsonNode view = modelView("fragile");
        assertEquals(view.toString(), 1, view.path("default_version").asInt());
        HttpResult prediction = http().post("/v2/models/fragile/infer", adderRequest(expected("adder")));
        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), "1", prediction.json.path("model_version").asText());
        assertValues("fragile", expected("adder").path("outputs").path("output").path("data"),
                prediction.json.path("outputs").get(0).path("data"));
    }

    /**
     * A file written slowly into deploy/ (15 chunks, 100 ms apart: each poll of FileInstall, every 200 ms, sees it
     * change) is deployed once, complete: one version, with the whole file's digest and size.
     */
    @Test
    public void fileBeingWrittenSlowlyIsDeployedOnceComplete() throws Exception {
        byte[] model = Files.readAllBytes(sampleFile("iris/model.pt"));
        int chunks = 15;
        Set<Integer> versionsSeen = new TreeSet<>();
        long started = System.nanoTime();
        writeSlowly(deployFolder().resolve("slow.pt"), model, chunks, 100, "slow", versionsSeen);
        System.out.println("HotDeployLifecycleIT: slow.pt written in " + chunks + " chunks over "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms; versions seen meanwhile: "
                + versionsSeen);

        awaitReady("slow");
        // FileInstall has had several polls since: no other version comes
        awaitOnlyVersion("slow", 1, versionsSeen);
        assertEquals("versions ever seen", Set.of(1), versionsSeen);
        JsonNode version = versionOf(modelView("slow"), 1);
        assertEquals(version.toString(), sha256(model), version.path("sha256").asText());
        assertEquals(version.toString(), model.length, version.path("size").asLong());
        JsonNode expected = expected("iris");
        JsonNode input = expected.path("inputs").path("input");
        HttpResult prediction = http().post("/v2/models/slow/infer", Map.of("inputs", List.of(Map.of(
                // a bare file: its input is named as forward's argument, "x", which the v2 metadata says
                "name", "x", "shape", input.path("shape"), "datatype", "FP32", "data", input.path("data")))));
        assertEquals(prediction.toString(), 200, prediction.status);
        assertValues("slow", expected.path("outputs").path("probabilities").path("data"),
                prediction.json.path("outputs").get(0).path("data"));
    }

    /**
     * A model file overwritten in place slowly (30 chunks, 40 ms apart, over 6 polls), which FileInstall reports on
     * the first poll that sees it change: the new version is read once the file is complete, and is the only one
     * after the old.
     */
    @Test
    public void fileOverwrittenSlowlyIsDeployedOnceComplete() throws Exception {
        byte[] adder = resourceBytes("/models/adder.pt");
        byte[] iris = Files.readAllBytes(sampleFile("iris/model.pt"));
        Path file = deployBytes(adder, "rewritten.pt");
        awaitReady("rewritten");
        Set<Integer> versionsSeen = new TreeSet<>(versionNumbers(modelView("rewritten")));
        assertEquals(Set.of(1), versionsSeen);

        writeSlowly(file, iris, 30, 40, "rewritten", versionsSeen);

        JsonNode version = awaitDefaultVersion("rewritten", v -> v.path("version").asInt() == 2, true,
                DEPLOY_TIMEOUT);
        assertEquals(version.toString(), sha256(iris), version.path("sha256").asText());
        assertEquals(version.toString(), iris.length, version.path("size").asLong());
        awaitOnlyVersion("rewritten", 2, versionsSeen);
        // no version of a half-written file came and failed in between
        assertEquals("versions ever seen", Set.of(1, 2), versionsSeen);
    }

    /** For a second on end, {@code model} has {@code version} alone; the versions seen meanwhile are noted. */
    private void awaitOnlyVersion(String model, int version, Set<Integer> versionsSeen) {
        await(model + " keeps version " + version + " alone").during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    JsonNode view = modelView(model);
                    versionsSeen.addAll(versionNumbers(view));
                    assertEquals(view.toString(), List.of(version), versionNumbers(view));
                });
    }

    /**
     * Writes {@code bytes} to {@code file} (truncated first) in {@code chunks} pieces {@code apartMillis} ms apart,
     * noting the versions of {@code model} seen meanwhile.
     */
    private void writeSlowly(Path file, byte[] bytes, int chunks, long apartMillis, String model,
            Set<Integer> versionsSeen) throws Exception {
        ScheduledExecutorService writer = Executors.newSingleThreadScheduledExecutor();
        CompletableFuture<Void> written = new CompletableFuture<>();
        long[] lastWrite = {0};
        long[] longestGap = {0};
        try (OutputStream out = Files.newOutputStream(file)) {
            AtomicInteger next = new AtomicInteger();
            ScheduledFuture<?> chunking = writer.scheduleAtFixedRate(() -> {
                int i = next.getAndIncrement();
                try {
                    if (i < chunks) {
                        int from = bytes.length * i / chunks;
                        out.write(Arrays.copyOfRange(bytes, from, bytes.length * (i + 1) / chunks));
                        out.flush();
                        long now = System.nanoTime();
                        if (lastWrite[0] != 0) {
                            longestGap[0] = Math.max(longestGap[0], now - lastWrite[0]);
                        }
                        lastWrite[0] = now;
                    } else {
                        written.complete(null);
                    }
                } catch (Exception e) {
                    written.completeExceptionally(e);
                }
            }, 0, apartMillis, TimeUnit.MILLISECONDS);
            await(file.getFileName() + " written").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(25))
                    .until(() -> {
                        HttpResult view = http().get("/api/v1/models/" + model);
                        if (view.status == 200) {
                            versionsSeen.addAll(versionNumbers(view.json));
                        }
                        return written.isDone();
                    });
            chunking.cancel(false);
            written.get();
        } finally {
            writer.shutdownNow();
        }
        // A writer that stalled for a poll (a pause of this JVM on a crowded machine) has shown the server a file
        // that stayed the same for a poll: what it did then says nothing of this test's case.
        long gap = TimeUnit.NANOSECONDS.toMillis(longestGap[0]);
        Assume.assumeTrue(file.getFileName() + ": the writer stalled " + gap + " ms, FileInstall polls every "
                + POLL_MS + " ms here", gap < POLL_MS * 9 / 10);
    }

    // ------------------------------------------------------------------------------------------------

    /** The v2 request of the adder's reference inputs (x, then y: a model without metadata takes them in order). */
    private static Map<String, Object> adderRequest(JsonNode expected) {
        JsonNode x = expected.path("inputs").path("x");
        JsonNode y = expected.path("inputs").path("y");
        return Map.of("inputs", List.of(
                Map.of("name", "x", "shape", x.path("shape"), "datatype", "FP32", "data", x.path("data")),
                Map.of("name", "y", "shape", y.path("shape"), "datatype", "FP32", "data", y.path("data"))));
    }

    private void assertPredictsIris() {
        JsonNode expected = expected("iris");
        HttpResult prediction = http().post("/api/v1/models/iris/prediction",
                Map.of("values", expected.path("inputs").path("input").path("data")));
        assertEquals(prediction.toString(), 200, prediction.status);
        assertValues("iris", expected.path("outputs").path("probabilities").path("data"), prediction.json.path("values"));
        assertEquals(prediction.toString(), expected.path("predicted"), prediction.json.path("labels"));
    }

    private static Map<String, byte[]> files(Object... nameBytes) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (int i = 0; i < nameBytes.length; i += 2) {
            files.put((String) nameBytes[i], (byte[]) nameBytes[i + 1]);
        }
        return files;
    }
}
