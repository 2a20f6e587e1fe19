package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * The modelhosts as {@code GET /api/v1/modelhosts} shows them. One test on a server of its own, so the counters
 * start from a known state: no call has failed or been rejected.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ModelHostsIT extends FractalTestSupport {

    @Test
    public void modelhostsShowTheirConfigurationModelsAndCounters() {
        awaitReady("iris");
        awaitReady("digits");

        HttpResult before = http().get("/api/v1/modelhosts");

        assertEquals(before.toString(), 200, before.status);
        assertEquals(before.toString(), MODELHOSTS.size(), before.json.path("modelhosts").size());
        for (String id : MODELHOSTS) {
            JsonNode host = ModelsV1IT.find(before.json.path("modelhosts"), "id", id);
            assertTrue(id + " is not listed: " + before, host != null);
            assertEquals(before.toString(), "RUNNING", host.path("state").asText());
            assertEquals(before.toString(), 2, host.path("workers").asInt());
            assertEquals(before.toString(), 64, host.path("queue_capacity").asInt());
            assertEquals(before.toString(), "*", host.path("models").asText());
            assertEquals(before.toString(), 0, host.path("in_flight").asInt());
            assertEquals(before.toString(), 0, host.path("queued").asInt());
            assertTrue(before.toString(), host.path("served").isIntegralNumber());
            assertEquals(before.toString(), 0, host.path("failed").asInt());
            assertEquals(before.toString(), 0, host.path("rejected").asInt());
            for (String model : List.of("iris", "digits")) {
                JsonNode loaded = ModelsV1IT.find(host.path("loaded"), "model", model);
                assertTrue(model + " is not loaded on " + id + ": " + before, loaded != null);
                assertEquals(before.toString(), 1, loaded.path("version").asInt());
                assertEquals(before.toString(), "READY", loaded.path("state").asText());
                assertEquals(before.toString(), "PyTorch", loaded.path("engine").asText());
            }
        }

        int predictions = 4;
        for (int i = 0; i < predictions; i++) {
            HttpResult prediction = http().post("/api/v1/models/iris/prediction", Map.of("values", List.of(5.1, 3.5, 1.4, 0.2)));
            assertEquals(prediction.toString(), 200, prediction.status);
        }
        // the counters are updated as the calls end: give them a moment
        await("served grew by " + predictions + " from " + before).atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> {
                    HttpResult after = http().get("/api/v1/modelhosts");
                    assertEquals(after.toString(), 200, after.status);
                    assertEquals("served: before " + before + ", after " + after, served(before) + predictions, served(after));
                    for (JsonNode host : after.json.path("modelhosts")) {
                        assertEquals(after.toString(), 0, host.path("in_flight").asInt());
                        assertEquals(after.toString(), 0, host.path("failed").asInt());
                    }
                });
    }

    private static long served(HttpResult modelhosts) {
        long served = 0;
        for (JsonNode host : modelhosts.json.path("modelhosts")) {
            served += host.path("served").asLong();
        }
        return served;
    }
}
