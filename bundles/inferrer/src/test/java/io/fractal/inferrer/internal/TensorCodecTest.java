package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TensorCodecTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    // ---- shapes --------------------------------------------------------------------------------------------

    @Test
    void shapeOfNestedArrays() {
        assertArrayEquals(new long[] {4}, TensorCodec.shapeOf(json("[5.1, 3.5, 1.4, 0.2]"), "values"));
        assertArrayEquals(new long[] {2, 3}, TensorCodec.shapeOf(json("[[1,2,3],[4,5,6]]"), "values"));
        assertArrayEquals(new long[] {2, 1, 2}, TensorCodec.shapeOf(json("[[[1,2]],[[3,4]]]"), "values"));
        assertArrayEquals(new long[] {}, TensorCodec.shapeOf(json("7"), "values"));
        assertArrayEquals(new long[] {0}, TensorCodec.shapeOf(json("[]"), "values"));
        assertArrayEquals(new long[] {1, 0}, TensorCodec.shapeOf(json("[[]]"), "values"));
    }

    @Test
    void raggedArraysAreRejectedNamingTheField() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.shapeOf(json("[[1,2,3],[4,5]]"), "inputs[0].data"));
        assertEquals("'inputs[0].data' is ragged: every row at depth 1 must have 3 elements", e.getMessage());
        InvalidInputException deeper = assertThrows(InvalidInputException.class,
                () -> TensorCodec.shapeOf(json("[[1,2],[3,[4]]]"), "values.x"));
        assertTrue(deeper.getMessage().startsWith("'values.x' is nested deeper"), deeper.getMessage());
        InvalidInputException shallower = assertThrows(InvalidInputException.class,
                () -> TensorCodec.shapeOf(json("[[1,2],3]"), "values"));
        assertTrue(shallower.getMessage().startsWith("'values' is ragged"), shallower.getMessage());
    }

    // ---- flatten -------------------------------------------------------------------------------------------

    @Test
    void flattensRowMajorForEachDatatype() {
        JsonNode rows = json("[[1, 2], [3, 4]]");
        assertArrayEquals(new float[] {1, 2, 3, 4}, (float[]) TensorCodec.flatten(rows, DataType.FP32, "v"));
        assertArrayEquals(new float[] {1, 2, 3, 4}, (float[]) TensorCodec.flatten(rows, DataType.FP16, "v"));
        assertArrayEquals(new double[] {1, 2, 3, 4}, (double[]) TensorCodec.flatten(rows, DataType.FP64, "v"));
        assertArrayEquals(new long[] {1, 2, 3, 4}, (long[]) TensorCodec.flatten(rows, DataType.INT64, "v"));
        assertArrayEquals(new int[] {1, 2, 3, 4}, (int[]) TensorCodec.flatten(rows, DataType.INT32, "v"));
        assertArrayEquals(new short[] {1, 2, 3, 4}, (short[]) TensorCodec.flatten(rows, DataType.INT16, "v"));
        assertArrayEquals(new byte[] {1, 2, 3, 4}, (byte[]) TensorCodec.flatten(rows, DataType.INT8, "v"));
        assertArrayEquals(new byte[] {1, 2, 3, 4}, (byte[]) TensorCodec.flatten(rows, DataType.UINT8, "v"));
        assertArrayEquals(new boolean[] {true, false, true},
                (boolean[]) TensorCodec.flatten(json("[true, 0, 1]"), DataType.BOOL, "v"));
        assertArrayEquals(new String[] {"a", "b"}, (String[]) TensorCodec.flatten(json("[[\"a\"], [\"b\"]]"),
                DataType.BYTES, "v"));
    }

    @Test
    void floatsKeepTheirValue() {
        assertArrayEquals(new float[] {5.1f, -3.5e-3f}, (float[]) TensorCodec.flatten(json("[5.1, -3.5e-3]"),
                DataType.FP32, "v"));
        assertArrayEquals(new double[] {0.1, 1e300}, (double[]) TensorCodec.flatten(json("[0.1, 1e300]"),
                DataType.FP64, "v"));
        assertArrayEquals(new long[] {Long.MAX_VALUE, Long.MIN_VALUE}, (long[]) TensorCodec.flatten(
                json("[9223372036854775807, -9223372036854775808]"), DataType.INT64, "v"));
    }

    /** JSON has no infinities or NaN, but a number too large for the datatype becomes one: it is refused. */
    @ParameterizedTest
    @CsvSource({"'[1e400, 2]', FP32", "[1e400], FP64", "[-1e400], FP64", "[1e39], FP32", "[-3.5e38], FP32",
            "[70000], FP16", "[1e39], BF16"})
    void numbersTooLargeForTheDatatypeAreBadInput(String values, DataType type) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json(values), type, "inputs 'x'.data"));
        assertTrue(e.getMessage().startsWith("'inputs 'x'.data' holds ") && e.getMessage().contains(type.name())
                && e.getMessage().contains("non-finite numbers are not accepted"), e.getMessage());
    }

    @Test
    void theLargestFiniteValuesOfEachTypePass() {
        assertArrayEquals(new float[] {Float.MAX_VALUE, 65504f}, (float[]) TensorCodec.flatten(
                json("[3.4028234663852886E38, 65504]"), DataType.FP32, "v"));
        assertArrayEquals(new float[] {65504f, -65519f}, (float[]) TensorCodec.flatten(json("[65504, -65519]"),
                DataType.FP16, "v"));
        assertArrayEquals(new double[] {Double.MAX_VALUE}, (double[]) TensorCodec.flatten(
                json("[1.7976931348623157E308]"), DataType.FP64, "v"));
    }

    @Test
    void integralFloatsAreIntegers() {
        assertArrayEquals(new int[] {1, -2}, (int[]) TensorCodec.flatten(json("[1.0, -2.0]"), DataType.INT32, "v"));
    }

    @Test
    void int32RejectsNonIntegers() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[1, 2.5]"), DataType.INT32, "inputs[0].data"));
        assertEquals("'inputs[0].data' must hold integers, found 2.5", e.getMessage());
        assertThrows(InvalidInputException.class, () -> TensorCodec.flatten(json("[\"1\"]"), DataType.INT32, "v"));
        assertThrows(InvalidInputException.class, () -> TensorCodec.flatten(json("[true]"), DataType.INT32, "v"));
    }

    @Test
    void int32RejectsValuesOutOfRange() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[2147483648]"), DataType.INT32, "v"));
        assertEquals("'v' value 2147483648 is out of range [-2147483648, 2147483647]", e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"INT8, -129", "INT8, 128", "UINT8, -1", "UINT8, 256", "INT16, 32768", "BOOL, 2"})
    void smallIntegerTypesCheckTheirRange(DataType type, String value) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[" + value + "]"), type, "pixels"));
        assertTrue(e.getMessage().startsWith("'pixels' value " + value + " is out of range"), e.getMessage());
    }

    @Test
    void smallIntegerTypesTakeTheirWholeRange() {
        assertArrayEquals(new byte[] {-128, 127}, (byte[]) TensorCodec.flatten(json("[-128, 127]"), DataType.INT8, "v"));
        assertArrayEquals(new byte[] {0, (byte) 255}, (byte[]) TensorCodec.flatten(json("[0, 255]"), DataType.UINT8, "v"));
        Tensor t = Tensor.of("v", DataType.UINT8, new long[] {2},
                TensorCodec.flatten(json("[0, 255]"), DataType.UINT8, "v"));
        assertEquals(255.0, t.getDouble(1));
    }

    @Test
    void numbersAreRequired() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[1, \"two\"]"), DataType.FP32, "values"));
        assertEquals("'values' must hold numbers, found \"two\"", e.getMessage());
        assertThrows(InvalidInputException.class, () -> TensorCodec.flatten(json("[null]"), DataType.FP64, "v"));
        InvalidInputException bytes = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[1]"), DataType.BYTES, "text"));
        assertEquals("'text' of BYTES must hold strings", bytes.getMessage());
    }

    @Test
    void longOffendingValuesAreCutShort() {
        String longText = "x".repeat(100);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[\"" + longText + "\"]"), DataType.FP32, "v"));
        assertTrue(e.getMessage().endsWith("..."), e.getMessage());
        assertTrue(e.getMessage().length() < 80, e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"INT64, 18446744073709551617", "INT32, 18446744073709551617", "INT8, 18446744073709551617",
        "INT64, 1e20"})
    void integersBeyond64BitsAreOutOfRange(DataType type, String value) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[" + value + "]"), type, "v"),
                () -> type + " accepted " + value);
        assertTrue(e.getMessage().startsWith("'v' "), e.getMessage());
    }

    // ---- back to JSON --------------------------------------------------------------------------------------

    @Test
    void nestedJsonRoundTrip() {
        for (String text : new String[] {"[[1.5,2.0,3.0],[4.0,5.0,6.0]]", "[[[1.0,2.0]],[[3.0,4.0]]]", "[0.25]"}) {
            JsonNode in = json(text);
            long[] shape = TensorCodec.shapeOf(in, "v");
            Tensor t = Tensor.of("v", DataType.FP32, shape, TensorCodec.flatten(in, DataType.FP32, "v"));
            assertJson(in, TensorCodec.nestedJson(t, 0));
        }
    }

    @Test
    void nestedJsonRoundTripForIntegersBooleansAndStrings() {
        assertRoundTrip("[[1,-2],[3,4]]", DataType.INT64);
        assertRoundTrip("[[1,-2],[3,4]]", DataType.INT32);
        assertRoundTrip("[[0,255]]", DataType.UINT8);
        assertRoundTrip("[[-128,127]]", DataType.INT8);
        assertRoundTrip("[[true,false]]", DataType.BOOL);
        assertRoundTrip("[[\"setosa\"],[\"virginica\"]]", DataType.BYTES);
        assertRoundTrip("[[0.1,0.2]]", DataType.FP64);
    }

    @Test
    void nestedJsonDropsLeadingDimensions() {
        Tensor row = Tensor.of("p", DataType.FP32, new long[] {1, 3}, new float[] {0.5f, 0.25f, 0.25f});
        assertJson(json("[0.5, 0.25, 0.25]"), TensorCodec.nestedJson(row, 1));
        Tensor scalar = Tensor.of("s", DataType.INT64, new long[] {1}, new long[] {7});
        assertJson(json("7"), TensorCodec.nestedJson(scalar, 1));
        assertJson(json("[7]"), TensorCodec.nestedJson(scalar, 0));
    }

    @Test
    void flatJsonIsRowMajor() {
        Tensor t = Tensor.of("t", DataType.INT16, new long[] {2, 2}, new short[] {1, 2, 3, -4});
        assertJson(json("[1, 2, 3, -4]"), TensorCodec.flatJson(t));
    }

    private static void assertRoundTrip(String text, DataType type) {
        JsonNode in = json(text);
        Tensor t = Tensor.of("v", type, TensorCodec.shapeOf(in, "v"), TensorCodec.flatten(in, type, "v"));
        assertJson(in, TensorCodec.nestedJson(t, 0));
    }

    /** The same JSON text as the response would carry (node classes differ: IntNode, LongNode, FloatNode...). */
    private static void assertJson(JsonNode expected, JsonNode actual) {
        assertEquals(expected.toString(), actual.toString());
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    @Test
    void unsignedTypesTakeTheirWholeRange() {
        assertArrayEquals(new short[] {0, -1}, (short[]) TensorCodec.flatten(json("[0, 65535]"), DataType.UINT16, "v"));
        assertArrayEquals(new int[] {0, -1}, (int[]) TensorCodec.flatten(json("[0, 4294967295]"), DataType.UINT32, "v"));
        assertArrayEquals(new long[] {0, -1, Long.MAX_VALUE}, (long[]) TensorCodec.flatten(
                json("[0, 18446744073709551615, 9223372036854775807]"), DataType.UINT64, "v"));
        assertThrows(InvalidInputException.class, () -> TensorCodec.flatten(json("[65536]"), DataType.UINT16, "v"));
        assertThrows(InvalidInputException.class, () -> TensorCodec.flatten(json("[-1]"), DataType.UINT32, "v"));
        assertThrows(InvalidInputException.class,
                () -> TensorCodec.flatten(json("[18446744073709551616]"), DataType.UINT64, "v"));
        assertThrows(InvalidInputException.class, () -> TensorCodec.flatten(json("[-1]"), DataType.UINT64, "v"));
        Tensor t = Tensor.of("v", DataType.UINT64, new long[] {2}, new long[] {-1, 5});
        assertEquals("[18446744073709551615,5]", TensorCodec.flatJson(t).toString());
    }
}
