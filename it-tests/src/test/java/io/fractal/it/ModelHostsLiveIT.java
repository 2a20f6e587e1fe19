package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.FixMethodOrder;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.MethodSorters;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Modelhosts come and go while the server serves: added by a {@code .cfg} file, by {@code POST /api/v1/modelhosts}
 * and by {@code fractal:addmodelhost}; drained and resumed; removed the three ways. Continuous iris predictions run
 * through every step, and not one of them may fail.
 *
 * <p>The steps build on each other (mh3, mh4 and mh5 are added, then removed), so they run in name order on the one
 * server of this class.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
@FixMethodOrder(MethodSorters.NAME_ASCENDING)
public class ModelHostsLiveIT extends ModelHostTestSupport {

    private static final String PREDICTION = "/api/v1/models/iris/prediction";
    private static final String IRIS = "{\"values\": [5.1, 3.5, 1.4, 0.2]}";
    /** Client threads of the continuous load. */
    private static final int CLIENTS = 4;
    /** How soon a new modelhost must answer requests: FileInstall's poll, Config Admin, SCR, loading iris. */
    private static final Duration JOINS_WITHIN = Duration.ofSeconds(5);
    private static final Duration LEAVES_WITHIN = Duration.ofSeconds(10);
    private static final String MH3_CFG = "io.fractal.modelhost-mh3.cfg";

    private LoadRunner load() {
        awaitReady("iris");
        LoadRunner load = LoadRunner.start(http().base(), PREDICTION, IRIS, CLIENTS);
        load.awaitMore(30, Duration.ofSeconds(10));
        return load;
    }

    private static void assertNoFailure(String phase, LoadRunner load) {
        System.out.println("LOAD " + ModelHostsLiveIT.class.getSimpleName() + " " + phase + ": " + load.summary());
        assertEquals(phase + ": failed requests of the continuous load: " + load.summary(), 0, load.failures());
        assertTrue(phase + ": the load saw traffic: " + load.summary(), load.requests() > 0);
    }

    private void awaitServes(LoadRunner load, String host) {
        await(host + " answers predictions of the load: " + load).atMost(JOINS_WITHIN)
                .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                .until(() -> load.servedBy(host) > 0);
    }

    private void awaitGone(String host) {
        await(host + " leaves GET /api/v1/modelhosts").atMost(LEAVES_WITHIN).pollInterval(Duration.ofMillis(50))
                .until(() -> !modelhostIds().contains(host));
    }

    @Test
    public void step1_cfgFileInDeployAddsAModelhostThatServesWithinSeconds() throws Exception {
        awaitReady("digits");
        try (LoadRunner load = load()) {
            long dropped = System.nanoTime();
            deployBytes("id=mh3\nworkers=2\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), MH3_CFG);

            awaitServes(load, "mh3");
            System.out.printf("mh3 answered %.2f s after its .cfg was dropped%n", (System.nanoTime() - dropped) / 1e9);
            JsonNode mh3 = modelhost("mh3");
            assertNotNull("mh3 in GET /api/v1/modelhosts: " + modelhosts(), mh3);
            assertEquals(mh3.toString(), "RUNNING", mh3.path("state").asText());
            assertEquals(mh3.toString(), 2, mh3.path("workers").asInt());
            assertEquals("default queue capacity: " + mh3, 64, mh3.path("queue_capacity").asInt());
            assertEquals("default models: " + mh3, "*", mh3.path("models").asText());

            List<Integer> data = IntStream.rangeClosed(1, 60).boxed().collect(Collectors.toList());
            HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("data", data));
            assertEquals(echo.toString(), 200, echo.status);
            assertTrue("mh3 in the spread of " + echo, echo.json.path("spread").path("mh3").asInt() > 0);
            int total = 0;
            for (JsonNode n : echo.json.path("spread")) {
                total += n.asInt();
            }
            assertEquals("sum of the spread of " + echo, 60, total);

            load.awaitMore(50, Duration.ofSeconds(10));
            load.close();
            assertNoFailure("mh3 added by a .cfg file", load);
        }
    }

