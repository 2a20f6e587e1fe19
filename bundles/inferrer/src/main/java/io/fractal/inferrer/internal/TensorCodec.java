package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.HalfFloats;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** JSON arrays to tensors and back; every error names the field it is about. */
final class TensorCodec {

    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private TensorCodec() {
    }

    /** The shape of a nested JSON array; rejects ragged arrays. A scalar has shape []. */
    static long[] shapeOf(JsonNode node, String field) {
        List<Long> dims = new ArrayList<>();
        JsonNode n = node;
        while (n.isArray()) {
            dims.add((long) n.size());
            if (n.size() == 0) {
                break;
            }
            n = n.get(0);
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        checkRectangular(node, shape, 0, field);
        return shape;
    }

    private static void checkRectangular(JsonNode node, long[] shape, int depth, String field) {
        if (depth == shape.length) {
            if (node.isArray()) {
                throw new InvalidInputException("'" + field + "' is nested deeper in some places than in others");
            }
            return;
        }
        if (!node.isArray() || node.size() != shape[depth]) {
            throw new InvalidInputException("'" + field + "' is ragged: every row at depth " + depth + " must have "
                    + shape[depth] + " elements");
        }
        for (JsonNode child : node) {
            checkRectangular(child, shape, depth + 1, field);
        }
    }

    /** The elements of a (possibly nested) JSON array in row-major order, as the datatype's array type. */
    static Object flatten(JsonNode node, DataType type, String field) {
        List<JsonNode> leaves = new ArrayList<>();
        collect(node, leaves);
        int n = leaves.size();
        try {
            switch (type) {
                case FP32, FP16, BF16 -> {
                    float[] out = new float[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = finiteFloat(leaves.get(i), type, field);
                    }
                    return out;
                }
                case FP64 -> {
                    double[] out = new double[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = finite(leaves.get(i), number(leaves.get(i), field).doubleValue(), type, field);
                    }
                    return out;
                }
                case INT64 -> {
                    long[] out = new long[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = integer(leaves.get(i), field, Long.MIN_VALUE, Long.MAX_VALUE);
                    }
                    return out;
                }
                case INT32 -> {
                    int[] out = new int[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = (int) integer(leaves.get(i), field, Integer.MIN_VALUE, Integer.MAX_VALUE);
                    }
                    return out;
                }
                case INT16 -> {
                    short[] out = new short[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = (short) integer(leaves.get(i), field, Short.MIN_VALUE, Short.MAX_VALUE);
                    }
                    return out;
                }
                case INT8 -> {
                    byte[] out = new byte[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = (byte) integer(leaves.get(i), field, Byte.MIN_VALUE, Byte.MAX_VALUE);
                    }
                    return out;
                }
                case UINT8 -> {
                    byte[] out = new byte[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = (byte) integer(leaves.get(i), field, 0, 255);
                    }
                    return out;
                }
                case UINT16 -> {
                    short[] out = new short[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = (short) integer(leaves.get(i), field, 0, 0xffff);
                    }
                    return out;
                }
                case UINT32 -> {
                    int[] out = new int[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = (int) integer(leaves.get(i), field, 0, 0xffffffffL);
                    }
                    return out;
                }
                case UINT64 -> {
                    long[] out = new long[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = unsigned64(leaves.get(i), field);
                    }
                    return out;
                }
                case BOOL -> {
                    boolean[] out = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        JsonNode v = leaves.get(i);
                        if (v.isBoolean()) {
                            out[i] = v.booleanValue();
                        } else {
                            out[i] = integer(v, field, 0, 1) == 1;
                        }
                    }
                    return out;
                }
                case BYTES -> {
                    String[] out = new String[n];
                    for (int i = 0; i < n; i++) {
                        if (!leaves.get(i).isTextual()) {
                            throw new InvalidInputException("'" + field + "' of BYTES must hold strings");
                        }
                        out[i] = leaves.get(i).textValue();
                    }
                    return out;
                }
                default -> throw new InvalidInputException("unsupported datatype " + type);
            }
        } catch (ArithmeticException e) {
            throw new InvalidInputException("'" + field + "': " + e.getMessage());
        }
    }

    private static void collect(JsonNode node, List<JsonNode> out) {
        if (node.isArray()) {
            for (JsonNode child : node) {
                collect(child, out);
            }
        } else {
            out.add(node);
        }
    }

