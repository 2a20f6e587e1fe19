package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import jakarta.ws.rs.core.Response;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Requests built byte for byte as tritonclient.http builds them (json.dumps, then the inputs' tobytes()). */
class KServeCodecTest {

    private static final ModelSignature IRIS = new ModelSignature(
            List.of(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})),
            List.of(new TensorSpec("probabilities", DataType.FP32, new long[] {-1, 3})), List.of());

    private static byte[] floats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void binaryInputsAsTheOfficialClientSendsThem() {
        byte[] header = utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [2, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 32}}, {\"name\": \"flags\", \"shape\": [3], \"datatype\": "
                + "\"BOOL\", \"parameters\": {\"binary_data_size\": 3}}], \"parameters\": {\"binary_data_output\": true}}");
        byte[] body = concat(header, floats(5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3f, 5.2f, 2.3f), new byte[] {1, 0, 1});

        KServeCodec.Request r = KServeCodec.parse(body, Integer.toString(header.length));

        assertEquals(2, r.inputs().size());
        assertArrayEquals(new float[] {5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3f, 5.2f, 2.3f}, (float[]) r.inputs().get(0).data());
        assertArrayEquals(new long[] {2, 4}, r.inputs().get(0).shape());
        assertArrayEquals(new boolean[] {true, false, true}, (boolean[]) r.inputs().get(1).data());
        assertTrue(r.binary("probabilities"));
        assertNull(r.id());
    }

    @Test
    void jsonInputsWithoutTheHeaderAndOutputsChosenOneByOne() {
        byte[] body = utf8("{\"id\": \"7\", \"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": "
                + "\"FP32\", \"data\": [5.1, 3.5, 1.4, 0.2]}], \"outputs\": [{\"name\": \"a\", \"parameters\": "
                + "{\"binary_data\": true}}, {\"name\": \"b\", \"parameters\": {\"binary_data\": false}}], "
                + "\"parameters\": {\"binary_data_output\": true}}");

        KServeCodec.Request r = KServeCodec.parse(body, null);

        assertEquals("7", r.id());
        assertTrue(r.binary("a"));
        assertFalse(r.binary("b"));
        assertTrue(r.binary("c"));
        assertEquals(List.of("a", "b"), List.copyOf(r.outputs().keySet()));
    }

    @Test
    void mixedJsonAndBinaryInputs() {
        byte[] header = utf8("{\"inputs\": [{\"name\": \"x\", \"shape\": [2], \"datatype\": \"INT32\", \"data\": [1, 2]}, "
                + "{\"name\": \"s\", \"shape\": [1], \"datatype\": \"BYTES\", \"parameters\": {\"binary_data_size\": 6}}]}");
        byte[] body = concat(header, new byte[] {2, 0, 0, 0, 'o', 'k'});

        KServeCodec.Request r = KServeCodec.parse(body, Integer.toString(header.length));

        assertArrayEquals(new int[] {1, 2}, (int[]) r.inputs().get(0).data());
        assertArrayEquals(new String[] {"ok"}, (String[]) r.inputs().get(1).data());
        assertFalse(r.binary("anything"));
    }

    @Test
    void sizesThatDoNotAddUpAreBadInput() {
        byte[] header = utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 16}}]}");
        byte[] data = floats(1, 2, 3, 4);
        String n = Integer.toString(header.length);

        // the data is shorter than binary_data_size
        bad(concat(header, Arrays.copyOf(data, 12)), n, "only 12 bytes");
        // bytes after the last tensor
        bad(concat(header, data, new byte[] {0}), n, "1 bytes follow");
        // the header length past the body, negative, not a number
        bad(concat(header, data), Integer.toString(header.length + 17), "body has only");
        bad(concat(header, data), "-1", "non-negative");
        bad(concat(header, data), "ten", "non-negative");
        // the header length cutting the JSON
        bad(concat(header, data), Integer.toString(header.length - 1), "not valid JSON");
        // binary data without the header
        bad(header, null, "binary_data_size 16 but only 0 bytes");
        // binary_data_size not matching the shape
        byte[] wrongShape = utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 3], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 16}}]}");
        bad(concat(wrongShape, data), Integer.toString(wrongShape.length), "takes 12 bytes");
        // a shape whose product overflows
        byte[] overflow = utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [4294967296, 4294967296, 4294967296], "
                + "\"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 16}}]}");
        bad(concat(overflow, data), Integer.toString(overflow.length), "too large");
        byte[] overflowJson = utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [4294967296, 4294967296, 4294967296], "
                + "\"datatype\": \"FP32\", \"data\": [1, 2]}]}");
        bad(overflowJson, null, "too large");
        // 2^62 x 4: the product overflows a long by exactly one bit ("long overflow" was a 500)
        bad(utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [4611686018427387904, 4], "
                + "\"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}]}"), null, "too large");
        byte[] huge = utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [4611686018427387904, 4], "
                + "\"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 16}}]}");
        bad(concat(huge, data), Integer.toString(huge.length), "too large");
        // 1e400 in the data: infinity once parsed
        bad(utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 2], \"datatype\": \"FP32\", "
                + "\"data\": [1e400, 1]}]}"), null, "non-finite numbers are not accepted");
        // both data and binary_data_size; a negative size
        bad(utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1], "
                + "\"parameters\": {\"binary_data_size\": 4}}]}"), null, "both");
        bad(utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [1], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": -4}}]}"), null, "non-negative");
    }

    @Test
    void bodiesThatAreNotWhatTheCallExpectsAreBadInput() {
        bad(new byte[0], null, "no body");
        bad(utf8("inputs=1&x=2"), null, "not valid JSON");
        bad(utf8("[1, 2]"), null, "JSON object");
        bad(utf8("{\"inputs\": []}"), null, "non-empty");
        bad(utf8("{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], "
                + "\"outputs\": [{\"name\": \"p\", \"parameters\": {\"classification\": 2}}]}"), null, "classification");
        bad(utf8("{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], "
                + "\"parameters\": {\"binary_data_output\": \"yes\"}}"), null, "true or false");
    }

    @Test
    void rawSingleInputWithHeaderLengthZero() {
        byte[] body = floats(5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3f, 5.2f, 2.3f);

        KServeCodec.Request r = KServeCodec.parse(body, "0");
        List<Tensor> inputs = r.inputs(IRIS);

        assertEquals(1, inputs.size());
        assertEquals("input", inputs.get(0).name());
        assertArrayEquals(new long[] {2, 4}, inputs.get(0).shape());
        assertArrayEquals(new float[] {5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3f, 5.2f, 2.3f}, (float[]) inputs.get(0).data());
        assertFalse(r.binary("probabilities"));
        // not a whole row, no signature, two inputs
        assertThrows(InvalidInputException.class, () -> KServeCodec.parse(floats(1, 2, 3), "0").inputs(IRIS));
        assertThrows(InvalidInputException.class,
                () -> KServeCodec.parse(body, "0").inputs(ModelSignature.UNKNOWN));
        ModelSignature two = new ModelSignature(List.of(new TensorSpec("a", DataType.FP32, new long[] {-1}),
                new TensorSpec("b", DataType.FP32, new long[] {-1})), List.of(), List.of());
        assertThrows(InvalidInputException.class, () -> KServeCodec.parse(body, "0").inputs(two));
    }

    @Test
    void binaryAnswerHasTheJsonLengthAndTheTensorsAfterIt() throws Exception {
        KServeCodec.Request request = KServeCodec.parse(utf8("{\"id\": \"r\", \"inputs\": [{\"name\": \"input\", "
                + "\"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}], \"outputs\": [{\"name\": "
                + "\"probabilities\", \"parameters\": {\"binary_data\": true}}, {\"name\": \"label\"}]}"), null);
        InferenceResponse served = new InferenceResponse("r", "iris", 3, List.of(
                Tensor.of("probabilities", DataType.FP32, new long[] {1, 3}, new float[] {0.25f, 0.5f, 0.25f}),
                Tensor.of("label", DataType.INT64, new long[] {1}, new long[] {1})), "mh1", 0, 0);

        Response response = KServeCodec.response(request, served);

        assertEquals("application/octet-stream", response.getMediaType().toString());
        byte[] body = (byte[]) response.getEntity();
        int headerLength = Integer.parseInt(response.getHeaderString(KServeCodec.HEADER_LENGTH));
        JsonNode header = Bodies.JSON.readTree(Arrays.copyOf(body, headerLength));
        assertEquals("iris", header.path("model_name").asText());
        assertEquals("3", header.path("model_version").asText());
        assertEquals("r", header.path("id").asText());
        JsonNode p = header.path("outputs").get(0);
        assertEquals(12, p.path("parameters").path("binary_data_size").asInt());
        assertTrue(p.path("data").isMissingNode());
        assertEquals("[1,3]", p.path("shape").toString());
        assertEquals("[1]", header.path("outputs").get(1).path("data").toString());
        assertArrayEquals(floats(0.25f, 0.5f, 0.25f), Arrays.copyOfRange(body, headerLength, body.length));
    }

    @Test
    void jsonAnswerWhenNoOutputIsBinary() {
        KServeCodec.Request request = KServeCodec.parse(utf8("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], "
                + "\"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}]}"), null);
        InferenceResponse served = new InferenceResponse(null, "iris", 1, List.of(
                Tensor.of("probabilities", DataType.FP16, new long[] {1, 2}, new float[] {0.5f, 0.25f})), "mh1", 0, 0);

        Response response = KServeCodec.response(request, served);

        assertEquals("application/json", response.getMediaType().toString());
        assertNull(response.getHeaderString(KServeCodec.HEADER_LENGTH));
        @SuppressWarnings("unchecked")
        Map<String, Object> body = (Map<String, Object>) response.getEntity();
        assertEquals("1", body.get("model_version"));
        assertFalse(body.containsKey("id"));
    }

    private static void bad(byte[] body, String headerLength, String message) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> KServeCodec.parse(body, headerLength));
        assertTrue(e.getMessage().contains(message), "'" + e.getMessage() + "' should say '" + message + "'");
    }
}
