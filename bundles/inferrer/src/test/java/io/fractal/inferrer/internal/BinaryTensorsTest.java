package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.DataType;
import io.fractal.api.inference.HalfFloats;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class BinaryTensorsTest {

    private static final long[] SHAPE = {2, 3};

    /** Six sample elements of each type, as numpy's tobytes() lays them out (little-endian). */
    private static Object sample(DataType type) {
        return switch (type) {
            case BOOL -> new boolean[] {true, false, false, true, true, false};
            case UINT8 -> new byte[] {0, 1, 127, (byte) 128, (byte) 200, (byte) 255};
            case INT8 -> new byte[] {-128, -1, 0, 1, 42, 127};
            case INT16 -> new short[] {Short.MIN_VALUE, -2, 0, 3, 1000, Short.MAX_VALUE};
            case INT32 -> new int[] {Integer.MIN_VALUE, -2, 0, 3, 100000, Integer.MAX_VALUE};
            case INT64 -> new long[] {Long.MIN_VALUE, -2, 0, 3, 1L << 40, Long.MAX_VALUE};
            case FP16 -> new float[] {0f, -1.5f, 0.099975586f, 65504f, 6.1035156e-5f, -2f};
            case FP32 -> new float[] {0f, -1.5f, 0.1f, Float.MAX_VALUE, Float.MIN_VALUE, 3.25f};
            case FP64 -> new double[] {0d, -1.5d, 0.1d, Double.MAX_VALUE, Double.MIN_VALUE, 3.25d};
            case BYTES -> new String[] {"", "a", "héllo", "x y z", "\u0000", "last"};
            case UINT16 -> new short[] {0, 1, 255, 256, Short.MAX_VALUE, (short) 0xffff};
            case UINT32 -> new int[] {0, 1, 65536, Integer.MAX_VALUE, (int) 0x80000000L, (int) 0xffffffffL};
            case UINT64 -> new long[] {0, 1, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE, -1L};
            case BF16 -> new float[] {0f, -1.5f, 0.099609375f, 3.3895314e38f, 1f, -2f};
        };
    }

    @ParameterizedTest
    @EnumSource(DataType.class)
    void everyDatatypeRoundTrips(DataType type) {
        Tensor t = Tensor.of("x", type, SHAPE, sample(type));

        byte[] bytes = BinaryTensors.encode(t);
        Tensor back = BinaryTensors.decode("x", type, SHAPE, ByteBuffer.wrap(bytes), "x");

        assertEquals(type, back.datatype());
        assertArrayEquals(SHAPE, back.shape());
        for (int i = 0; i < 6; i++) {
            assertEquals(Array.get(t.data(), i), Array.get(back.data(), i), type + " element " + i);
        }
        if (type != DataType.BYTES) {
            assertEquals(6 * BinaryTensors.elementSize(type), bytes.length);
        }
    }

    /** Infinities and NaN in binary data are refused as in JSON: no model declares it takes them. */
    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FP16", "BF16", "FP32", "FP64"})
    void nonFiniteBinaryDataIsBadInput(DataType type) {
        for (double bad : new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN}) {
            Object data = type == DataType.FP64 ? new double[] {1, bad} : new float[] {1, (float) bad};
            byte[] bytes = BinaryTensors.encode(Tensor.of("x", type, new long[] {2}, data));
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> BinaryTensors.decode("x", type, new long[] {2}, ByteBuffer.wrap(bytes), "inputs 'x'"));
            assertEquals("inputs 'x': element 1 of the " + type + " data is not a finite number (infinities and NaN "
                    + "are not accepted)", e.getMessage());
        }
    }

    @Test
    void littleEndianAsNumpyWritesIt() {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
        Tensor t = BinaryTensors.decode("x", DataType.FP32, new long[] {2}, ByteBuffer.wrap(b.array()), "x");
        assertArrayEquals(new float[] {1.5f, -2f}, (float[]) t.data());

        byte[] int32 = {1, 0, 0, 0, (byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        Tensor i = BinaryTensors.decode("x", DataType.INT32, new long[] {2}, ByteBuffer.wrap(int32), "x");
        assertArrayEquals(new int[] {1, -2}, (int[]) i.data());
        assertArrayEquals(int32, BinaryTensors.encode(i));
    }

    @Test
    void boolIsOneBytePerElement() {
        Tensor t = BinaryTensors.decode("b", DataType.BOOL, new long[] {3}, ByteBuffer.wrap(new byte[] {1, 0, 1}), "b");
        assertArrayEquals(new boolean[] {true, false, true}, (boolean[]) t.data());
        assertArrayEquals(new byte[] {1, 0, 1}, BinaryTensors.encode(t));
    }

    @Test
    void bytesHaveALittleEndianLengthPrefix() {
        byte[] wire = {3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 2, 0, 0, 0, 'h', 'i'};
        Tensor t = BinaryTensors.decode("s", DataType.BYTES, new long[] {3}, ByteBuffer.wrap(wire), "s");
        assertArrayEquals(new String[] {"abc", "", "hi"}, (String[]) t.data());
        assertArrayEquals(wire, BinaryTensors.encode(t));
        String utf8 = "é";
        byte[] e = BinaryTensors.encode(Tensor.of("s", DataType.BYTES, new long[] {1}, new String[] {utf8}));
        assertArrayEquals(new byte[] {2, 0, 0, 0, (byte) 0xc3, (byte) 0xa9}, e);
        assertEquals(utf8, new String(e, 4, 2, StandardCharsets.UTF_8));
    }

    @Test
    void fp16IsHalfPrecision() {
        // numpy.array([1, -2, 0.5, 65504, 6.1035156e-05, 5.9604645e-08], dtype=float16).tobytes()
        short[] halves = {0x3c00, (short) 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001};
        float[] floats = {1f, -2f, 0.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f};
        ByteBuffer b = ByteBuffer.allocate(halves.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (short h : halves) {
            b.putShort(h);
        }
        Tensor t = BinaryTensors.decode("h", DataType.FP16, new long[] {6}, ByteBuffer.wrap(b.array()), "h");
        assertArrayEquals(floats, (float[]) t.data());
        assertArrayEquals(b.array(), BinaryTensors.encode(t));
        assertEquals(0x3c00, HalfFloats.floatToHalf(1.0004f)); // rounds to nearest
        assertEquals((short) 0x7c00, HalfFloats.floatToHalf(1e6f)); // overflow is infinity
        assertEquals((short) 0x7c00, HalfFloats.floatToHalf(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(Float.NaN))));
        assertEquals(0.1f, HalfFloats.halfToFloat(HalfFloats.floatToHalf(0.1f)), 1e-4f);
    }

    @Test
    void unsignedAndBf16AsNumpyWritesThem() {
        // numpy.array([65535, 1], dtype=numpy.uint16).tobytes(); uint32 4294967295; uint64 2**64 - 1
        Tensor u16 = BinaryTensors.decode("u", DataType.UINT16, new long[] {2},
                ByteBuffer.wrap(new byte[] {-1, -1, 1, 0}), "u");
        assertEquals(65535.0, u16.getDouble(0));
        assertEquals(1.0, u16.getDouble(1));
        Tensor u32 = BinaryTensors.decode("u", DataType.UINT32, new long[] {1},
                ByteBuffer.wrap(new byte[] {-1, -1, -1, -1}), "u");
        assertEquals(4294967295.0, u32.getDouble(0));
        Tensor u64 = BinaryTensors.decode("u", DataType.UINT64, new long[] {1},
                ByteBuffer.wrap(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}), "u");
        assertEquals(18446744073709551615.0, u64.getDouble(0));
        assertEquals("[18446744073709551615]", TensorCodec.flatJson(u64).toString());
        assertEquals("[4294967295]", TensorCodec.flatJson(u32).toString());
        assertEquals("[65535,1]", TensorCodec.flatJson(u16).toString());
        // tritonclient.utils.serialize_bf16_tensor(numpy.array([1.0, -2.0], dtype=numpy.float32)): upper halves
        Tensor bf = BinaryTensors.decode("b", DataType.BF16, new long[] {2},
                ByteBuffer.wrap(new byte[] {(byte) 0x80, 0x3f, 0x00, (byte) 0xc0}), "b");
        assertArrayEquals(new float[] {1f, -2f}, (float[]) bf.data());
        assertEquals((short) 0x3f80, HalfFloats.floatToBf16(1.00001f));
    }

    @Test
    void sizesNotMatchingTheShapeAreBadInput() {
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("x", DataType.FP32, new long[] {2, 2}, ByteBuffer.allocate(15), "x"));
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("x", DataType.FP32, new long[] {2, 2}, ByteBuffer.allocate(17), "x"));
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("x", DataType.INT64, new long[] {3}, ByteBuffer.allocate(16), "x"));
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("x", DataType.FP16, new long[] {3}, ByteBuffer.allocate(4), "x"));
    }

    @Test
    void hugeShapesAreBadInputBeforeAnythingIsAllocated() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> BinaryTensors.decode("x",
                DataType.FP32, new long[] {1L << 32, 1L << 32, 1L << 32}, ByteBuffer.allocate(16), "x"));
        assertTrue(e.getMessage().contains("too large"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> BinaryTensors.decode("x", DataType.FP32,
                new long[] {1L << 30, 4}, ByteBuffer.allocate(16), "x"));
        assertThrows(InvalidInputException.class, () -> BinaryTensors.decode("x", DataType.BYTES,
                new long[] {1L << 30}, ByteBuffer.allocate(16), "x"));
    }

    @Test
    void badBytesElementsAreBadInput() {
        // a length running past the end
        byte[] past = {9, 0, 0, 0, 'a', 'b'};
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("s", DataType.BYTES, new long[] {1}, ByteBuffer.wrap(past), "s"));
        // a length of 4 GB - 1 (unsigned)
        byte[] huge = {-1, -1, -1, -1, 'a'};
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("s", DataType.BYTES, new long[] {1}, ByteBuffer.wrap(huge), "s"));
        // bytes left over
        byte[] extra = {1, 0, 0, 0, 'a', 'b'};
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("s", DataType.BYTES, new long[] {1}, ByteBuffer.wrap(extra), "s"));
        // fewer elements than the shape says
        byte[] few = {1, 0, 0, 0, 'a', 1, 0, 0, 0};
        assertThrows(InvalidInputException.class,
                () -> BinaryTensors.decode("s", DataType.BYTES, new long[] {2}, ByteBuffer.wrap(few), "s"));
    }
}