    /**
     * A number as the datatype holds it, which must be finite: JSON has no infinities or NaN, but a number too large
     * for the datatype (1e400 for any, 1e39 for FP32, 70000 for FP16) would become one, and a model would answer
     * NaN. No model declares that it takes non-finite inputs, so none is accepted.
     */
    private static float finiteFloat(JsonNode v, DataType type, String field) {
        double d = finite(v, number(v, field).doubleValue(), type, field);
        float f = (float) d;
        float held = switch (type) {
            case FP16 -> HalfFloats.halfToFloat(HalfFloats.floatToHalf(f));
            case BF16 -> HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(f));
            default -> f;
        };
        finite(v, held, type, field);
        return f;
    }

    private static double finite(JsonNode v, double d, DataType type, String field) {
        if (!Double.isFinite(d)) {
            throw new InvalidInputException("'" + field + "' holds " + source(v) + ", which is out of the range of "
                    + type + " (non-finite numbers are not accepted)");
        }
        return d;
    }

    /** How a number was written, as far as the parsed value tells. */
    private static String source(JsonNode v) {
        double d = v.isNumber() ? v.doubleValue() : Double.NaN;
        return Double.isFinite(d) ? describe(v) : "a number too large for any floating-point type";
    }

    private static Number number(JsonNode v, String field) {
        if (!v.isNumber()) {
            throw new InvalidInputException("'" + field + "' must hold numbers, found " + describe(v));
        }
        return v.numberValue();
    }

    private static long integer(JsonNode v, String field, long min, long max) {
        if (!v.isIntegralNumber() && !(v.isNumber() && v.doubleValue() == Math.rint(v.doubleValue()))) {
            throw new InvalidInputException("'" + field + "' must hold integers, found " + describe(v));
        }
        if (!v.canConvertToLong()) {
            throw new InvalidInputException("'" + field + "' value " + describe(v) + " is out of range [" + min + ", "
                    + max + "]");
        }
        long x = v.asLong();
        if (x < min || x > max) {
            throw new InvalidInputException("'" + field + "' value " + x + " is out of range [" + min + ", " + max + "]");
        }
        return x;
    }

    private static final java.math.BigInteger MAX_UINT64 = java.math.BigInteger.ONE.shiftLeft(64)
            .subtract(java.math.BigInteger.ONE);

    private static long unsigned64(JsonNode v, String field) {
        if (!v.isIntegralNumber()) {
            return integer(v, field, 0, Long.MAX_VALUE);
        }
        java.math.BigInteger x = v.bigIntegerValue();
        if (x.signum() < 0 || x.compareTo(MAX_UINT64) > 0) {
            throw new InvalidInputException("'" + field + "' value " + x + " is out of range [0, " + MAX_UINT64 + "]");
        }
        return x.longValue();
    }

    private static String describe(JsonNode v) {
        String text = v.toString();
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }

    /** The flat data of a tensor as a JSON array. */
    static ArrayNode flatJson(Tensor t) {
        ArrayNode out = JSON.arrayNode(t.size());
        Object data = t.data();
        switch (t.datatype()) {
            case FP32, FP16, BF16 -> {
                for (float f : (float[]) data) {
                    out.add(f);
                }
            }
            case FP64 -> {
                for (double d : (double[]) data) {
                    out.add(d);
                }
            }
            case INT64 -> {
                for (long l : (long[]) data) {
                    out.add(l);
                }
            }
            case UINT32 -> {
                for (int i : (int[]) data) {
                    out.add(i & 0xffffffffL);
                }
            }
            case UINT64 -> {
                for (long l : (long[]) data) {
                    out.add(l >= 0 ? java.math.BigInteger.valueOf(l) : new java.math.BigInteger(Long.toUnsignedString(l)));
                }
            }
            case BOOL -> {
                for (boolean b : (boolean[]) data) {
                    out.add(b);
                }
            }
            case BYTES -> {
                for (String s : (String[]) data) {
                    out.add(s);
                }
            }
            default -> {
                for (int i = 0; i < t.size(); i++) {
                    out.add((long) t.getDouble(i));
                }
            }
        }
        return out;
    }

    /** The data of a tensor nested by its shape, dropping the leading {@code dropDims} dimensions of size 1. */
    static JsonNode nestedJson(Tensor t, int dropDims) {
        long[] shape = t.shape();
        long[] kept = Arrays.copyOfRange(shape, Math.min(dropDims, shape.length), shape.length);
        ArrayNode flat = flatJson(t);
        if (kept.length == 0) {
            return flat.size() == 1 ? flat.get(0) : flat;
        }
        int[] pos = {0};
        return nest(flat, kept, 0, pos);
    }

    private static JsonNode nest(ArrayNode flat, long[] shape, int depth, int[] pos) {
        ArrayNode out = JSON.arrayNode((int) shape[depth]);
        for (long i = 0; i < shape[depth]; i++) {
            if (depth == shape.length - 1) {
                out.add(flat.get(pos[0]++));
            } else {
                out.add(nest(flat, shape, depth + 1, pos));
            }
        }
        return out;
    }
}
