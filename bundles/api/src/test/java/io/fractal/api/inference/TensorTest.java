package io.fractal.api.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorTest {

    @Test
    void keepsNameDatatypeShapeAndData() {
        float[] data = {1, 2, 3, 4, 5, 6};
        Tensor t = Tensor.of("x", DataType.FP32, new long[] {2, 3}, data);
        assertEquals("x", t.name());
        assertEquals(DataType.FP32, t.datatype());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertSame(data, t.data());
        assertEquals(6, t.size());
    }

    @Test
    void shapeCannotBeChangedFromOutside() {
        long[] shape = {2, 3};
        Tensor t = Tensor.of("x", DataType.FP32, shape, new float[6]);
        shape[0] = 6;
        t.shape()[1] = 1;
        assertArrayEquals(new long[] {2, 3}, t.shape());
    }

    @Test
    void rejectsDataOfAnotherArrayType() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of("x", DataType.FP32, new long[] {2}, new double[2]));
        assertEquals("data of FP32 must be float[], not double[]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.of("x", DataType.UINT8, new long[] {2}, new int[2]));
        assertThrows(IllegalArgumentException.class, () -> Tensor.of("x", DataType.BYTES, new long[] {1}, new byte[1]));
    }

    @Test
    void rejectsAnElementCountThatIsNotTheProductOfTheShape() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of("input", DataType.FP32, new long[] {2, 3}, new float[5]));
        assertEquals("tensor 'input' has shape [2, 3] (6 elements) but 5 data elements", e.getMessage());
    }

    @Test
    void rejectsNegativeDimensions() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of("x", DataType.FP32, new long[] {-1, 4}, new float[4]));
        assertTrue(e.getMessage().contains("negative dimension in shape [-1, 4]"), e.getMessage());
    }

    @Test
    void rejectsMissingParts() {
        assertThrows(NullPointerException.class, () -> Tensor.of("x", null, new long[] {1}, new float[1]));
        assertThrows(NullPointerException.class, () -> Tensor.of("x", DataType.FP32, null, new float[1]));
        assertThrows(NullPointerException.class, () -> Tensor.of("x", DataType.FP32, new long[] {1}, null));
    }

    @Test
    void elementCountIsTheProductOfTheDimensions() {
        assertEquals(24, Tensor.elementCount(new long[] {2, 3, 4}));
        assertEquals(1, Tensor.elementCount(new long[] {}));
        assertEquals(0, Tensor.elementCount(new long[] {5, 0}));
        assertThrows(ArithmeticException.class, () -> Tensor.elementCount(new long[] {Long.MAX_VALUE, 2}));
    }

    @Test
    void aScalarHasAnEmptyShapeAndOneElement() {
        Tensor t = Tensor.of("s", DataType.INT64, new long[] {}, new long[] {42});
        assertEquals(42.0, t.getDouble(0));
    }

    @Test
    void getDoubleReadsEveryNumericDatatype() {
        assertEquals(1.0, Tensor.of("b", DataType.BOOL, new long[] {2}, new boolean[] {true, false}).getDouble(0));
        assertEquals(0.0, Tensor.of("b", DataType.BOOL, new long[] {2}, new boolean[] {true, false}).getDouble(1));
        assertEquals(255.0, Tensor.of("u", DataType.UINT8, new long[] {1}, new byte[] {(byte) 0xff}).getDouble(0));
        assertEquals(-1.0, Tensor.of("i", DataType.INT8, new long[] {1}, new byte[] {(byte) 0xff}).getDouble(0));
        assertEquals(-300.0, Tensor.of("i", DataType.INT16, new long[] {1}, new short[] {-300}).getDouble(0));
        assertEquals(70000.0, Tensor.of("i", DataType.INT32, new long[] {1}, new int[] {70000}).getDouble(0));
        assertEquals(1L << 40, Tensor.of("i", DataType.INT64, new long[] {1}, new long[] {1L << 40}).getDouble(0));
        assertEquals(0.5, Tensor.of("f", DataType.FP16, new long[] {1}, new float[] {0.5f}).getDouble(0));
        assertEquals(1.25, Tensor.of("f", DataType.FP32, new long[] {1}, new float[] {1.25f}).getDouble(0));
        assertEquals(0.1, Tensor.of("f", DataType.FP64, new long[] {1}, new double[] {0.1}).getDouble(0));
    }

    @Test
    void bytesAreNotNumeric() {
        Tensor t = Tensor.of("words", DataType.BYTES, new long[] {1}, new String[] {"a"});
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> t.getDouble(0));
        assertTrue(e.getMessage().contains("words"), e.getMessage());
        assertThrows(UnsupportedOperationException.class, t::toFloats);
    }

    @Test
    void toFloatsConvertsAndSharesFloatData() {
        float[] f = {1.5f, -2f};
        assertSame(f, Tensor.of("f", DataType.FP32, new long[] {2}, f).toFloats());
        assertArrayEquals(new float[] {1.5f, -2f},
                Tensor.of("d", DataType.FP64, new long[] {2}, new double[] {1.5, -2}).toFloats());
        assertArrayEquals(new float[] {3, -4},
                Tensor.of("i", DataType.INT32, new long[] {2}, new int[] {3, -4}).toFloats());
        assertArrayEquals(new float[] {200, 1},
                Tensor.of("u", DataType.UINT8, new long[] {2}, new byte[] {(byte) 200, 1}).toFloats());
        assertArrayEquals(new float[] {1, 0},
                Tensor.of("b", DataType.BOOL, new long[] {2}, new boolean[] {true, false}).toFloats());
    }

    @Test
    void toDoublesConvertsAndSharesDoubleData() {
        double[] d = {0.1, 0.2};
        assertSame(d, Tensor.of("d", DataType.FP64, new long[] {2}, d).toDoubles());
        assertArrayEquals(new double[] {1.5, 0.25},
                Tensor.of("f", DataType.FP32, new long[] {2}, new float[] {1.5f, 0.25f}).toDoubles());
        assertArrayEquals(new double[] {-5, 9_000_000_000.0},
                Tensor.of("l", DataType.INT64, new long[] {2}, new long[] {-5, 9_000_000_000L}).toDoubles());
        assertArrayEquals(new double[] {-128, 127},
                Tensor.of("i", DataType.INT8, new long[] {2}, new byte[] {-128, 127}).toDoubles());
        assertArrayEquals(new double[] {-7},
                Tensor.of("s", DataType.INT16, new long[] {1}, new short[] {-7}).toDoubles());
    }

    @Test
    void reshapeKeepsDataAndChecksTheCount() {
        int[] data = {1, 2, 3, 4, 5, 6};
        Tensor t = Tensor.of("x", DataType.INT32, new long[] {2, 3}, data);
        Tensor r = t.reshape(new long[] {3, 2});
        assertArrayEquals(new long[] {3, 2}, r.shape());
        assertEquals("x", r.name());
        assertEquals(DataType.INT32, r.datatype());
        assertSame(data, r.data());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.reshape(new long[] {4, 2}));
        assertTrue(e.getMessage().contains("8 elements"), e.getMessage());
    }

    @Test
    void withNameKeepsEverythingElse() {
        double[] data = {1, 2};
        Tensor t = Tensor.of("old", DataType.FP64, new long[] {1, 2}, data);
        Tensor n = t.withName("new");
        assertEquals("new", n.name());
        assertEquals("old", t.name());
        assertEquals(DataType.FP64, n.datatype());
        assertArrayEquals(new long[] {1, 2}, n.shape());
        assertSame(data, n.data());
    }
}
