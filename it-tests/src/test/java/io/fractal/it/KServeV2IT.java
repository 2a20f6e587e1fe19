package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** The KServe v2 Open Inference Protocol over REST, with the sample iris and digits models. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class KServeV2IT extends FractalTestSupport {

    @Before
    public void modelsReady() {
        awaitReady("iris");
        awaitReady("digits");
    }

    @Test
    public void serverMetadata() {
        HttpResult server = http().get("/v2");

        assertEquals(server.toString(), 200, server.status);
        assertFalse(server.toString(), server.json.path("name").asText().isBlank());
        assertFalse(server.toString(), server.json.path("version").asText().isBlank());
        assertEquals(server.toString(), json(List.of("binary_tensor_data", "model_configuration",
                "model_repository", "statistics")), server.json.path("extensions"));
    }

    @Test
    public void repositoryIndexListsEveryVersionWithItsState() {
        for (HttpResult index : List.of(http().post("/v2/repository/index"),
                http().post("/v2/repository/index", "{}"), http().post("/v2/repository/index", "{\"ready\": true}"))) {
            assertEquals(index.toString(), 200, index.status);
            assertTrue(index.toString(), index.json.isArray());
            for (String model : List.of("iris", "digits")) {
                JsonNode entry = json(Map.of("name", model, "version", "1", "state", "READY", "reason", ""));
                boolean found = false;
                for (JsonNode e : index.json) {
                    found |= e.equals(entry);
                }
                assertTrue(model + " in " + index, found);
            }
        }
        HttpResult bad = http().post("/v2/repository/index", "{\"ready\": \"yes\"}");
        assertEquals(bad.toString(), 400, bad.status);
        assertHasError(bad);
    }

    @Test
    public void repositoryLoadOfAReadyModelIs200AndUnloadIsRefused() {
        HttpResult load = http().post("/v2/repository/models/iris/load");
        HttpResult loadWithBody = http().post("/v2/repository/models/iris/load", "{\"parameters\": {}}");
        HttpResult unknown = http().post("/v2/repository/models/nosuchmodel/load");
        HttpResult withConfig = http().post("/v2/repository/models/iris/load",
                "{\"parameters\": {\"config\": \"{}\"}}");
        HttpResult unload = http().post("/v2/repository/models/iris/unload");
        HttpResult unloadUnknown = http().post("/v2/repository/models/nosuchmodel/unload");

        assertEquals(load.toString(), 200, load.status);
        assertEquals(loadWithBody.toString(), 200, loadWithBody.status);
        assertEquals(unknown.toString(), 404, unknown.status);
        assertHasError(unknown);
        assertEquals(withConfig.toString(), 400, withConfig.status);
        assertHasError(withConfig);
        assertEquals(unload.toString(), 400, unload.status);
        assertTrue(unload.toString(), unload.error().contains("not supported"));
        assertEquals(unloadUnknown.toString(), 404, unloadUnknown.status);
        // iris is still served after the refused unload
        assertEquals(200, http().get("/v2/models/iris/ready").status);
    }

    @Test
    public void statisticsCountEveryRequestOfAVersion() {
        JsonNode before = irisStats("/v2/models/iris/stats");
        JsonNode expected = expected("iris");
        List<Double> flat = flatList(expected.path("inputs").path("input").path("data"));
        for (int i = 0; i < 3; i++) {
            HttpResult ok = http().post("/v2/models/iris/infer", Map.of("inputs", List.of(Map.of(
                    "name", "input", "shape", List.of(5, 4), "datatype", "FP32", "data", flat))));
            assertEquals(ok.toString(), 200, ok.status);
        }
        // right for the protocol, wrong for the model (3 features, not 4): the engine refuses it
        HttpResult wrong = http().post("/v2/models/iris/infer", Map.of("inputs", List.of(Map.of(
                "name", "input", "shape", List.of(1, 3), "datatype", "FP32", "data", List.of(1.0, 2.0, 3.0)))));
        assertEquals(wrong.toString(), 400, wrong.status);

        JsonNode after = irisStats("/v2/models/iris/stats");
        assertEquals(after.toString(), "1", after.path("version").asText());
        assertEquals(after.toString(), 3, count(after, "success") - count(before, "success"));
        assertEquals(after.toString(), 1, count(after, "fail") - count(before, "fail"));
        assertEquals(after.toString(), 3, count(after, "queue") - count(before, "queue"));
        assertEquals(after.toString(), 3, count(after, "compute_infer") - count(before, "compute_infer"));
        assertEquals(after.toString(), 3, after.path("inference_count").asLong() - before.path("inference_count").asLong());
        assertTrue(after.toString(), after.at("/inference_stats/success/ns").asLong()
                > before.at("/inference_stats/success/ns").asLong());
        assertTrue(after.toString(), after.path("last_inference").asLong() > 0);
        assertEquals(after, irisStats("/v2/models/iris/versions/1/stats"));
        assertEquals(after, irisStats("/v2/models/stats"));

        HttpResult unknown = http().get("/v2/models/nosuchmodel/stats");
        assertEquals(unknown.toString(), 404, unknown.status);
        assertHasError(unknown);
    }

    private JsonNode irisStats(String path) {
        HttpResult stats = http().get(path);
        assertEquals(stats.toString(), 200, stats.status);
        for (JsonNode s : stats.json.path("model_stats")) {
            if (s.path("name").asText().equals("iris") && s.path("version").asText().equals("1")) {
                return s;
            }
        }
        throw new AssertionError("no iris version 1 in " + stats);
    }

    private static long count(JsonNode stats, String what) {
        return stats.path("inference_stats").path(what).path("count").asLong();
    }

    @Test
    public void serverIsLiveAndReady() {
        HttpResult live = http().get("/v2/health/live");
        // ready once the models present at start are loaded: a moment after the API answers
        await("ready").atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .until(() -> http().get("/v2/health/ready").status == 200);
        HttpResult ready = http().get("/v2/health/ready");

        assertEquals(live.toString(), 200, live.status);
        assertEquals(live.toString(), json(Map.of("live", true)), live.json);
        assertEquals(ready.toString(), 200, ready.status);
        assertEquals(ready.toString(), json(Map.of("ready", true)), ready.json);
    }

    @Test
    public void modelMetadata() {
        for (String path : List.of("/v2/models/iris", "/v2/models/iris/versions/1")) {
            HttpResult iris = http().get(path);

            assertEquals(path + " -> " + iris, 200, iris.status);
            assertEquals(path + " -> " + iris, "iris", iris.json.path("name").asText());
            assertEquals(path + " -> " + iris, json(List.of("1")), iris.json.path("versions"));
            assertEquals(path + " -> " + iris, "pytorch_libtorch", iris.json.path("platform").asText());
            assertEquals(path + " -> " + iris,
                    json(List.of(Map.of("name", "input", "datatype", "FP32", "shape", List.of(-1, 4)))),
                    iris.json.path("inputs"));
            assertEquals(path + " -> " + iris,
                    json(List.of(Map.of("name", "probabilities", "datatype", "FP32", "shape", List.of(-1, 3)))),
                    iris.json.path("outputs"));
        }
    }

    @Test
    public void modelIsReady() {
        HttpResult ready = http().get("/v2/models/iris/ready");

        assertEquals(ready.toString(), 200, ready.status);
        assertEquals(ready.toString(), json(Map.of("name", "iris", "ready", true)), ready.json);
    }

    @Test
    public void infersWithFlatData() {
        JsonNode expected = expected("iris");
        List<Double> flat = flatList(expected.path("inputs").path("input").path("data"));

        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "id", "r1",
                "inputs", List.of(Map.of("name", "input", "shape", List.of(5, 4), "datatype", "FP32", "data", flat))));

        assertProbabilities(inference, expected, "r1");
    }

    @Test
    public void infersWithNestedData() {
        JsonNode expected = expected("iris");

        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "id", "r2",
                "inputs", List.of(Map.of("name", "input", "shape", List.of(5, 4), "datatype", "FP32",
                        "data", expected.path("inputs").path("input").path("data")))));

        assertProbabilities(inference, expected, "r2");
    }

    @Test
    public void infersTheTwoSamplesOfTheProtocolExample() {
        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "id", "r1",
                "inputs", List.of(Map.of("name", "input", "shape", List.of(2, 4), "datatype", "FP32",
                        "data", List.of(5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3)))));

        assertEquals(inference.toString(), 200, inference.status);
        JsonNode output = inference.json.path("outputs").get(0);
        assertEquals(inference.toString(), json(List.of(2, 3)), output.path("shape"));
        double[] data = flatten(output.path("data"));
        assertEquals(inference.toString(), 6, data.length);
        assertTrue("first is setosa: " + inference, data[0] > data[1] && data[0] > data[2]);
        assertTrue("second is virginica: " + inference, data[5] > data[3] && data[5] > data[4]);
    }

    @Test
    public void requestedOutputsSelectTheOutputs() {
        JsonNode expected = expected("iris");

        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "id", "r3",
                "inputs", List.of(Map.of("name", "input", "shape", List.of(5, 4), "datatype", "FP32",
                        "data", flatList(expected.path("inputs").path("input").path("data")))),
                "outputs", List.of(Map.of("name", "probabilities"))));

        assertProbabilities(inference, expected, "r3");
    }

    @Test
    public void infersWithAVersionedPath() {
        JsonNode expected = expected("iris");

        HttpResult inference = http().post("/v2/models/iris/versions/1/infer", Map.of(
                "id", "r4",
                "inputs", List.of(Map.of("name", "input", "shape", List.of(5, 4), "datatype", "FP32",
                        "data", flatList(expected.path("inputs").path("input").path("data"))))));

        assertProbabilities(inference, expected, "r4");
    }

    @Test
    public void infersImagesWithTheDigitsModel() {
        JsonNode expected = expected("digits");
        JsonNode input = expected.path("inputs").path("image");

        HttpResult inference = http().post("/v2/models/digits/infer", Map.of(
                "inputs", List.of(Map.of("name", "image", "shape", input.path("shape"), "datatype", "FP32",
                        "data", flatList(input.path("data"))))));

        assertEquals(inference.toString(), 200, inference.status);
        assertEquals(inference.toString(), "digits", inference.json.path("model_name").asText());
        JsonNode output = inference.json.path("outputs").get(0);
        assertEquals(inference.toString(), "probabilities", output.path("name").asText());
        assertEquals(inference.toString(), expected.path("outputs").path("probabilities").path("shape"), output.path("shape"));
        assertValues("digits probabilities", expected.path("outputs").path("probabilities").path("data"), output.path("data"));
    }

    @Test
    public void unknownModelIs404() {
        HttpResult metadata = http().get("/v2/models/nosuchmodel");
        HttpResult inference = http().post("/v2/models/nosuchmodel/infer", Map.of(
                "inputs", List.of(Map.of("name", "input", "shape", List.of(1, 4), "datatype", "FP32",
                        "data", List.of(5.1, 3.5, 1.4, 0.2)))));

        assertEquals(metadata.toString(), 404, metadata.status);
        assertHasError(metadata);
        assertEquals(inference.toString(), 404, inference.status);
        assertHasError(inference);
    }

    @Test
    public void badShapeIs400() {
        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "inputs", List.of(Map.of("name", "input", "shape", List.of(2, 3), "datatype", "FP32",
                        "data", List.of(5.1, 3.5, 1.4, 6.7, 3.0, 5.2)))));

        assertEquals(inference.toString(), 400, inference.status);
        assertHasError(inference);
    }

    @Test
    public void unknownDatatypeIs400() {
        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "inputs", List.of(Map.of("name", "input", "shape", List.of(1, 4), "datatype", "FP99",
                        "data", List.of(5.1, 3.5, 1.4, 0.2)))));

        assertEquals(inference.toString(), 400, inference.status);
        assertHasError(inference);
    }

    @Test
    public void dataLengthNotMatchingTheShapeIs400() {
        HttpResult inference = http().post("/v2/models/iris/infer", Map.of(
                "inputs", List.of(Map.of("name", "input", "shape", List.of(2, 4), "datatype", "FP32",
                        "data", List.of(5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2)))));

        assertEquals(inference.toString(), 400, inference.status);
        assertHasError(inference);
    }

    @Test
    public void malformedJsonIs400() {
        HttpResult inference = http().post("/v2/models/iris/infer", "{\"inputs\": [{\"name\": \"input\",");

        assertEquals(inference.toString(), 400, inference.status);
        assertHasError(inference);
    }

    private static void assertProbabilities(HttpResult inference, JsonNode expected, String id) {
        assertEquals(inference.toString(), 200, inference.status);
        assertEquals(inference.toString(), "iris", inference.json.path("model_name").asText());
        assertEquals(inference.toString(), "1", inference.json.path("model_version").asText());
        assertTrue(inference.toString(), inference.json.path("model_version").isTextual());
        assertEquals(inference.toString(), id, inference.json.path("id").asText());
        JsonNode outputs = inference.json.path("outputs");
        assertEquals(inference.toString(), 1, outputs.size());
        JsonNode output = outputs.get(0);
        assertEquals(inference.toString(), "probabilities", output.path("name").asText());
        assertEquals(inference.toString(), "FP32", output.path("datatype").asText());
        assertEquals(inference.toString(), json(List.of(5, 3)), output.path("shape"));
        assertTrue("data is flat: " + inference, output.path("data").size() == 15 && output.path("data").get(0).isNumber());
        assertValues("probabilities", expected.path("outputs").path("probabilities").path("data"), output.path("data"));
    }

    private static void assertHasError(HttpResult result) {
        assertFalse("an {\"error\": ...} body: " + result, result.error() == null || result.error().isBlank());
    }

    private static List<Double> flatList(JsonNode nested) {
        List<Double> values = new ArrayList<>();
        for (double value : flatten(nested)) {
            values.add(value);
        }
        return values;
    }
}
