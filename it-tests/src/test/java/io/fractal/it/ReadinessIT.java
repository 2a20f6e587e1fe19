package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Readiness an orchestrator can trust once the server runs: one broken model leaves the server ready (that model's
 * own readiness is false); every modelhost draining makes it unready, and resuming ready again. (Start-up and
 * shutdown are in {@link ProcessLifecycleIT}, on a real process.)
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ReadinessIT extends FractalTestSupport {

    @Test
    public void aBrokenModelDoesNotMakeTheServerUnreadyButDrainingEveryHostDoes() throws Exception {
        awaitReady("iris");
        await("ready").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> http().get("/v2/health/ready").status == 200);

        deploy("/models/corrupt.pt", "broken.pt");
        await("the broken model failed").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> http().get("/api/v1/models/broken").body.contains("FAILED"));
        HttpResult broken = http().get("/v2/models/broken/ready");
        assertEquals(broken.toString(), 400, broken.status);
        HttpResult server = http().get("/v2/health/ready");
        assertEquals("one broken model must not pull the server out: " + server, 200, server.status);

        try {
            for (String host : MODELHOSTS) {
                assertEquals(200, http().post("/api/v1/modelhosts/" + host + "/drain").status);
            }
            await("unready while every modelhost drains").atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(50)).until(() -> http().get("/v2/health/ready").status == 400);
            HttpResult drained = http().get("/v2/health/ready");
            assertTrue(drained.toString(), drained.json.path("reason").asText().contains("modelhost"));
        } finally {
            for (String host : MODELHOSTS) {
                http().post("/api/v1/modelhosts/" + host + "/resume");
            }
        }
        await("ready again").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> http().get("/v2/health/ready").status == 200);
    }
}
