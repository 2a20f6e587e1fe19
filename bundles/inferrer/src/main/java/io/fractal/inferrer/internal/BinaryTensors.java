package io.fractal.inferrer.internal;

import io.fractal.api.inference.DataType;
import io.fractal.api.inference.HalfFloats;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Tensors in the binary tensor data extension of the v2 protocol: little-endian, row-major, no padding; BOOL one
 * byte (0 or 1), FP16 IEEE half precision, BYTES each element a 4-byte little-endian length and its bytes (UTF-8 on
 * the Java side). Every size is checked against the shape before anything is allocated.
 */
final class BinaryTensors {

    private BinaryTensors() {
    }

    /** The bytes one element takes, or -1 for BYTES (variable). */
    static int elementSize(DataType type) {
        return switch (type) {
            case BOOL, UINT8, INT8 -> 1;
            case INT16, UINT16, FP16, BF16 -> 2;
            case INT32, UINT32, FP32 -> 4;
            case INT64, UINT64, FP64 -> 8;
            case BYTES -> -1;
        };
    }

    /**
     * The element count of a shape, as an int: an overflowing product or more elements than an array holds is
     * bad input.
     */
    static int elementCount(long[] shape, String label) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new InvalidInputException(label + ": negative dimension in shape " + Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new InvalidInputException(label + ": shape " + Arrays.toString(shape) + " is too large");
            }
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException(label + ": shape " + Arrays.toString(shape) + " is too large");
        }
        return (int) n;
    }

    /**
     * Decodes {@code bytes} (exactly the tensor's data, position to limit) as a tensor.
     *
     * @throws InvalidInputException when the byte count does not match the shape and datatype
     */
    static Tensor decode(String name, DataType type, long[] shape, ByteBuffer bytes, String label) {
        int n = elementCount(shape, label);
        ByteBuffer in = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
        int size = elementSize(type);
        if (size > 0 && (long) n * size != in.remaining()) {
            throw new InvalidInputException(label + ": shape " + Arrays.toString(shape) + " of " + type + " takes "
                    + (long) n * size + " bytes but binary_data_size is " + in.remaining());
        }
        Object data = switch (type) {
            case BOOL -> {
                boolean[] out = new boolean[n];
                for (int i = 0; i < n; i++) {
                    out[i] = in.get() != 0;
                }
                yield out;
            }
            case UINT8, INT8 -> {
                byte[] out = new byte[n];
                in.get(out);
                yield out;
            }
            case INT16, UINT16 -> {
                short[] out = new short[n];
                in.asShortBuffer().get(out);
                yield out;
            }
            case INT32, UINT32 -> {
                int[] out = new int[n];
                in.asIntBuffer().get(out);
                yield out;
            }
            case BF16 -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.bf16ToFloat(in.getShort());
                }
                yield out;
            }
            case INT64, UINT64 -> {
                long[] out = new long[n];
                in.asLongBuffer().get(out);
                yield out;
            }
            case FP16 -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.halfToFloat(in.getShort());
                }
                yield out;
            }
            case FP32 -> {
                float[] out = new float[n];
                in.asFloatBuffer().get(out);
                yield out;
            }
            case FP64 -> {
                double[] out = new double[n];
                in.asDoubleBuffer().get(out);
                yield out;
            }
            case BYTES -> bytes(in, n, shape, label);
        };
        requireFinite(data, type, label);
        return Tensor.of(name, type, shape, data);
    }

    /** No model declares that it takes infinities or NaN (a model given one answers NaN): none is accepted. */
    static void requireFinite(Object data, DataType type, String label) {
        int bad = -1;
        if (data instanceof float[] f) {
            for (int i = 0; i < f.length && bad < 0; i++) {
                bad = Float.isFinite(f[i]) ? -1 : i;
            }
        } else if (data instanceof double[] d) {
            for (int i = 0; i < d.length && bad < 0; i++) {
                bad = Double.isFinite(d[i]) ? -1 : i;
            }
        }
        if (bad >= 0) {
            throw new InvalidInputException(label + ": element " + bad + " of the " + type + " data is not a finite "
                    + "number (infinities and NaN are not accepted)");
        }
    }

    private static String[] bytes(ByteBuffer in, int n, long[] shape, String label) {
        // Each element takes at least its 4-byte length: more elements than that cannot be in the data.
        if ((long) n * 4 > in.remaining()) {
            throw new InvalidInputException(label + ": shape " + Arrays.toString(shape) + " has " + n
                    + " BYTES elements but binary_data_size is only " + in.remaining() + " bytes");
        }
        String[] out = new String[n];
        for (int i = 0; i < n; i++) {
            if (in.remaining() < 4) {
                throw new InvalidInputException(label + ": BYTES element " + i + " has no 4-byte length");
            }
            long length = in.getInt() & 0xffffffffL;
            if (length > in.remaining()) {
                throw new InvalidInputException(label + ": BYTES element " + i + " is " + length
                        + " bytes long but only " + in.remaining() + " bytes are left");
            }
            byte[] b = new byte[(int) length];
            in.get(b);
            out[i] = new String(b, StandardCharsets.UTF_8);
        }
        if (in.hasRemaining()) {
            throw new InvalidInputException(label + ": " + in.remaining() + " bytes are left after the " + n
                    + " BYTES elements of shape " + Arrays.toString(shape));
        }
        return out;
    }

    /** The tensor's data in binary form. */
    static byte[] encode(Tensor t) {
        Object data = t.data();
        int n = t.size();
        if (t.datatype() == DataType.BYTES) {
            String[] s = (String[]) data;
            byte[][] parts = new byte[n][];
            long total = 0;
            for (int i = 0; i < n; i++) {
                parts[i] = s[i] == null ? new byte[0] : s[i].getBytes(StandardCharsets.UTF_8);
                total += 4 + parts[i].length;
            }
            ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(total)).order(ByteOrder.LITTLE_ENDIAN);
            for (byte[] p : parts) {
                out.putInt(p.length).put(p);
            }
            return out.array();
        }
        ByteBuffer out = ByteBuffer.allocate(Math.multiplyExact(n, elementSize(t.datatype())))
                .order(ByteOrder.LITTLE_ENDIAN);
        switch (t.datatype()) {
            case BOOL -> {
                for (boolean b : (boolean[]) data) {
                    out.put((byte) (b ? 1 : 0));
                }
            }
            case UINT8, INT8 -> out.put((byte[]) data);
            case INT16, UINT16 -> out.asShortBuffer().put((short[]) data);
            case INT32, UINT32 -> out.asIntBuffer().put((int[]) data);
            case INT64, UINT64 -> out.asLongBuffer().put((long[]) data);
            case BF16 -> {
                for (float f : (float[]) data) {
                    out.putShort(HalfFloats.floatToBf16(f));
                }
            }
            case FP16 -> {
                for (float f : (float[]) data) {
                    out.putShort(HalfFloats.floatToHalf(f));
                }
            }
            case FP32 -> out.asFloatBuffer().put((float[]) data);
            case FP64 -> out.asDoubleBuffer().put((double[]) data);
            default -> throw new IllegalStateException(t.datatype().name());
        }
        return out.array();
    }
}
