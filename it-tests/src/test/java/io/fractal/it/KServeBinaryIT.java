package io.fractal.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * The v2 protocol as the official Triton HTTP clients speak it: no Content-Type, the JSON as {@code json.dumps}
 * writes it, binary tensors after it ({@code Inference-Header-Content-Length}, {@code binary_data_size}, numpy's
 * {@code tobytes()}), outputs in binary when asked ({@code binary_data_output} when no outputs are named); the raw
 * single-input form; and curl's form content type on v1 and v2.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class KServeBinaryIT extends FractalTestSupport {

    private static final String HEADER_LENGTH = "Inference-Header-Content-Length";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @Before
    public void modelsReady() throws Exception {
        awaitReady("iris");
        awaitReady("digits");
        if (!java.nio.file.Files.exists(deployFolder().resolve("iris-sklearn.onnx"))) {
            deploy("/models/iris-sklearn.onnx", "iris-sklearn.onnx");
        }
        awaitReady("iris-sklearn");
    }

    @Test
    public void serverListsTheExtensions() {
        HttpResult server = http().get("/v2");

        assertEquals(server.toString(), 200, server.status);
        assertEquals(server.toString(), json(List.of("binary_tensor_data", "model_configuration",
                "model_repository", "statistics")),
                server.json.path("extensions"));
    }

    @Test
    public void binaryInputsAndBinaryOutputsWhenNoOutputIsNamed() throws Exception {
        JsonNode expected = expected("digits");
        JsonNode image = expected.path("inputs").path("image");
        // tritonclient.http: InferInput.set_data_from_numpy(binary_data=True), infer() without outputs
        String header = "{\"inputs\": [{\"name\": \"image\", \"shape\": " + image.path("shape") + ", \"datatype\": "
                + "\"FP32\", \"parameters\": {\"binary_data_size\": " + flatten(image.path("data")).length * 4
                + "}}], \"parameters\": {\"binary_data_output\": true}}";

        Raw answer = post("/v2/models/digits/infer", null, header, floats(flatten(image.path("data"))));

        assertEquals(answer.toString(), 200, answer.status);
        assertEquals(answer.toString(), "application/octet-stream", answer.contentType());
        JsonNode outputs = answer.header().path("outputs");
        assertEquals(answer.toString(), "digits", answer.header().path("model_name").asText());
        assertEquals(answer.toString(), "1", answer.header().path("model_version").asText());
        assertEquals(answer.toString(), 1, outputs.size());
        JsonNode probabilities = outputs.get(0);
        assertEquals(answer.toString(), "probabilities", probabilities.path("name").asText());
        assertEquals(answer.toString(), "FP32", probabilities.path("datatype").asText());
        assertEquals(answer.toString(), expected.path("outputs").path("probabilities").path("shape"),
                probabilities.path("shape"));
        assertTrue(answer.toString(), probabilities.path("data").isMissingNode());
        assertEquals(answer.toString(), 5 * 10 * 4, probabilities.path("parameters").path("binary_data_size").asInt());
        assertValues("digits probabilities in binary", expected.path("outputs").path("probabilities").path("data"),
                json(toList(readFloats(answer.binary()))));
    }

    @Test
    public void binaryInputsWithJsonOutputsAsked() throws Exception {
        JsonNode expected = expected("iris");
        double[] input = flatten(expected.path("inputs").path("input").path("data"));
        // InferRequestedOutput("probabilities", binary_data=False)
        String header = "{\"id\": \"b2\", \"inputs\": [{\"name\": \"input\", \"shape\": [5, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 80}}], \"outputs\": [{\"name\": \"probabilities\", "
                + "\"parameters\": {\"binary_data\": false}}]}";

        Raw answer = post("/v2/models/iris/versions/1/infer", null, header, floats(input));

        assertEquals(answer.toString(), 200, answer.status);
        assertEquals(answer.toString(), "application/json", answer.contentType());
        assertNull(answer.toString(), answer.headerLength());
        JsonNode body = JSON.readTree(answer.body);
        assertEquals(answer.toString(), "b2", body.path("id").asText());
        assertEquals(answer.toString(), "1", body.path("model_version").asText());
        assertValues("iris probabilities", expected.path("outputs").path("probabilities").path("data"),
                body.path("outputs").get(0).path("data"));
    }

    @Test
    public void jsonInputsWithABinaryOutputAsked() throws Exception {
        JsonNode expected = expected("iris");
        List<Double> input = toList(flatten(expected.path("inputs").path("input").path("data")));
        // set_data_from_numpy(binary_data=False), InferRequestedOutput("probabilities") (binary_data=True)
        String request = "{\"inputs\": [{\"name\": \"input\", \"shape\": [5, 4], \"datatype\": \"FP32\", \"data\": "
                + JSON.writeValueAsString(input) + "}], \"outputs\": [{\"name\": \"probabilities\", \"parameters\": "
                + "{\"binary_data\": true}}]}";

        Raw answer = post("/v2/models/iris/infer", null, request, null);

        assertEquals(answer.toString(), 200, answer.status);
        assertEquals(answer.toString(), "application/octet-stream", answer.contentType());
        assertValues("iris probabilities in binary", expected.path("outputs").path("probabilities").path("data"),
                json(toList(readFloats(answer.binary()))));
    }

    @Test
    public void octetStreamAsTheAsyncClientSendsIt() throws Exception {
        JsonNode expected = expected("iris");
        double[] input = flatten(expected.path("inputs").path("input").path("data"));
        String header = "{\"inputs\": [{\"name\": \"input\", \"shape\": [5, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 80}}], \"parameters\": {\"binary_data_output\": true}}";

        Raw answer = post("/v2/models/iris/infer", "application/octet-stream", header, floats(input));

        assertEquals(answer.toString(), 200, answer.status);
        assertValues("iris probabilities", expected.path("outputs").path("probabilities").path("data"),
                json(toList(readFloats(answer.binary()))));
    }

    @Test
    public void rawSingleInputWithHeaderLengthZero() throws Exception {
        JsonNode expected = expected("digits");
        double[] image = flatten(expected.path("inputs").path("image").path("data"));

        Raw answer = post("/v2/models/digits/infer", null, "", floats(image));

        assertEquals(answer.toString(), 200, answer.status);
        assertEquals(answer.toString(), "application/json", answer.contentType());
        JsonNode output = JSON.readTree(answer.body).path("outputs").get(0);
        assertEquals(answer.toString(), expected.path("outputs").path("probabilities").path("shape"),
                output.path("shape"));
        assertValues("digits probabilities", expected.path("outputs").path("probabilities").path("data"),
                output.path("data"));
    }

    @Test
    public void bytesOutputsInBinary() throws Exception {
        JsonNode expected = expected("iris-sklearn");
        double[] input = flatten(expected.path("inputs").path("float_input").path("data"));
        String header = "{\"inputs\": [{\"name\": \"float_input\", \"shape\": [5, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 80}}], \"outputs\": [{\"name\": \"output_label\", "
                + "\"parameters\": {\"binary_data\": true}}]}";

        Raw answer = post("/v2/models/iris-sklearn/infer", null, header, floats(input));

        assertEquals(answer.toString(), 200, answer.status);
        JsonNode label = answer.header().path("outputs").get(0);
        assertEquals(answer.toString(), "output_label", label.path("name").asText());
        assertEquals(answer.toString(), "BYTES", label.path("datatype").asText());
        ByteBuffer data = ByteBuffer.wrap(answer.binary()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(answer.toString(), data.remaining(), label.path("parameters").path("binary_data_size").asInt());
        List<String> labels = new ArrayList<>();
        while (data.hasRemaining()) {
            byte[] element = new byte[data.getInt()];
            data.get(element);
            labels.add(new String(element, StandardCharsets.UTF_8));
        }
        assertEquals(answer.toString(), JSON.convertValue(expected.path("predicted"), List.class), labels);
    }

    @Test
    public void sizesThatDoNotAddUpAre400() throws Exception {
        String header = "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 16}}]}";
        byte[] data = floats(new double[] {5.1, 3.5, 1.4, 0.2});

        List<Raw> answers = List.of(
                post("/v2/models/iris/infer", null, header, Arrays.copyOf(data, 12)),
                post("/v2/models/iris/infer", null, header, Arrays.copyOf(data, 20)),
                send("/v2/models/iris/infer", null, Integer.toString(header.length() + 100),
                        concat(header.getBytes(StandardCharsets.UTF_8), data)),
                send("/v2/models/iris/infer", null, "-3", concat(header.getBytes(StandardCharsets.UTF_8), data)),
                post("/v2/models/iris/infer", null, header.replace("[1, 4]", "[4294967296, 4294967296, 4]"), data),
                post("/v2/models/iris/infer", null, "", Arrays.copyOf(data, 10)));

        for (Raw answer : answers) {
            assertEquals(answer.toString(), 400, answer.status);
            assertEquals(answer.toString(), "application/json", answer.contentType());
            assertFalse(answer.toString(), JSON.readTree(answer.body).path("error").asText().isBlank());
        }
    }

    @Test
    public void curlFormContentTypeOnV1AndV2() throws Exception {
        String form = "application/x-www-form-urlencoded";
        JsonNode expected = expected("iris");
        JsonNode first = expected.path("inputs").path("input").path("data").get(0);

        Raw v1 = send("/api/v1/models/iris/prediction", form, null,
                JSON.writeValueAsBytes(Map.of("values", first)));
        Raw v2 = send("/v2/models/iris/infer", form, null, JSON.writeValueAsBytes(Map.of("inputs", List.of(
                Map.of("name", "input", "shape", List.of(1, 4), "datatype", "FP32", "data", first)))));
        Raw text = send("/v2/models/iris/infer", "text/plain", null, JSON.writeValueAsBytes(Map.of("inputs", List.of(
                Map.of("name", "input", "shape", List.of(1, 4), "datatype", "FP32", "data", first)))));
        Raw notJson = send("/api/v1/models/iris/prediction", form, null, "values=1".getBytes(StandardCharsets.UTF_8));

        JsonNode probabilities = expected.path("outputs").path("probabilities").path("data").get(0);
        assertEquals(v1.toString(), 200, v1.status);
        assertValues("v1 values", probabilities, JSON.readTree(v1.body).path("values"));
        assertEquals(v2.toString(), 200, v2.status);
        assertValues("v2 data", probabilities, JSON.readTree(v2.body).path("outputs").get(0).path("data"));
        assertEquals(text.toString(), 200, text.status);
        assertEquals(notJson.toString(), 400, notJson.status);
        assertTrue(notJson.toString(), JSON.readTree(notJson.body).path("error").asText().contains("not valid JSON"));
    }

    @Test
    public void compressedRequestsAndAnswers() throws Exception {
        JsonNode expected = expected("iris");
        double[] input = flatten(expected.path("inputs").path("input").path("data"));
        String json = "{\"id\": \"z\", \"inputs\": [{\"name\": \"input\", \"shape\": [5, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 80}}], \"parameters\": {\"binary_data_output\": true}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        byte[] body = concat(header, floats(input));

        for (String encoding : List.of("gzip", "deflate")) {
            // request_compression_algorithm and response_compression_algorithm of tritonclient.http
            ByteArrayOutputStream compressed = new ByteArrayOutputStream();
            try (java.io.OutputStream z = encoding.equals("gzip") ? new java.util.zip.GZIPOutputStream(compressed)
                    : new java.util.zip.DeflaterOutputStream(compressed)) {
                z.write(body);
            }
            HttpRequest request = HttpRequest.newBuilder(http().base().resolve("/v2/models/iris/infer"))
                    .timeout(Duration.ofSeconds(20)).header(HEADER_LENGTH, Integer.toString(header.length))
                    .header("Content-Encoding", encoding).header("Accept-Encoding", encoding)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(compressed.toByteArray())).build();
            HttpResponse<byte[]> response = CLIENT.send(request, HttpResponse.BodyHandlers.ofByteArray());

            assertEquals(encoding + ": " + new String(response.body(), StandardCharsets.ISO_8859_1), 200,
                    response.statusCode());
            assertEquals(encoding, response.headers().firstValue("Content-Encoding").orElse(null));
            java.io.InputStream in = new java.io.ByteArrayInputStream(response.body());
            byte[] plain = (encoding.equals("gzip") ? new java.util.zip.GZIPInputStream(in)
                    : new java.util.zip.InflaterInputStream(in)).readAllBytes();
            int n = Integer.parseInt(response.headers().firstValue(HEADER_LENGTH).orElseThrow());
            JsonNode answer = JSON.readTree(Arrays.copyOf(plain, n));
            assertEquals(answer.toString(), "z", answer.path("id").asText());
            assertValues(encoding, expected.path("outputs").path("probabilities").path("data"),
                    json(toList(readFloats(Arrays.copyOfRange(plain, n, plain.length)))));
        }
        HttpResponse<byte[]> notGzip = CLIENT.send(HttpRequest.newBuilder(http().base().resolve("/v2/models/iris/infer"))
                .timeout(Duration.ofSeconds(20)).header("Content-Encoding", "gzip")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(new String(notGzip.body(), StandardCharsets.UTF_8), 400, notGzip.statusCode());
    }

    @Test
    public void modelConfiguration() {
        HttpResult config = http().get("/v2/models/iris/config");

        assertEquals(config.toString(), 200, config.status);
        assertEquals(config.toString(), "iris", config.json.path("name").asText());
        assertEquals(config.toString(), "pytorch_libtorch", config.json.path("platform").asText());
        assertEquals(config.toString(), 0, config.json.path("max_batch_size").asInt(-1));
        assertEquals(config.toString(), json(List.of(Map.of("name", "input", "data_type", "TYPE_FP32",
                "dims", List.of(-1, 4)))), config.json.path("input"));
        assertEquals(config.toString(), json(List.of(Map.of("name", "probabilities", "data_type", "TYPE_FP32",
                "dims", List.of(-1, 3)))), config.json.path("output"));
        HttpResult versioned = http().get("/v2/models/digits/versions/1/config");
        assertEquals(versioned.toString(), 200, versioned.status);
        assertEquals(versioned.toString(), json(List.of(-1, 1, 8, 8)), versioned.json.path("input").get(0).path("dims"));
        HttpResult sklearn = http().get("/v2/models/iris-sklearn/config");
        assertEquals(sklearn.toString(), "onnxruntime_onnx", sklearn.json.path("platform").asText());
        assertEquals(sklearn.toString(), "TYPE_STRING", sklearn.json.path("output").get(0).path("data_type").asText());
        assertEquals(http().get("/v2/models/nosuchmodel/config").status, 404);
    }

    @Test
    public void aTorchScriptFileWithoutSidecarNamesItsInputsThenLearnsTheirTypesFromTheFirstCall() throws Exception {
        deploy("/models/dtypes.pt", "dtypes.pt");
        awaitReady("dtypes");
        HttpResult before = http().get("/v2/models/dtypes");
        assertEquals(before.toString(), 200, before.status);
        assertEquals(before.toString(), json(List.of("h", "s", "u", "b")), json(names(before.json.path("inputs"))));
        assertEquals(before.toString(), 4, before.json.path("outputs").size());
        assertEquals(before.toString(), "model file", before.json.path("parameters").path("signature_origin").asText());

        // tritonclient: FP16 (numpy float16), INT8, UINT8 and BOOL inputs in binary, outputs asked in binary
        ByteBuffer data = ByteBuffer.allocate(4 + 2 + 2 + 2).order(ByteOrder.LITTLE_ENDIAN);
        data.putShort((short) 0x3e00).putShort((short) 0xc080); // 1.5, -2.25 in half precision
        data.put((byte) 7).put((byte) -100);
        data.put((byte) 0).put((byte) 254);
        data.put((byte) 1).put((byte) 0);
        String header = "{\"inputs\": [" + binaryInput("h", "FP16", 4) + ", " + binaryInput("s", "INT8", 2) + ", "
                + binaryInput("u", "UINT8", 2) + ", " + binaryInput("b", "BOOL", 2)
                + "], \"parameters\": {\"binary_data_output\": true}}";
        Raw answer = post("/v2/models/dtypes/infer", null, header, data.array());

        assertEquals(answer.toString(), 200, answer.status);
        JsonNode outputs = answer.header().path("outputs");
        assertEquals(answer.toString(), List.of("FP16", "INT8", "UINT8", "BOOL"), datatypes(outputs));
        byte[] bytes = answer.binary();
        ByteBuffer out = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(answer.toString(), 10, bytes.length);
        assertEquals("3.0 in half precision", (short) 0x4200, out.getShort());
        assertEquals("-4.5 in half precision", (short) 0xc480, out.getShort());
        assertArrayEquals(new byte[] {8, -99, 1, (byte) 255, 0, 1}, Arrays.copyOfRange(bytes, 4, 10));

        HttpResult after = http().get("/v2/models/dtypes");
        assertEquals(after.toString(), List.of("FP16", "INT8", "UINT8", "BOOL"), datatypes(after.json.path("inputs")));
        assertEquals(after.toString(), json(List.of(-1, 2)), after.json.path("inputs").get(0).path("shape"));
        assertEquals(after.toString(), "model file + first call",
                after.json.path("parameters").path("signature_origin").asText());
        HttpResult config = http().get("/v2/models/dtypes/config");
        assertEquals(config.toString(), "TYPE_FP16", config.json.path("input").get(0).path("data_type").asText());
        assertEquals(config.toString(), json(List.of(-1, 2)), config.json.path("input").get(0).path("dims"));
        assertEquals(config.toString(), "TYPE_BOOL", config.json.path("output").get(3).path("data_type").asText());

        // A type the PyTorch engine cannot take is a 400 that names it, and the server lives on.
        String int16 = "{\"inputs\": [" + binaryInput("h", "INT16", 4) + ", " + binaryInput("s", "INT8", 2) + ", "
                + binaryInput("u", "UINT8", 2) + ", " + binaryInput("b", "BOOL", 2) + "]}";
        Raw refused = post("/v2/models/dtypes/infer", null, int16, data.array());
        assertEquals(refused.toString(), 400, refused.status);
        assertTrue(refused.toString(), JSON.readTree(refused.body).path("error").asText().contains("INT16"));
        assertEquals(200, post("/v2/models/dtypes/infer", null, header, data.array()).status);
    }

    @Test
    public void onnxTakesTwoNamedInputsAndHalfPrecision() throws Exception {
        deploy("/models/pair.onnx", "pair.onnx");
        deploy("/models/half.onnx", "half.onnx");
        awaitReady("pair");
        awaitReady("half");
        // two inputs, given in the other order, JSON both ways
        String pair = "{\"inputs\": [{\"name\": \"b\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [10, 20, 30]}, "
                + "{\"name\": \"a\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}";
        Raw sum = post("/v2/models/pair/infer", null, pair, null);
        assertEquals(sum.toString(), 200, sum.status);
        JsonNode output = JSON.readTree(sum.body).path("outputs").get(0);
        assertEquals(sum.toString(), "sum", output.path("name").asText());
        assertValues(sum.toString(), json(List.of(12.0, 24.0, 36.0)), output.path("data"));

        ByteBuffer half = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3e00)
                .putShort((short) 0xc080);
        Raw doubled = post("/v2/models/half/infer", null, "{\"inputs\": [" + binaryInput("x", "FP16", 4)
                + "], \"parameters\": {\"binary_data_output\": true}}", half.array());
        assertEquals(doubled.toString(), 200, doubled.status);
        assertEquals(doubled.toString(), "FP16", doubled.header().path("outputs").get(0).path("datatype").asText());
        ByteBuffer y = ByteBuffer.wrap(doubled.binary()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((short) 0x4200, y.getShort());
        assertEquals((short) 0xc480, y.getShort());
        // FP16 in JSON as well: numbers in, numbers out
        Raw json = post("/v2/models/half/infer", "application/json", "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], "
                + "\"datatype\": \"FP16\", \"data\": [1.5, -2.25]}]}", null);
        assertEquals(json.toString(), 200, json.status);
        assertValues(json.toString(), json(List.of(3.0, -4.5)), JSON.readTree(json.body).path("outputs").get(0).path("data"));
    }

    private static String binaryInput(String name, String datatype, int bytes) {
        int elements = 2;
        return "{\"name\": \"" + name + "\", \"shape\": [1, " + elements + "], \"datatype\": \"" + datatype
                + "\", \"parameters\": {\"binary_data_size\": " + bytes + "}}";
    }

    private static List<String> names(JsonNode specs) {
        List<String> out = new ArrayList<>();
        specs.forEach(s -> out.add(s.path("name").asText()));
        return out;
    }

    private static List<String> datatypes(JsonNode specs) {
        List<String> out = new ArrayList<>();
        specs.forEach(s -> out.add(s.path("datatype").asText()));
        return out;
    }

    // ---- the wire ----------------------------------------------------------------------------------------------

    /** A request as tritonclient.http sends it: the JSON, then the binary data, with the JSON's length if any. */
    private Raw post(String path, String contentType, String json, byte[] binary) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        return binary == null ? send(path, contentType, null, header)
                : send(path, contentType, Integer.toString(header.length), concat(header, binary));
    }

    private Raw send(String path, String contentType, String headerLength, byte[] body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(http().base().resolve(path))
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (headerLength != null) {
            request.header(HEADER_LENGTH, headerLength);
        }
        try {
            return new Raw(CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    /** numpy.array(values, dtype=numpy.float32).tobytes() */
    private static byte[] floats(double[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putFloat((float) v);
        }
        return b.array();
    }

    private static double[] readFloats(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        double[] out = new double[bytes.length / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getFloat();
        }
        return out;
    }

    private static List<Double> toList(double[] values) {
        List<Double> out = new ArrayList<>();
        for (double v : values) {
            out.add(v);
        }
        return out;
    }

    /** An answer as bytes. */
    private static final class Raw {
        final int status;
        final byte[] body;
        final HttpResponse<byte[]> response;

        Raw(HttpResponse<byte[]> response) {
            this.response = response;
            this.status = response.statusCode();
            this.body = response.body();
        }

        String contentType() {
            return response.headers().firstValue("Content-Type").map(t -> t.split(";")[0].trim()).orElse(null);
        }

        Integer headerLength() {
            return response.headers().firstValue(HEADER_LENGTH).map(Integer::valueOf).orElse(null);
        }

        JsonNode header() throws IOException {
            Integer n = headerLength();
            return JSON.readTree(Arrays.copyOf(body, n == null ? body.length : n));
        }

        byte[] binary() {
            Integer n = headerLength();
            return n == null ? new byte[0] : Arrays.copyOfRange(body, n, body.length);
        }

        @Override
        public String toString() {
            Integer n = headerLength();
            return status + " " + contentType() + " " + HEADER_LENGTH + "=" + n + " "
                    + new String(body, 0, n == null ? body.length : n, StandardCharsets.UTF_8);
        }
    }
}
