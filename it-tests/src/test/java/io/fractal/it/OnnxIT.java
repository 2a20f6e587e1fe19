package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * ONNX models through the ONNX Runtime engine, each without a sidecar, so that what the server says about their
 * inputs and outputs comes from the file: a torch export of the iris classifier (uploaded as multipart), the digits
 * classifier (uploaded as a raw body) and a scikit-learn classifier with a ZipMap output (dropped into deploy/).
 * The expected signatures are those of the files' graphs (input and output names, element types, dimensions; a
 * named or unknown dimension is -1).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class OnnxIT extends FractalTestSupport {

    private static final String PLATFORM = "onnxruntime_onnx";
    private static final List<String> IRIS_CLASSES = List.of("setosa", "versicolor", "virginica");

    /** No sample models: the ONNX models are uploaded or dropped by the test. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries());
    }

    @Before
    public void modelsDeployed() throws Exception {
        awaitServer();
        if (http().get("/api/v1/models/iris-onnx").status == 404) {
            HttpResult iris = postMultipart("/api/v1/models/iris-onnx",
                    Map.of("path", FilePart.of("iris.onnx", resourceBytes("/models/iris.onnx"))));
            assertEquals(iris.toString(), 201, iris.status);
            assertEquals(iris.toString(), "OnnxRuntime", iris.json.path("engine").asText());
        }
        if (http().get("/api/v1/models/digits-onnx").status == 404) {
            HttpResult digits = postBytes("/api/v1/models/digits-onnx?file_name=digits.onnx", "application/octet-stream",
                    resourceBytes("/models/digits.onnx"));
            assertEquals(digits.toString(), 201, digits.status);
            assertEquals(digits.toString(), "OnnxRuntime", digits.json.path("engine").asText());
        }
        if (!java.nio.file.Files.exists(deployFolder().resolve("iris-sklearn.onnx"))) {
            deploy("/models/iris-sklearn.onnx", "iris-sklearn.onnx");
        }
        awaitReady("iris-onnx");
        awaitReady("digits-onnx");
        awaitReady("iris-sklearn");
    }

    @Test
    public void signaturesAreReadFromTheFiles() {
        assertSignature("iris-onnx",
                List.of(spec("input", "FP32", -1, 4)),
                List.of(spec("probabilities", "FP32", -1, 3)));
        assertSignature("digits-onnx",
                List.of(spec("image", "FP32", -1, 1, 8, 8)),
                List.of(spec("probabilities", "FP32", -1, 10)));
        assertSignature("iris-sklearn",
                List.of(spec("float_input", "FP32", -1, 4)),
                List.of(spec("output_label", "BYTES", -1), spec("output_probability", "FP32", -1, 3)));
    }

    @Test
    public void theScikitLearnClassesAreTheLabels() {
        JsonNode version = versionOf(modelView("iris-sklearn"), 1);

        assertEquals(version.toString(), "OnnxRuntime", version.path("engine").asText());
        assertEquals(version.toString(), "deploy:iris-sklearn.onnx", version.path("source").asText());
        assertEquals(version.toString(), json(IRIS_CLASSES), version.path("labels"));
        assertEquals(version.toString(), sha256(resourceBytes("/models/iris-sklearn.onnx")), version.path("sha256").asText());
    }

    @Test
    public void irisPredictsLikeTorch() {
        JsonNode expected = expected("iris-onnx");
        JsonNode input = expected.path("inputs").path("input");
        JsonNode probabilities = expected.path("outputs").path("probabilities").path("data");

        HttpResult v2 = http().post("/v2/models/iris-onnx/infer", Map.of("id", "onnx-1", "inputs",
                List.of(Map.of("name", "input", "shape", input.path("shape"), "datatype", "FP32", "data", input.path("data")))));

        assertEquals(v2.toString(), 200, v2.status);
        assertEquals(v2.toString(), "onnx-1", v2.json.path("id").asText());
        JsonNode output = single(v2, "probabilities");
        assertEquals(v2.toString(), "FP32", output.path("datatype").asText());
        assertEquals(v2.toString(), json(List.of(5, 3)), output.path("shape"));
        assertValues("v2 iris-onnx", probabilities, output.path("data"));

        HttpResult v1 = http().post("/api/v1/models/iris-onnx/prediction", Map.of("values", input.path("data")));

        assertEquals(v1.toString(), 200, v1.status);
        assertEquals(v1.toString(), 1, v1.json.path("version").asInt());
        assertValues("v1 iris-onnx", probabilities, v1.json.path("values"));

        HttpResult one = http().post("/api/v1/models/iris-onnx/prediction", Map.of("values", input.path("data").get(2)));

        assertEquals(one.toString(), 200, one.status);
        assertValues("v1 iris-onnx, one row", probabilities.get(2), one.json.path("values"));
    }

    @Test
    public void digitsPredictLikeTorch() {
        JsonNode expected = expected("digits-onnx");
        JsonNode image = expected.path("inputs").path("image");
        JsonNode probabilities = expected.path("outputs").path("probabilities").path("data");

        HttpResult v2 = http().post("/v2/models/digits-onnx/infer", Map.of("inputs",
                List.of(Map.of("name", "image", "shape", image.path("shape"), "datatype", "FP32", "data", image.path("data")))));

        assertEquals(v2.toString(), 200, v2.status);
        JsonNode output = single(v2, "probabilities");
        assertEquals(v2.toString(), json(List.of(5, 10)), output.path("shape"));
        assertValues("v2 digits-onnx", probabilities, output.path("data"));
        double[] flat = flatten(output.path("data"));
        for (int row = 0; row < 5; row++) {
            assertEquals(v2.toString(), expected.path("predicted").get(row).asText(),
                    String.valueOf(argmax(flat, row * 10, 10)));
        }

        HttpResult v1 = http().post("/api/v1/models/digits-onnx/prediction", Map.of("values", image.path("data")));

        assertEquals(v1.toString(), 200, v1.status);
        assertValues("v1 digits-onnx", probabilities, v1.json.path("values"));
    }

    @Test
    public void scikitLearnPredictsProbabilitiesInClassOrderAndLabels() {
        JsonNode expected = expected("iris-sklearn");
        assertEquals(json(IRIS_CLASSES), expected.path("labels"));
        JsonNode input = expected.path("inputs").path("float_input");
        JsonNode probabilities = expected.path("outputs").path("output_probability").path("data");
        JsonNode predicted = expected.path("predicted");

        HttpResult v2 = http().post("/v2/models/iris-sklearn/infer", Map.of("inputs",
                List.of(Map.of("name", "float_input", "shape", input.path("shape"), "datatype", "FP32",
                        "data", input.path("data")))));

        assertEquals(v2.toString(), 200, v2.status);
        JsonNode outputs = v2.json.path("outputs");
        assertEquals(v2.toString(), 2, outputs.size());
        JsonNode label = outputs.get(0);
        assertEquals(v2.toString(), "output_label", label.path("name").asText());
        assertEquals(v2.toString(), "BYTES", label.path("datatype").asText());
        assertEquals(v2.toString(), json(List.of(5)), label.path("shape"));
        assertEquals(v2.toString(), predicted, label.path("data"));
        JsonNode probability = outputs.get(1);
        assertEquals(v2.toString(), "output_probability", probability.path("name").asText());
        assertEquals(v2.toString(), "FP32", probability.path("datatype").asText());
        assertEquals(v2.toString(), json(List.of(5, 3)), probability.path("shape"));
        // columns in class order: setosa, versicolor, virginica (not the ZipMap's hash order)
        assertValues("v2 output_probability", probabilities, probability.path("data"));
        double[] p = flatten(probability.path("data"));
        for (int row = 0; row < 5; row++) {
            assertEquals("the most likely column names the row's label: " + v2, label.path("data").get(row).asText(),
                    IRIS_CLASSES.get(argmax(p, row * 3, 3)));
        }

        HttpResult selected = http().post("/v2/models/iris-sklearn/infer", Map.of(
                "inputs", List.of(Map.of("name", "float_input", "shape", input.path("shape"), "datatype", "FP32",
                        "data", input.path("data"))),
                "outputs", List.of(Map.of("name", "output_probability"))));

        assertEquals(selected.toString(), 200, selected.status);
        assertValues("v2 selected output_probability", probabilities, single(selected, "output_probability").path("data"));

        HttpResult v1 = http().post("/api/v1/models/iris-sklearn/prediction", Map.of("values", input.path("data")));

        assertEquals(v1.toString(), 200, v1.status);
        // the first output is the values; every output by name
        assertEquals(v1.toString(), predicted, v1.json.path("values"));
        assertEquals(v1.toString(), predicted, v1.json.path("outputs").path("output_label"));
        assertValues("v1 output_probability", probabilities, v1.json.path("outputs").path("output_probability"));

        HttpResult one = http().post("/api/v1/models/iris-sklearn/prediction", Map.of("values", input.path("data").get(1)));

        assertEquals(one.toString(), 200, one.status);
        assertEquals(one.toString(), predicted.get(1), one.json.path("outputs").path("output_label"));
        assertValues("v1 one row", probabilities.get(1), one.json.path("outputs").path("output_probability"));
    }

    // ------------------------------------------------------------------------------------------------

    private static Map<String, Object> spec(String name, String datatype, int... shape) {
        List<Integer> dims = new ArrayList<>();
        for (int d : shape) {
            dims.add(d);
        }
        return Map.of("name", name, "datatype", datatype, "shape", dims);
    }

    /** The v2 metadata and the v1 view of the model show the platform and this signature. */
    private void assertSignature(String model, List<Map<String, Object>> inputs, List<Map<String, Object>> outputs) {
        for (String path : List.of("/v2/models/" + model, "/v2/models/" + model + "/versions/1")) {
            HttpResult metadata = http().get(path);

            assertEquals(path + " -> " + metadata, 200, metadata.status);
            assertEquals(path + " -> " + metadata, model, metadata.json.path("name").asText());
            assertEquals(path + " -> " + metadata, PLATFORM, metadata.json.path("platform").asText());
            assertEquals(path + " -> " + metadata, json(List.of("1")), metadata.json.path("versions"));
            assertEquals(path + " -> " + metadata, json(inputs), metadata.json.path("inputs"));
            assertEquals(path + " -> " + metadata, json(outputs), metadata.json.path("outputs"));
        }
        JsonNode version = versionOf(modelView(model), 1);
        assertEquals(version.toString(), "OnnxRuntime", version.path("engine").asText());
        assertEquals(version.toString(), json(inputs), version.path("inputs"));
        assertEquals(version.toString(), json(outputs), version.path("outputs"));
    }

    /** The only output of a v2 answer, which must have this name. */
    private static JsonNode single(HttpResult inference, String name) {
        JsonNode outputs = inference.json.path("outputs");
        assertEquals(inference.toString(), 1, outputs.size());
        assertEquals(inference.toString(), name, outputs.get(0).path("name").asText());
        return outputs.get(0);
    }

    private static int argmax(double[] values, int from, int length) {
        int best = 0;
        for (int i = 1; i < length; i++) {
            if (values[from + i] > values[from + best]) {
                best = i;
            }
        }
        return best;
    }
}
