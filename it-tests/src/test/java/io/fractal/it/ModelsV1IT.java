package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** The model API, v1: listing and describing models, and predictions with the sample iris model. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ModelsV1IT extends FractalTestSupport {

    private static final List<Double> SETOSA = List.of(5.1, 3.5, 1.4, 0.2);
    private static final List<Double> VIRGINICA = List.of(6.7, 3.0, 5.2, 2.3);

    @Before
    public void modelsReady() {
        awaitReady("iris");
        awaitReady("digits");
    }

    @Test
    public void listsTheModels() {
        HttpResult list = http().get("/api/v1/models");

        assertEquals(list.toString(), 200, list.status);
        for (String name : List.of("iris", "digits")) {
            JsonNode model = find(list.json.path("models"), "name", name);
            assertTrue(name + " is not listed: " + list, model != null);
            assertEquals(list.toString(), 1, model.path("default_version").asInt());
            assertTrue(list.toString(), model.path("versions").isArray() && model.path("versions").size() > 0);
        }
    }

    @Test
    public void describesIris() throws Exception {
        HttpResult iris = http().get("/api/v1/models/iris");

        assertEquals(iris.toString(), 200, iris.status);
        assertEquals(iris.toString(), "iris", iris.json.path("name").asText());
        assertEquals(iris.toString(), 1, iris.json.path("default_version").asInt());
        JsonNode version = find(iris.json.path("versions"), "version", 1);
        assertTrue("no version 1 in " + iris, version != null);
        assertEquals(iris.toString(), "PyTorch", version.path("engine").asText());
        assertTrue(iris.toString(), version.path("description").asText().startsWith("Iris classifier"));
        Path file = deployFolder().resolve("iris/model.pt");
        assertEquals(iris.toString(), sha256(file), version.path("sha256").asText());
        assertEquals(iris.toString(), Files.size(file), version.path("size").asLong());
        assertFalse(iris.toString(), version.path("created").isMissingNode() || version.path("created").isNull());
        assertEquals(iris.toString(), json(List.of(Map.of("name", "input", "datatype", "FP32", "shape", List.of(-1, 4)))),
                version.path("inputs"));
        assertEquals(iris.toString(), json(List.of(Map.of("name", "probabilities", "datatype", "FP32", "shape", List.of(-1, 3)))),
                version.path("outputs"));
        assertEquals(iris.toString(), json(List.of("setosa", "versicolor", "virginica")), version.path("labels"));
        assertEquals(iris.toString(), json(Map.of("mh1", "READY", "mh2", "READY")), version.path("modelhosts"));
    }

    @Test
    public void unknownModelIs404NamingIt() {
        HttpResult missing = http().get("/api/v1/models/nosuchmodel");

        assertEquals(missing.toString(), 404, missing.status);
        assertTrue(missing.toString(), missing.error() != null && missing.error().contains("nosuchmodel"));
    }

    @Test
    public void predictsOneObservation() {
        JsonNode expected = expected("iris");
        JsonNode row = expected.path("inputs").path("input").path("data").get(0);

        HttpResult prediction = http().post("/api/v1/models/iris/prediction", Map.of("values", row));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), "iris", prediction.json.path("model").asText());
        assertEquals(prediction.toString(), 1, prediction.json.path("version").asInt());
        assertTrue(prediction.toString(), MODELHOSTS.contains(prediction.json.path("modelhost").asText()));
        assertValues("values", expected.path("outputs").path("probabilities").path("data").get(0), prediction.json.path("values"));
        assertEquals(prediction.toString(), expected.path("predicted").get(0).asText(), prediction.json.path("labels").asText());
    }

    @Test
    public void aModelWithoutSignaturePredictsOneImageAsOneObservation() {
        // the digits CNN as a bare TorchScript file, no sidecar: nothing declares its [-1, 1, 8, 8] input
        byte[] digitsPt = getBytes("/api/v1/models/digits/download").body();
        HttpResult upload = postMultipart("/api/v1/models/digits-bare",
                Map.of("path", FilePart.of("model.pt", digitsPt)));
        assertEquals(upload.toString(), 201, upload.status);
        awaitReady("digits-bare");
        JsonNode expected = expected("digits");
        JsonNode image = expected.path("inputs").path("image").path("data").get(0); // [1, 8, 8]: one observation

        for (int i = 0; i < 2; i++) { // before and after the engine has seen a call
            HttpResult prediction = http().post("/api/v1/models/digits-bare/prediction", Map.of("values", image));

            assertEquals(prediction.toString(), 200, prediction.status);
            assertValues("values", expected.path("outputs").path("probabilities").path("data").get(0),
                    prediction.json.path("values"));
        }
        HttpResult batch = http().post("/api/v1/models/digits-bare/prediction",
                Map.of("values", expected.path("inputs").path("image").path("data")));
        assertEquals(batch.toString(), 200, batch.status);
        assertValues("values", expected.path("outputs").path("probabilities").path("data"),
                batch.json.path("values"));
        http().delete("/api/v1/models/digits-bare");
    }

    @Test
    public void predictsTheLabelOfOneObservation() {
        HttpResult prediction = http().post("/api/v1/models/iris/prediction", Map.of("values", SETOSA));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), 3, prediction.json.path("values").size());
        assertEquals(prediction.toString(), "setosa", prediction.json.path("labels").asText());
    }

    @Test
    public void predictsAListOfObservations() {
        JsonNode expected = expected("iris");

        HttpResult prediction = http().post("/api/v1/models/iris/prediction",
                Map.of("values", expected.path("inputs").path("input").path("data")));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), 5, prediction.json.path("values").size());
        assertEquals(prediction.toString(), 3, prediction.json.path("values").get(0).size());
        assertValues("values", expected.path("outputs").path("probabilities").path("data"), prediction.json.path("values"));
        assertEquals(prediction.toString(), expected.path("predicted"), prediction.json.path("labels"));
    }

    @Test
    public void predictsTheLabelsOfAListOfObservations() {
        HttpResult prediction = http().post("/api/v1/models/iris/prediction", Map.of("values", List.of(SETOSA, VIRGINICA)));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), json(List.of("setosa", "virginica")), prediction.json.path("labels"));
    }

    @Test
    public void nameWithVersionAddressesThatVersion() {
        JsonNode expected = expected("iris");

        HttpResult prediction = http().post("/api/v1/models/iris:1/prediction",
                Map.of("values", expected.path("inputs").path("input").path("data").get(1)));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), "iris", prediction.json.path("model").asText());
        assertEquals(prediction.toString(), 1, prediction.json.path("version").asInt());
        assertValues("values", expected.path("outputs").path("probabilities").path("data").get(1), prediction.json.path("values"));
    }

    @Test
    public void malformedJsonIs400() {
        HttpResult prediction = http().post("/api/v1/models/iris/prediction", "{\"values\": [5.1, 3.5,");

        assertEquals(prediction.toString(), 400, prediction.status);
        assertFalse(prediction.toString(), prediction.error() == null || prediction.error().isBlank());
    }

    @Test
    public void wrongNumberOfFeaturesIs400NamingInputAndShape() {
        HttpResult prediction = http().post("/api/v1/models/iris/prediction", Map.of("values", List.of(5.1, 3.5, 1.4)));

        assertEquals(prediction.toString(), 400, prediction.status);
        String error = prediction.error();
        // the input's name and the shape the model declares
        assertTrue(prediction.toString(), error != null && error.contains("input") && error.matches("(?s).*\\[-1,\\s*4\\].*"));
    }

    @Test
    public void predictionOfUnknownModelIs404() {
        HttpResult prediction = http().post("/api/v1/models/nosuchmodel/prediction", Map.of("values", SETOSA));

        assertEquals(prediction.toString(), 404, prediction.status);
        assertTrue(prediction.toString(), prediction.error() != null && prediction.error().contains("nosuchmodel"));
    }

    @Test
    public void predictionWithoutValuesIs400() {
        HttpResult prediction = http().post("/api/v1/models/iris/prediction", Map.of("data", SETOSA));

        assertEquals(prediction.toString(), 400, prediction.status);
        assertFalse(prediction.toString(), prediction.error() == null || prediction.error().isBlank());
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    /** The element of an array whose field has this value. */
    static JsonNode find(JsonNode array, String field, Object value) {
        for (JsonNode element : array) {
            if (element.path(field).asText().equals(String.valueOf(value))) {
                return element;
            }
        }
        return null;
    }
}