    @Test
    public void step2_restAddsAModelhostThatServesOnlyTheModelsItsFilterNames() throws Exception {
        awaitReady("digits");
        try (LoadRunner load = load()) {
            HttpResult created = http().post("/api/v1/modelhosts",
                    "{\"id\":\"mh4\",\"workers\":1,\"queue_capacity\":16,\"models\":\"iris*\"}");

            assertEquals(created.toString(), 201, created.status);
            assertEquals(created.toString(), "mh4", created.json.path("id").asText());
            assertEquals(created.toString(), 1, created.json.path("workers").asInt());
            assertEquals(created.toString(), 16, created.json.path("queue_capacity").asInt());
            assertEquals(created.toString(), "iris*", created.json.path("models").asText());

            awaitServes(load, "mh4");
            JsonNode mh4 = modelhost("mh4");
            assertNotNull("mh4 in GET /api/v1/modelhosts: " + modelhosts(), mh4);
            assertEquals(mh4.toString(), "RUNNING", mh4.path("state").asText());
            assertEquals(mh4.toString(), 1, mh4.path("workers").asInt());
            assertEquals(mh4.toString(), 16, mh4.path("queue_capacity").asInt());
            assertEquals(mh4.toString(), "iris*", mh4.path("models").asText());
            JsonNode iris = find(mh4.path("loaded"), "model", "iris");
            assertNotNull("iris loaded on mh4: " + mh4, iris);
            assertEquals(mh4.toString(), "READY", iris.path("state").asText());
            assertNull("digits must not be on mh4: " + mh4, find(mh4.path("loaded"), "model", "digits"));
            HttpResult digits = http().get("/api/v1/models/digits");
            assertEquals(digits.toString(), 200, digits.status);
            for (JsonNode version : digits.json.path("versions")) {
                assertFalse("digits is not held by mh4: " + digits, version.path("modelhosts").has("mh4"));
                assertTrue("digits is still held by mh1: " + digits, version.path("modelhosts").has("mh1"));
            }
            JsonNode digitsInput = expected("digits").path("inputs").path("image").path("data").get(0);
            for (int i = 0; i < 10; i++) {
                HttpResult prediction = http().post("/api/v1/models/digits/prediction", Map.of("values", digitsInput));
                assertEquals(prediction.toString(), 200, prediction.status);
                assertFalse("digits answered by mh4: " + prediction, "mh4".equals(prediction.json.path("modelhost").asText()));
            }

            HttpResult duplicate = http().post("/api/v1/modelhosts", Map.of("id", "mh4", "workers", 2));
            assertEquals(duplicate.toString(), 409, duplicate.status);
            assertTrue(duplicate.toString(), duplicate.error() != null && duplicate.error().contains("mh4"));
            HttpResult duplicateOfFile = http().post("/api/v1/modelhosts", Map.of("id", "mh1"));
            assertEquals("mh1 comes from a .cfg file: " + duplicateOfFile, 409, duplicateOfFile.status);
            HttpResult badId = http().post("/api/v1/modelhosts", Map.of("id", "no spaces!"));
            assertEquals(badId.toString(), 400, badId.status);
            assertTrue(badId.toString(), badId.error() != null && badId.error().contains("id"));
            HttpResult noId = http().post("/api/v1/modelhosts", Map.of("workers", 2));
            assertEquals(noId.toString(), 400, noId.status);
            assertFalse("nothing was added by the refused calls: " + modelhostIds(),
                    modelhostIds().contains("no spaces!"));

            load.awaitMore(50, Duration.ofSeconds(10));
            load.close();
            assertNoFailure("mh4 added by REST", load);
        }
    }

    @Test
    public void step3_shellCommandAddsAModelhostThatServes() throws Exception {
        try (LoadRunner load = load(); Shell shell = shell()) {
            String answer = shell.run("fractal:addmodelhost mh5");

            assertTrue(answer, answer.contains("mh5") && answer.contains("added"));
            awaitServes(load, "mh5");
            JsonNode mh5 = modelhost("mh5");
            assertNotNull("mh5 in GET /api/v1/modelhosts: " + modelhosts(), mh5);
            assertEquals(mh5.toString(), "RUNNING", mh5.path("state").asText());
            assertEquals(mh5.toString(), 2, mh5.path("workers").asInt());
            assertEquals(mh5.toString(), 64, mh5.path("queue_capacity").asInt());

            load.awaitMore(50, Duration.ofSeconds(10));
            load.close();
            assertNoFailure("mh5 added by fractal:addmodelhost", load);
        }
    }

