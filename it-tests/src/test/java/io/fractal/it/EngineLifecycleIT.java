package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/** The PyTorch engine bundle stopped and started while the server runs: models leave and come back by themselves. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class EngineLifecycleIT extends FractalTestSupport {

    private static final String ENGINE = "io.fractal.engine.pytorch";
    /** The longest a prediction may take to report a missing engine. */
    private static final Duration GRACE = Duration.ofSeconds(10);

    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("iris"), testLibraries());
    }

    @After
    public void engineStarted() throws Exception {
        Bundle engine = installedBundle(ENGINE);
        if (engine.getState() != Bundle.ACTIVE) {
            engine.start();
        }
    }

    @Test
    public void stoppedEngineMakesPredictionsUnavailableAndItsRestartBringsTheModelsBack() throws Exception {
        awaitReady("iris");
        JsonNode expected = expected("iris");
        Map<String, JsonNode> request = Map.of("values", expected.path("inputs").path("input").path("data"));
        JsonNode probabilities = expected.path("outputs").path("probabilities").path("data");
        HttpResult before = http().post("/api/v1/models/iris/prediction", request);
        assertEquals(before.toString(), 200, before.status);
        assertValues("before the engine stops", probabilities, before.json.path("values"));

        installedBundle(ENGINE).stop();

        // every call answers (the HTTP client gives up after 20 s), and within the grace they answer 503
        await("predictions answer 503 once the engine is gone").atMost(GRACE).pollInterval(Duration.ofMillis(200))
                .untilAsserted(() -> {
                    HttpResult prediction = http().post("/api/v1/models/iris/prediction", request);
                    assertEquals(prediction.toString(), 503, prediction.status);
                    assertFalse(prediction.toString(), prediction.error() == null || prediction.error().isBlank());
                });
        HttpResult ready = http().get("/v2/models/iris/ready");
        // the protocol: 200 means ready, a 4xx status not ready
        assertEquals("iris is not ready without its engine: " + ready, 400, ready.status);
        assertFalse(ready.toString(), ready.json.path("ready").asBoolean(true));

        installedBundle(ENGINE).start();

        awaitReady("iris");
        HttpResult after = http().post("/api/v1/models/iris/prediction", request);
        assertEquals(after.toString(), 200, after.status);
        assertValues("after the engine is back", probabilities, after.json.path("values"));
        assertValues("the same values as before", before.json.path("values"), after.json.path("values"));
    }
}
