package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * An engine arrives by hot deploy: without the ONNX Runtime engine bundle an ONNX model waits for it (and predictions
 * answer 503 once the grace is over); the engine's jar dropped into deploy/ makes the model load and predict.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class EngineHotDeployIT extends FractalTestSupport {

    private static final String ENGINE = "io.fractal.engine.onnx";
    /** The balancer's grace.ms: how long a request waits for a model whose engine is away. */
    private static final Duration GRACE = Duration.ofMillis(5000);
    private static final Duration DEPLOY_TIMEOUT = Duration.ofSeconds(20);

    /** No sample models: only the ONNX model this test drops. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries());
    }

    @Test
    public void onnxModelWaitsForItsEngineWhichArrivesByHotDeploy() throws Exception {
        awaitServer();
        installedBundle(ENGINE).uninstall();
        assertTrue("the ONNX engine is uninstalled", java.util.Arrays.stream(context.getBundles())
                .noneMatch(b -> ENGINE.equals(b.getSymbolicName())));

        deploy("/models/iris.onnx", "late.onnx");

        await("late is WAITING_FOR_ENGINE on every modelhost").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    HttpResult view = http().get("/api/v1/models/late");
                    assertEquals(view.toString(), 200, view.status);
                    JsonNode version = versionOf(view.json, 1);
                    assertTrue(view.toString(), version != null);
                    assertEquals(view.toString(), "OnnxRuntime", version.path("engine").asText());
                    for (String host : MODELHOSTS) {
                        assertEquals(view.toString(), "WAITING_FOR_ENGINE", version.path("modelhosts").path(host).asText());
                    }
                });
        HttpResult notReady = http().get("/v2/models/late/ready");
        assertFalse(notReady.toString(), notReady.status == 200 || notReady.json.path("ready").asBoolean());

        JsonNode expected = expected("iris-onnx");
        Map<String, Object> request = Map.of("values", expected.path("inputs").path("input").path("data"));
        long sent = System.nanoTime();
        HttpResult waiting = http().post("/api/v1/models/late/prediction", request);
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent);

        System.out.println("EngineHotDeployIT: prediction without the engine answered " + waiting.status + " after "
                + waited + " ms");
        assertEquals(waiting.toString(), 503, waiting.status);
        assertFalse(waiting.toString(), waiting.error() == null || waiting.error().isBlank());
        assertTrue("Retry-After on " + waiting, waiting.response.headers().firstValue("Retry-After").isPresent());
        assertTrue("answered within the grace (" + waited + " ms)", waited < GRACE.toMillis() + 2000);

        Path jar = distributionJar(ENGINE + "-");
        long dropped = System.nanoTime();
        deployBytes(Files.readAllBytes(jar), jar.getFileName().toString());

        awaitReady("late");
        System.out.println("EngineHotDeployIT: engine jar dropped to model READY: "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - dropped) + " ms");
        assertEquals("the engine bundle is back", 1, java.util.Arrays.stream(context.getBundles())
                .filter(b -> ENGINE.equals(b.getSymbolicName())).count());
        HttpResult prediction = http().post("/api/v1/models/late/prediction", request);
        assertEquals(prediction.toString(), 200, prediction.status);
        assertValues("late", expected.path("outputs").path("probabilities").path("data"), prediction.json.path("values"));
        JsonNode input = expected.path("inputs").path("input");
        HttpResult v2 = http().post("/v2/models/late/infer", Map.of("inputs", List.of(Map.of(
                "name", "input", "shape", input.path("shape"), "datatype", "FP32", "data", input.path("data")))));
        assertEquals(v2.toString(), 200, v2.status);
        assertEquals(v2.toString(), "onnxruntime_onnx", http().get("/v2/models/late").json.path("platform").asText());
        assertValues("late v2", expected.path("outputs").path("probabilities").path("data"),
                v2.json.path("outputs").get(0).path("data"));
    }
}
