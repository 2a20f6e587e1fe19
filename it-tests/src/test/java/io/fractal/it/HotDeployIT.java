package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** A TorchScript file dropped into deploy/ while the server runs becomes a model that answers. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotDeployIT extends FractalTestSupport {

    /** A dropped model file is served within a few seconds (the engine has started with the server). */
    private static final Duration DEPLOY_TIMEOUT = Duration.ofSeconds(10);

    /** No sample models: the deploy folder holds only the configuration. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries());
    }

    @Test
    public void torchScriptFileWithoutSidecarBecomesAModel() throws Exception {
        awaitServer();
        HttpResult before = http().get("/v2/models/adder");
        assertEquals(before.toString(), 404, before.status);

        deploy("/models/adder.pt", "adder.pt");

        await("adder is served").atMost(DEPLOY_TIMEOUT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(200))
                .untilAsserted(() -> {
                    HttpResult ready = http().get("/v2/models/adder/ready");
                    assertTrue(ready.toString(), ready.status == 200 && ready.json.path("ready").asBoolean());
                });
        awaitReady("adder");

        HttpResult list = http().get("/api/v1/models");
        assertTrue("adder is listed: " + list, ModelsV1IT.find(list.json.path("models"), "name", "adder") != null);

        JsonNode expected = expected("adder");
        JsonNode x = expected.path("inputs").path("x");
        JsonNode y = expected.path("inputs").path("y");
        HttpResult inference = http().post("/v2/models/adder/infer", Map.of(
                "id", "add-1",
                "inputs", List.of(
                        Map.of("name", "x", "shape", x.path("shape"), "datatype", "FP32", "data", x.path("data")),
                        Map.of("name", "y", "shape", y.path("shape"), "datatype", "FP32", "data", y.path("data")))));

        assertEquals(inference.toString(), 200, inference.status);
        assertEquals(inference.toString(), "adder", inference.json.path("model_name").asText());
        assertEquals(inference.toString(), "add-1", inference.json.path("id").asText());
        JsonNode outputs = inference.json.path("outputs");
        assertEquals(inference.toString(), 1, outputs.size());
        assertEquals(inference.toString(), "FP32", outputs.get(0).path("datatype").asText());
        assertEquals(inference.toString(), json(List.of(5, 3)), outputs.get(0).path("shape"));
        // 2x + y
        assertValues("adder output", expected.path("outputs").path("output").path("data"), outputs.get(0).path("data"));
    }
}
