package io.fractal.engine.onnx.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ZipMapClassesTest {

    private static final Path MODELS = Path.of(System.getProperty("fractal.test.resources",
            "../../it-tests/src/test/resources")).resolve("models");

    @Test
    void readsTheStringLabelsOfASkl2onnxModel() throws Exception {
        assertEquals(Map.of("output_probability", List.of("setosa", "versicolor", "virginica")),
                ZipMapClasses.read(MODELS.resolve("iris-sklearn.onnx")));
    }

    @Test
    void findsNoZipMapInANeuralNetwork() throws Exception {
        assertEquals(Map.of(), ZipMapClasses.read(MODELS.resolve("iris.onnx")));
    }

    @Test
    void readsPackedAndUnpackedInt64LabelsInTheNodesOrder() {
        byte[] packed = field(8, 2, new byte[] {2, 0, 1});
        byte[] unpacked = concat(varintField(8, 7), varintField(8, 300));
        assertEquals(Map.of("p", List.of(2L, 0L, 1L), "q", List.of(7L, 300L)), ZipMapClasses.parse(
                model(zipMap("p", "classlabels_int64s", packed), zipMap("q", "classlabels_int64s", unpacked))));
    }

    @Test
    void ignoresOtherNodesAndDomains() {
        byte[] labels = concat(string(9, "a"), string(9, "b"));
        byte[] otherDomain = concat(string(2, "x"), string(4, "ZipMap"), string(7, "com.example"),
                field(5, 2, concat(string(1, "classlabels_strings"), labels)));
        assertEquals(Map.of("y", List.of("a", "b")),
                ZipMapClasses.parse(model(otherDomain, zipMap("y", "classlabels_strings", labels))));
    }

    @Test
    void answersNothingForBytesThatAreNoModel() {
        assertEquals(Map.of(), ZipMapClasses.parse(new byte[] {0x3a, 0x7f, 0x01}));
        assertEquals(Map.of(), ZipMapClasses.parse("not a model at all".getBytes(StandardCharsets.UTF_8)));
    }

    // ------------------------------------------------------------------- protobuf, by hand

    private static byte[] model(byte[]... nodes) {
        byte[] graph = new byte[0];
        for (byte[] node : nodes) {
            graph = concat(graph, field(1, 2, node));
        }
        return concat(varintField(1, 8), field(7, 2, graph)); // ir_version 8, graph
    }

    private static byte[] zipMap(String output, String attribute, byte[] values) {
        return concat(string(1, "X"), string(2, output), string(4, "ZipMap"), string(7, "ai.onnx.ml"),
                field(5, 2, concat(string(1, attribute), values)));
    }

    private static byte[] string(int field, String s) {
        return field(field, 2, s.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] field(int field, int wireType, byte[] payload) {
        return concat(varint(field << 3 | wireType), varint(payload.length), payload);
    }

    private static byte[] varintField(int field, long value) {
        return concat(varint(field << 3), varint(value));
    }

    private static byte[] varint(long value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((value & ~0x7fL) != 0) {
            out.write((int) (value & 0x7f) | 0x80);
            value >>>= 7;
        }
        out.write((int) value);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