    @Test
    public void step4_drainedModelhostServesNothingNewUntilResumed() throws Exception {
        try (LoadRunner load = load()) {
            HttpResult drain = http().post("/api/v1/modelhosts/mh2/drain");

            assertEquals(drain.toString(), 200, drain.status);
            assertEquals("DRAINING", modelhost("mh2").path("state").asText());
            // what it had queued and running finishes
            await("mh2 finishes its queued and running requests").atMost(Duration.ofSeconds(5))
                    .pollInterval(Duration.ofMillis(20))
                    .until(() -> {
                        JsonNode mh2 = modelhost("mh2");
                        return mh2.path("in_flight").asInt() == 0 && mh2.path("queued").asInt() == 0;
                    });
            load.awaitMore(30, Duration.ofSeconds(10)); // answers in transit from mh2 arrive
            long servedByMh2 = modelhost("mh2").path("served").asLong();
            long answersFromMh2 = load.servedBy("mh2");
            Map<String, Long> before = load.byModelhost();

            load.awaitMore(300, Duration.ofSeconds(15));

            JsonNode drained = modelhost("mh2");
            assertEquals(drained.toString(), "DRAINING", drained.path("state").asText());
            assertEquals("mh2 served nothing new while draining: " + drained, servedByMh2, drained.path("served").asLong());
            assertEquals("no answer named mh2 while it drained: " + load, answersFromMh2, load.servedBy("mh2"));
            for (String other : List.of("mh1", "mh3", "mh4", "mh5")) {
                assertTrue(other + " kept serving while mh2 drained: before " + before + ", after " + load,
                        load.servedBy(other) > before.getOrDefault(other, 0L));
            }
            HttpResult unknown = http().post("/api/v1/modelhosts/nosuch/drain");
            assertEquals(unknown.toString(), 404, unknown.status);

            HttpResult resume = http().post("/api/v1/modelhosts/mh2/resume");

            assertEquals(resume.toString(), 200, resume.status);
            assertEquals("RUNNING", modelhost("mh2").path("state").asText());
            await("answers name mh2 again after its resume: " + load).atMost(JOINS_WITHIN)
                    .pollInterval(Duration.ofMillis(20)).until(() -> load.servedBy("mh2") > answersFromMh2);
            assertTrue("mh2 serves again: " + modelhost("mh2"), modelhost("mh2").path("served").asLong() > servedByMh2);

            load.close();
            assertNoFailure("mh2 drained and resumed", load);
        }
    }

    @Test
    public void step5_removingModelhostsUnderLoadLosesNoRequest() throws Exception {
        assertTrue("the earlier steps added mh3, mh4 and mh5: " + modelhostIds(),
                modelhostIds().containsAll(List.of("mh1", "mh2", "mh3", "mh4", "mh5")));
        try (LoadRunner load = load(); Shell shell = shell()) {
            HttpResult deleted = http().delete("/api/v1/modelhosts/mh4");
            assertEquals(deleted.toString(), 200, deleted.status);
            awaitGone("mh4");
            load.awaitMore(100, Duration.ofSeconds(10));

            Files.delete(deployFolder().resolve(MH3_CFG));
            awaitGone("mh3");
            load.awaitMore(100, Duration.ofSeconds(10));

            String removed = shell.run("fractal:removemodelhost mh5");
            assertTrue(removed, removed.contains("mh5") && removed.contains("removed"));
            awaitGone("mh5");
            load.awaitMore(100, Duration.ofSeconds(10));

            HttpResult deletedMh1 = http().delete("/api/v1/modelhosts/mh1");
            assertEquals(deletedMh1.toString(), 200, deletedMh1.status);
            awaitGone("mh1");
            // its configuration came from deploy/: the file goes with it, so it does not come back at the next start
            await("deploy/io.fractal.modelhost-mh1.cfg is deleted with mh1").atMost(LEAVES_WITHIN)
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> !Files.exists(deployFolder().resolve("io.fractal.modelhost-mh1.cfg")));
            load.awaitMore(100, Duration.ofSeconds(10));
            long fromMh2 = load.servedBy("mh2");
            load.awaitMore(100, Duration.ofSeconds(10));
            assertTrue("mh2, the last one, serves: " + load, load.servedBy("mh2") >= fromMh2 + 100);

            load.close();
            assertNoFailure("mh4, mh3, mh5 and mh1 removed", load);
            assertEquals(List.of("mh2"), modelhostIds());
        }
        HttpResult unknown = http().delete("/api/v1/modelhosts/mh4");
        assertEquals(unknown.toString(), 404, unknown.status);
        assertTrue(unknown.toString(), unknown.error() != null && unknown.error().contains("mh4"));
        HttpResult never = http().delete("/api/v1/modelhosts/nosuch");
        assertEquals(never.toString(), 404, never.status);
    }
}
