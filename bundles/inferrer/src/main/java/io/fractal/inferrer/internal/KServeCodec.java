package io.fractal.inferrer.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire format of a v2 inference: the JSON request, optionally followed by binary tensors (the binary tensor data
 * extension: {@value #HEADER_LENGTH} gives the JSON's length, each binary input says its
 * {@code parameters.binary_data_size}, the tensors follow in input order), and the answer, JSON or JSON followed by
 * the outputs asked for in binary.
 */
final class KServeCodec {

    static final String HEADER_LENGTH = "Inference-Header-Content-Length";

    private KServeCodec() {
    }

    /** A parsed request. Raw: the body is the one input's data, typed and shaped by the model's signature. */
    record Request(String id, List<Tensor> inputs, ByteBuffer raw, Map<String, Boolean> outputs,
            boolean binaryOutput, Long timeoutMicros) {

        /** The inputs to send; a raw request takes its type and shape from the model's only input. */
        List<Tensor> inputs(ModelSignature signature) {
            return raw == null ? inputs : List.of(rawInput(raw, signature));
        }

        /** Whether output {@code name} goes back in binary. */
        boolean binary(String name) {
            Boolean b = outputs.get(name);
            return b != null ? b : binaryOutput;
        }
    }

    /**
     * Parses a request body. {@code headerLength} is the {@value #HEADER_LENGTH} header (null: the body is all
     * JSON; 0: the body is the raw data of the model's single input).
     */
    static Request parse(byte[] body, String headerLength) {
        int jsonLength = body.length;
        if (headerLength != null && !headerLength.isBlank()) {
            long n;
            try {
                n = Long.parseLong(headerLength.trim());
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 0) {
                throw new InvalidInputException("header " + HEADER_LENGTH + " must be a non-negative number of "
                        + "bytes, not '" + headerLength + "'");
            }
            if (n > body.length) {
                throw new InvalidInputException("header " + HEADER_LENGTH + " says the JSON is " + n
                        + " bytes but the body has only " + body.length);
            }
            jsonLength = (int) n;
            if (jsonLength == 0) {
                return new Request(null, List.of(), ByteBuffer.wrap(body).asReadOnlyBuffer(), Map.of(), false, null);
            }
        }
        JsonNode json = Bodies.json(body, 0, jsonLength,
                "a JSON object {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}");
        if (!json.isObject()) {
            throw new InvalidInputException("expected a JSON object with 'inputs'");
        }
        ByteBuffer binary = ByteBuffer.wrap(body, jsonLength, body.length - jsonLength).slice();
        JsonNode inputs = json.get("inputs");
        if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
            throw new InvalidInputException("'inputs' must be a non-empty array of tensors");
        }
        List<Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            tensors.add(tensor(inputs.get(i), "inputs[" + i + "]", binary));
        }
        if (binary.hasRemaining()) {
            throw new InvalidInputException(binary.remaining() + " bytes follow the inputs' binary data; the "
                    + "inputs' binary_data_size add up to " + binary.position() + " of the "
                    + (body.length - jsonLength) + " bytes after the JSON header");
        }
        Map<String, Boolean> outputs = new LinkedHashMap<>();
        JsonNode requested = json.get("outputs");
        if (requested != null && !requested.isNull()) {
            if (!requested.isArray()) {
                throw new InvalidInputException("'outputs' must be an array of {\"name\": ...}");
            }
            for (JsonNode o : requested) {
                if (!o.isObject() || !o.hasNonNull("name") || !o.get("name").isTextual()) {
                    throw new InvalidInputException("each of 'outputs' needs a 'name'");
                }
                JsonNode parameters = parameters(o, "outputs '" + o.get("name").textValue() + "'");
                Boolean binaryData = bool(parameters, "binary_data", "outputs '" + o.get("name").textValue() + "'");
                JsonNode classification = parameters.get("classification");
                if (classification != null && !classification.isNull()
                        && !(classification.isNumber() && classification.asInt() == 0)) {
                    throw new InvalidInputException("the classification extension is not supported (outputs '"
                            + o.get("name").textValue() + "')");
                }
                outputs.put(o.get("name").textValue(), binaryData);
            }
        }
        JsonNode parameters = parameters(json, "the request");
        Boolean binaryOutput = bool(parameters, "binary_data_output", "the request");
        String id = json.hasNonNull("id") ? json.get("id").asText() : null;
        return new Request(id, tensors, null, outputs, binaryOutput != null && binaryOutput,
                KServeResource.timeoutMicros(json));
    }

    private static JsonNode parameters(JsonNode node, String where) {
        JsonNode p = node.get("parameters");
        if (p == null || p.isNull()) {
            return Bodies.JSON.createObjectNode();
        }
        if (!p.isObject()) {
            throw new InvalidInputException("'parameters' of " + where + " must be an object");
        }
        return p;
    }

    private static Boolean bool(JsonNode parameters, String name, String where) {
        JsonNode v = parameters.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isBoolean()) {
            throw new InvalidInputException("'parameters." + name + "' of " + where + " must be true or false");
        }
        return v.booleanValue();
    }

    private static Tensor tensor(JsonNode input, String field, ByteBuffer binary) {
        if (!input.isObject()) {
            throw new InvalidInputException("'" + field + "' must be an object with name, shape, datatype, data");
        }
        JsonNode name = input.get("name");
        if (name == null || !name.isTextual() || name.textValue().isEmpty()) {
            throw new InvalidInputException("'" + field + ".name' is missing");
        }
        String label = "inputs '" + name.textValue() + "'";
        JsonNode shapeNode = input.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new InvalidInputException("'" + label + ".shape' must be an array of dimensions");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new InvalidInputException("'" + label + ".shape' must hold non-negative integers");
            }
            shape[i] = d.asLong();
        }
        JsonNode datatype = input.get("datatype");
        if (datatype == null || !datatype.isTextual()) {
            throw new InvalidInputException("'" + label + ".datatype' is missing");
        }
        DataType type;
        try {
            type = DataType.parse(datatype.textValue());
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(label + ": " + e.getMessage());
        }
        JsonNode parameters = parameters(input, label);
        JsonNode size = parameters.get("binary_data_size");
        JsonNode data = input.get("data");
        if (size != null && !size.isNull()) {
            if (data != null && !data.isNull()) {
                throw new InvalidInputException(label + " has both 'data' and 'parameters.binary_data_size'");
            }
            if (!size.isIntegralNumber() || !size.canConvertToLong() || size.asLong() < 0) {
                throw new InvalidInputException("'" + label + ".parameters.binary_data_size' must be a "
                        + "non-negative integer");
            }
            long n = size.asLong();
            if (n > binary.remaining()) {
                throw new InvalidInputException(label + ": binary_data_size " + n + " but only "
                        + binary.remaining() + " bytes of binary data are left after the JSON header"
                        + (binary.capacity() == 0 ? " (is the " + HEADER_LENGTH + " header missing?)" : ""));
            }
            ByteBuffer slice = binary.slice();
            slice.limit((int) n);
            binary.position(binary.position() + (int) n);
            return BinaryTensors.decode(name.textValue(), type, shape, slice, label);
        }
        if (data == null || !(data.isArray() || data.isValueNode()) || data.isNull()) {
            throw new InvalidInputException("'" + label + ".data' is missing");
        }
        long count = BinaryTensors.elementCount(shape, label);
        Object flat = TensorCodec.flatten(data, type, label + ".data");
        try {
            return Tensor.of(name.textValue(), type, shape, flat);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(label + ": " + e.getMessage() + " (shape wants " + count + ")");
        }
    }

    /**
     * The raw body as the model's only input: its datatype from the signature, its shape from the signature with
     * at most one dimension of any size, which the byte count gives.
     */
    static Tensor rawInput(ByteBuffer raw, ModelSignature signature) {
        List<TensorSpec> specs = signature.inputs();
        if (specs.size() != 1) {
            throw new InvalidInputException("a raw binary request (" + HEADER_LENGTH + ": 0) needs a model with "
                    + "exactly one input of known datatype and shape; "
                    + (specs.isEmpty() ? "this model's inputs are not known" : "this model has " + specs.size()));
        }
        TensorSpec spec = specs.get(0);
        long[] shape = spec.shape();
        if (spec.datatype() == null || shape == null) {
            throw new InvalidInputException("a raw binary request (" + HEADER_LENGTH + ": 0) needs the datatype "
                    + "and shape of input '" + spec.name() + "', which are not known");
        }
        String label = "raw input '" + spec.name() + "'";
        int variable = -1;
        long fixed = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                if (variable >= 0) {
                    throw new InvalidInputException(label + ": shape " + Arrays.toString(shape) + " has more than "
                            + "one dimension of any size; send a JSON header");
                }
                variable = i;
            } else {
                fixed = multiply(fixed, shape[i], label, shape);
            }
        }
        int bytes = raw.remaining();
        if (spec.datatype() == DataType.BYTES) {
            if (fixed != 1) {
                throw new InvalidInputException(label + ": a raw BYTES input must have one element");
            }
            if (variable >= 0) {
                shape[variable] = 1;
            }
        } else if (variable >= 0) {
            long rowBytes = multiply(fixed, BinaryTensors.elementSize(spec.datatype()), label, shape);
            if (rowBytes == 0 || bytes % rowBytes != 0) {
                throw new InvalidInputException(label + ": " + bytes + " bytes are not a whole number of "
                        + spec.datatype() + " rows of shape " + Arrays.toString(shape));
            }
            shape[variable] = bytes / rowBytes;
        }
        return BinaryTensors.decode(spec.name(), spec.datatype(), shape, raw, label);
    }

    private static long multiply(long a, long b, String label, long[] shape) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new InvalidInputException(label + ": shape " + Arrays.toString(shape) + " is too large");
        }
    }

    /**
     * Whether a request's {@code Accept} header takes JSON: absent, or naming {@code application/json},
     * {@code application/*} or {@code *}{@code /*} (a client that asks only for another type gets the answer with its
     * type stated, as before).
     */
    static boolean takesJson(String accept) {
        if (accept == null || accept.isBlank()) {
            return true;
        }
        String a = accept.toLowerCase(java.util.Locale.ROOT);
        return a.contains("application/json") || a.contains("application/*") || a.contains("*/*");
    }

    /** The answer, uncompressed. */
    static Response response(Request request, InferenceResponse served) {
        return response(request, served, null);
    }

    /**
     * The answer: JSON, or JSON followed by the outputs asked for in binary; compressed with {@code encoding} (gzip
     * or deflate) unless that is null.
     */
    static Response response(Request request, InferenceResponse served, String encoding) {
        Object answer = answer(request, served, encoding, false);
        return answer instanceof Response r ? r : Response.ok(answer, MediaType.APPLICATION_JSON_TYPE).build();
    }

    /**
     * The answer as the resource returns it. An answer that is all JSON, uncompressed, to a client that takes JSON
     * ({@code jsonAccepted}) is the JSON object itself: JAX-RS writes it as JSON (the only type it can be written
     * as), and the direct lane writes it with no JAX-RS {@link Response} to build and read back (its builder, header
     * maps and media type: about 4% of the server's CPU under v2 JSON load). Anything else is a {@link Response} with
     * its type set.
     */
    static Object answer(Request request, InferenceResponse served, String encoding, boolean jsonAccepted) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model_name", served.model());
        out.put("model_version", Integer.toString(served.version()));
        if (request.id() != null) {
            out.put("id", request.id());
        }
        List<Object> outs = new ArrayList<>();
        List<byte[]> binary = new ArrayList<>();
        for (Tensor t : served.outputs()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("name", t.name());
            o.put("datatype", t.datatype().name());
            o.put("shape", t.shape());
            if (request.binary(t.name())) {
                byte[] data = BinaryTensors.encode(t);
                binary.add(data);
                o.put("parameters", Map.of("binary_data_size", data.length));
            } else {
                o.put("data", TensorCodec.flatJson(t));
            }
            outs.add(o);
        }
        out.put("outputs", outs);
        if (binary.isEmpty() && encoding == null) {
            return jsonAccepted ? out : Response.ok(out, MediaType.APPLICATION_JSON_TYPE).build();
        }
        byte[] header;
        try {
            header = Bodies.JSON.writeValueAsBytes(out);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        int total = header.length;
        for (byte[] b : binary) {
            total = Math.addExact(total, b.length);
        }
        ByteBuffer body = ByteBuffer.allocate(total).put(header);
        binary.forEach(body::put);
        Response.ResponseBuilder response;
        if (binary.isEmpty()) {
            response = Response.ok().type(MediaType.APPLICATION_JSON_TYPE);
        } else {
            response = Response.ok().type(MediaType.APPLICATION_OCTET_STREAM_TYPE)
                    .header(HEADER_LENGTH, Integer.toString(header.length)); // text: the direct lane writes it as is
        }
        if (encoding == null) {
            return response.entity(body.array()).build();
        }
        return response.entity(Bodies.compress(body.array(), encoding)).header("Content-Encoding", encoding)
                .header("Vary", "Accept-Encoding").build();
    }
}
