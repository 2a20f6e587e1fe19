package io.fractal.engine.pytorch.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.engine.ModelLoadException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelArtifact;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The engine outside OSGi, on the iris model the distribution ships (with its model.json sidecar) and the test
 * models the integration tests use: predictions equal to what torch computed in Python.
 */
class PyTorchEngineTest {

    private static final double TOLERANCE = 1e-5;
    private static final Path DEPLOY = Path.of(System.getProperty("fractal.deploy", "../../deploy"));
    private static final Path RESOURCES = Path.of(System.getProperty("fractal.test.resources",
            "../../it-tests/src/test/resources"));
    private static final ObjectMapper JSON = new ObjectMapper();

    private static PyTorchEngine engine;
    private static JsonNode expected;

    @BeforeAll
    static void startEngine() throws IOException {
        engine = new PyTorchEngine();
        expected = JSON.readTree(RESOURCES.resolve("expected/iris.json").toFile());
    }

    @AfterAll
    static void closeEngine() {
        engine.deactivate();
    }

    @Test
    void describesItself() {
        assertEquals("PyTorch", engine.name());
        assertEquals("pytorch_torchscript", engine.platform());
        assertEquals(Set.of("pt", "pth", "torchscript"), engine.fileExtensions());
    }

    @Test
    void takesTheSignatureFromTheSidecar() throws Exception {
        try (LoadedModel model = engine.load(iris(), 1)) {
            ModelSignature s = model.signature();
            assertEquals(List.of(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})), s.inputs());
            assertEquals(List.of(new TensorSpec("probabilities", DataType.FP32, new long[] {-1, 3})), s.outputs());
            assertEquals(List.of("setosa", "versicolor", "virginica"), s.labels());
        }
    }

    @Test
    void predictsWhatTorchPredicts() throws Exception {
        try (LoadedModel model = engine.load(iris(), 1)) {
            List<Tensor> out = model.predict(List.of(rows()));
            assertEquals(1, out.size());
            Tensor p = out.get(0);
            assertEquals("probabilities", p.name());
            assertEquals(DataType.FP32, p.datatype());
            assertArrayEquals(new long[] {5, 3}, p.shape());
            JsonNode want = expected.at("/outputs/probabilities/data");
            float[] got = (float[]) p.data();
            for (int r = 0; r < want.size(); r++) {
                for (int c = 0; c < 3; c++) {
                    int row = r;
                    int col = c;
                    assertEquals(want.get(r).get(c).asDouble(), got[r * 3 + c], TOLERANCE, () -> "row " + row
                            + " class " + col);
                }
                assertEquals(expected.get("predicted").get(r).asText(), label(got, r), "row " + r);
            }
        }
    }

    @Test
    void predictsRowByRow() throws Exception {
        try (LoadedModel model = engine.load(iris(), 1)) {
            for (int r = 0; r < 5; r++) {
                float[] p = (float[]) model.predict(List.of(row(r))).get(0).data();
                assertProbabilities(r, p);
            }
        }
    }

    @Test
    void anInputOfTheWrongShapeIsBadInput() throws Exception {
        try (LoadedModel model = engine.load(iris(), 1)) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(List.of(
                    Tensor.of("input", DataType.FP32, new long[] {1, 3}, new float[3]))));
            assertTrue(e.getMessage().contains("'input'") && e.getMessage().contains("[-1, 4]"), e.getMessage());
            InvalidInputException type = assertThrows(InvalidInputException.class, () -> model.predict(List.of(
                    Tensor.of("input", DataType.FP64, new long[] {1, 4}, new double[4]))));
            assertTrue(type.getMessage().contains("FP32"), type.getMessage());
            InvalidInputException count = assertThrows(InvalidInputException.class, () -> model.predict(List.of(
                    row(0), row(1))));
            assertTrue(count.getMessage().contains("takes 1 input"), count.getMessage());
            // It still serves after refusing.
            assertProbabilities(0, (float[]) model.predict(List.of(row(0))).get(0).data());
        }
    }

    @Test
    void withoutASignatureTorchItselfRejectsAWrongShape() throws Exception {
        try (LoadedModel model = engine.load(artifact("iris", DEPLOY.resolve("iris/model.pt"), ModelSignature.UNKNOWN),
                1)) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(List.of(
                    Tensor.of("x", DataType.FP32, new long[] {1, 3}, new float[3]))));
            assertTrue(e.getMessage().startsWith("model iris rejected the input: "), e.getMessage());
            assertFalse(e.getMessage().contains("Exception raised from"), "C++ stack trace: " + e.getMessage());
            assertProbabilities(2, (float[]) model.predict(List.of(row(2).withName("x"))).get(0).data());
        }
    }

    @Test
    void aModelWithTwoInputsTakesThemInRequestOrder() throws Exception {
        JsonNode adder = JSON.readTree(RESOURCES.resolve("expected/adder.json").toFile());
        try (LoadedModel model = engine.load(artifact("adder", RESOURCES.resolve("models/adder.pt"),
                ModelSignature.UNKNOWN), 1)) {
            List<Tensor> out = model.predict(List.of(matrix(adder.at("/inputs/x"), "x"),
                    matrix(adder.at("/inputs/y"), "y")));
            assertEquals(1, out.size());
            String name = adder.get("outputs").fieldNames().next();
            assertTable(adder.at("/outputs/" + name), (float[]) out.get(0).data());
        }
    }

    @Test
    void withoutASidecarTheModuleNamesItsInputsAndTheFirstCallCompletesTheSignature() throws Exception {
        try (LoadedModel model = engine.load(artifact("adder", RESOURCES.resolve("models/adder.pt"),
                ModelSignature.UNKNOWN), 1)) {
            ModelSignature before = model.signature();
            assertEquals(List.of(new TensorSpec("x", null, null), new TensorSpec("y", null, null)), before.inputs());
            assertEquals(List.of(new TensorSpec("output0", null, null)), before.outputs());
            assertEquals(ModelSignature.MODEL_FILE, before.origin());
            assertFalse(before.complete());
            // Named inputs in another order are put in the module's order: 2*x + y, not 2*y + x.
            Tensor x = Tensor.of("x", DataType.FP32, new long[] {1, 3}, new float[] {1, 2, 3});
            Tensor y = Tensor.of("y", DataType.FP32, new long[] {1, 3}, new float[] {10, 20, 30});
            assertArrayEquals(new float[] {12, 24, 36}, (float[]) model.predict(List.of(y, x)).get(0).data());
            ModelSignature after = model.signature();
            assertEquals(List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 3}),
                    new TensorSpec("y", DataType.FP32, new long[] {-1, 3})), after.inputs());
            assertEquals(List.of(new TensorSpec("output0", DataType.FP32, new long[] {-1, 3})), after.outputs());
            assertEquals("model file + first call", after.origin());
            assertTrue(after.complete());
            // What the first call taught only describes: another width still reaches the model.
            Tensor x4 = Tensor.of("x", DataType.FP32, new long[] {2, 1}, new float[] {1, 2});
            Tensor y4 = Tensor.of("y", DataType.FP32, new long[] {2, 1}, new float[] {1, 1});
            assertArrayEquals(new float[] {3, 5}, (float[]) model.predict(List.of(x4, y4)).get(0).data());
        }
    }

    @Test
    void inputsAreTakenByNameOrByTritonsPositionalNamesAndUnknownNamesAreRefused() throws Exception {
        try (LoadedModel model = engine.load(artifact("adder", RESOURCES.resolve("models/adder.pt"),
                ModelSignature.UNKNOWN), 1)) {
            Tensor a = Tensor.of("a", DataType.FP32, new long[] {1, 1}, new float[] {1});
            Tensor b = Tensor.of("b", DataType.FP32, new long[] {1, 1}, new float[] {10});
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(List.of(a, b)));
            assertTrue(e.getMessage().contains("[a, b]") && e.getMessage().contains("[x, y]"), e.getMessage());
            InvalidInputException twice = assertThrows(InvalidInputException.class, () -> model.predict(List.of(
                    a.withName("x"), b.withName("x"))));
            assertTrue(twice.getMessage().contains("twice"), twice.getMessage());
            assertArrayEquals(new float[] {12}, (float[]) model.predict(List.of(a.withName("INPUT__0"),
                    b.withName("INPUT__1"))).get(0).data());
        }
    }

    @Test
    void halfInt8Uint8AndBoolTensorsKeepTheirTypesBothWays() throws Exception {
        try (LoadedModel model = engine.load(artifact("dtypes", RESOURCES.resolve("models/dtypes.pt"),
                ModelSignature.UNKNOWN), 1)) {
            assertEquals(List.of("h", "s", "u", "b"), model.signature().inputs().stream().map(TensorSpec::name).toList());
            assertEquals(4, model.signature().outputs().size());
            List<Tensor> out = model.predict(List.of(
                    Tensor.of("h", DataType.FP16, new long[] {1, 2}, new float[] {1.5f, -2.25f}),
                    Tensor.of("s", DataType.INT8, new long[] {1, 2}, new byte[] {7, -100}),
                    Tensor.of("u", DataType.UINT8, new long[] {1, 2}, new byte[] {0, (byte) 254}),
                    Tensor.of("b", DataType.BOOL, new long[] {1, 2}, new boolean[] {true, false})));
            assertEquals(DataType.FP16, out.get(0).datatype());
            assertArrayEquals(new float[] {3f, -4.5f}, (float[]) out.get(0).data());
            assertEquals(DataType.INT8, out.get(1).datatype());
            assertArrayEquals(new byte[] {8, -99}, (byte[]) out.get(1).data());
            assertEquals(DataType.UINT8, out.get(2).datatype());
            assertArrayEquals(new byte[] {1, (byte) 255}, (byte[]) out.get(2).data());
            assertEquals(DataType.BOOL, out.get(3).datatype());
            assertArrayEquals(new boolean[] {false, true}, (boolean[]) out.get(3).data());
            assertEquals(List.of(DataType.FP16, DataType.INT8, DataType.UINT8, DataType.BOOL),
                    model.signature().inputs().stream().map(TensorSpec::datatype).toList());
        }
    }

    @Test
    void typesTheEngineCannotTakeAreBadInputAndTheProcessLives() throws Exception {
        // DJL's PyTorch JNI aborts the JVM on types it does not map: these must never reach it.
        try (LoadedModel model = engine.load(artifact("adder", RESOURCES.resolve("models/adder.pt"),
                ModelSignature.UNKNOWN), 1)) {
            List<Tensor> refused = List.of(
                    Tensor.of("x", DataType.BYTES, new long[] {1}, new String[] {"a"}),
                    Tensor.of("x", DataType.INT16, new long[] {1}, new short[] {1}),
                    Tensor.of("x", DataType.UINT16, new long[] {1}, new short[] {1}),
                    Tensor.of("x", DataType.UINT32, new long[] {1}, new int[] {1}),
                    Tensor.of("x", DataType.UINT64, new long[] {1}, new long[] {1}),
                    Tensor.of("x", DataType.BF16, new long[] {1}, new float[] {1}));
            for (Tensor x : refused) {
                InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(List.of(x,
                        Tensor.of("y", DataType.FP32, new long[] {1}, new float[] {1}))));
                assertTrue(e.getMessage().contains(x.datatype().name()) && e.getMessage().contains("PyTorch"),
                        e.getMessage());
            }
            assertFalse(model.signature().complete(), "a refused call teaches nothing");
        }
    }

    @Test
    void aCorruptFileFailsToLoadWithAClearMessage() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> engine.load(artifact("corrupt",
                RESOURCES.resolve("models/corrupt.pt"), ModelSignature.UNKNOWN), 1));
        String m = e.getMessage();
        assertTrue(m.startsWith("PyTorch cannot load corrupt.pt: "), m);
        assertTrue(m.length() > "PyTorch cannot load corrupt.pt: ".length() + 5, "no reason given: " + m);
        assertFalse(m.contains("Exception raised from") || m.contains("\nFrame"), "C++ stack trace: " + m);
        assertTrue(m.length() < 600, "too long for the API: " + m);
    }

    @Test
    void aMissingFileFailsToLoad() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> engine.load(artifact("gone",
                RESOURCES.resolve("models/gone.pt"), ModelSignature.UNKNOWN), 1));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void concurrentPredictionsFromFourThreadsAgree() throws Exception {
        try (LoadedModel model = engine.load(iris(), 4)) {
            ExecutorService workers = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> calls = new ArrayList<>();
                for (int call = 0; call < 200; call++) {
                    int r = call % 5;
                    calls.add(workers.submit(() -> assertProbabilities(r,
                            (float[]) model.predict(List.of(row(r))).get(0).data())));
                }
                for (Future<?> f : calls) {
                    f.get(30, TimeUnit.SECONDS);
                }
            } finally {
                workers.shutdownNow();
            }
        }
    }

    @Test
    void aClosedModelRefusesToPredict() throws Exception {
        LoadedModel model = engine.load(iris(), 1);
        model.close();
        model.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> model.predict(List.of(row(0))));
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private record TestArtifact(String name, int version, String engine, Path file, ModelSignature signature)
            implements ModelArtifact {
    }

    private static ModelArtifact artifact(String name, Path file, ModelSignature signature) {
        return new TestArtifact(name, 1, "PyTorch", file, signature);
    }

    /** deploy/iris/model.pt with the signature its model.json declares, as the repository publishes it. */
    private static ModelArtifact iris() throws IOException {
        JsonNode sidecar = JSON.readTree(DEPLOY.resolve("iris/model.json").toFile());
        ModelSignature signature = new ModelSignature(specs(sidecar.get("inputs")), specs(sidecar.get("outputs")),
                JSON.convertValue(sidecar.get("labels"), JSON.getTypeFactory().constructCollectionType(List.class,
                        String.class)));
        return artifact("iris", DEPLOY.resolve("iris").resolve(sidecar.get("file").asText()), signature);
    }

    private static List<TensorSpec> specs(JsonNode specs) {
        List<TensorSpec> out = new ArrayList<>();
        for (JsonNode s : specs) {
            long[] shape = new long[s.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = s.get("shape").get(i).asLong();
            }
            out.add(new TensorSpec(s.get("name").asText(), DataType.parse(s.get("datatype").asText()), shape));
        }
        return out;
    }

    private static Tensor rows() {
        return matrix(expected.at("/inputs/input"), "input");
    }

    private static Tensor row(int r) {
        float[] all = (float[]) rows().data();
        return Tensor.of("input", DataType.FP32, new long[] {1, 4}, Arrays.copyOfRange(all, r * 4, r * 4 + 4));
    }

    private static Tensor matrix(JsonNode in, String name) {
        JsonNode data = in.get("data");
        int rows = data.size();
        int cols = data.get(0).size();
        float[] x = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                x[r * cols + c] = (float) data.get(r).get(c).asDouble();
            }
        }
        return Tensor.of(name, DataType.FP32, new long[] {rows, cols}, x);
    }

    private static void assertProbabilities(int r, float[] p) {
        assertEquals(3, p.length);
        for (int c = 0; c < 3; c++) {
            assertEquals(expected.at("/outputs/probabilities/data").get(r).get(c).asDouble(), p[c], TOLERANCE);
        }
    }

    private static void assertTable(JsonNode table, float[] got) {
        JsonNode data = table.get("data");
        int i = 0;
        for (JsonNode row : data) {
            for (JsonNode v : row) {
                int at = i++;
                assertEquals(v.asDouble(), got[at], TOLERANCE, () -> "element " + at);
            }
        }
        assertEquals(i, got.length);
    }

    private static String label(float[] p, int row) {
        int best = 0;
        for (int c = 1; c < 3; c++) {
            if (p[row * 3 + c] > p[row * 3 + best]) {
                best = c;
            }
        }
        return expected.get("labels").get(best).asText();
    }
}
