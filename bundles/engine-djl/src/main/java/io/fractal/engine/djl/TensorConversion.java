package io.fractal.engine.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.HalfFloats;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/** Converts between Fractal tensors and DJL arrays. */
final class TensorConversion {

    private TensorConversion() {
    }

    /**
     * A DJL array of the tensor, in {@code manager}.
     *
     * @param accepted the types the engine can take: others are refused here, before they reach native code (DJL's
     *     PyTorch JNI aborts the process on a type it does not map)
     */
    static NDArray toNDArray(NDManager manager, Tensor tensor, Set<DataType> accepted, String engine) {
        return toNDArray(manager, tensor, accepted, engine, null, true);
    }

    /**
     * A DJL array of the tensor, in {@code manager}, its values copied into {@code memory} (when given and the type
     * is a plain one: FP32, FP64, INT32, INT64, INT8, UINT8) rather than into direct memory allocated for the call.
     * The array uses that memory until it is closed: close it (its manager) before {@code memory} is used again.
     *
     * @param plainNames whether to name the array when the tensor's name is a plain word (letters, digits and
     *     underscores); names of any other form are always set
     */
    static NDArray toNDArray(NDManager manager, Tensor tensor, Set<DataType> accepted, String engine,
            InputMemory memory, boolean plainNames) {
        if (!accepted.contains(tensor.datatype())) {
            throw new InvalidInputException("input '" + tensor.name() + "' is " + tensor.datatype() + ", which the "
                    + engine + " engine cannot take; it takes " + accepted.stream().map(Enum::name).sorted().toList());
        }
        Shape shape = memory == null ? new Shape(tensor.shape()) : memory.shape(tensor.shape());
        NDArray array = memory == null ? null : copied(manager, tensor, shape, memory);
        if (array == null) {
            array = created(manager, tensor, shape);
        }
        String name = tensor.name();
        if (name != null && (plainNames || !plainWord(name))) {
            array.setName(name);
        }
        return array;
    }

    /**
     * Whether a name is a plain word ({@code \w+}: ASCII letters, digits, underscores). DJL's PyTorch engine reads
     * an input's name only to build structured TorchScript inputs ({@code a.b}, {@code a[]}, {@code a()},
     * {@code a(0,1)}, {@code a[0/b]}, {@code module_method:m}); a plain word (or the empty name) means a plain tensor
     * there, exactly as no name does, and costs it a regular-expression match per input.
     */
    static boolean plainWord(String name) {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_')) {
                return false;
            }
        }
        return true;
    }

    /** The array of a plain-typed tensor over {@code memory}; {@code null} for other types. */
    private static NDArray copied(NDManager manager, Tensor tensor, Shape shape, InputMemory memory) {
        ai.djl.ndarray.types.DataType type;
        ByteBuffer b;
        switch (tensor.datatype()) {
            case FP32 -> {
                float[] v = (float[]) tensor.data();
                b = memory.take(v.length * Float.BYTES);
                b.asFloatBuffer().put(v);
                type = ai.djl.ndarray.types.DataType.FLOAT32;
            }
            case FP64 -> {
                double[] v = (double[]) tensor.data();
                b = memory.take(v.length * Double.BYTES);
                b.asDoubleBuffer().put(v);
                type = ai.djl.ndarray.types.DataType.FLOAT64;
            }
            case INT32 -> {
                int[] v = (int[]) tensor.data();
                b = memory.take(v.length * Integer.BYTES);
                b.asIntBuffer().put(v);
                type = ai.djl.ndarray.types.DataType.INT32;
            }
            case INT64 -> {
                long[] v = (long[]) tensor.data();
                b = memory.take(v.length * Long.BYTES);
                b.asLongBuffer().put(v);
                type = ai.djl.ndarray.types.DataType.INT64;
            }
            case INT8, UINT8 -> {
                byte[] v = (byte[]) tensor.data();
                b = memory.take(v.length);
                b.put(0, v);
                type = tensor.datatype() == DataType.INT8 ? ai.djl.ndarray.types.DataType.INT8
                        : ai.djl.ndarray.types.DataType.UINT8;
            }
            default -> {
                return null;
            }
        }
        return manager.create(b, shape, type);
    }

    private static NDArray created(NDManager manager, Tensor tensor, Shape shape) {
        return switch (tensor.datatype()) {
            case FP32 -> manager.create((float[]) tensor.data(), shape);
            case FP16 -> manager.create(halves((float[]) tensor.data(), false), shape,
                    ai.djl.ndarray.types.DataType.FLOAT16);
            case FP64 -> manager.create((double[]) tensor.data(), shape);
            case INT32 -> manager.create((int[]) tensor.data(), shape);
            case INT64 -> manager.create((long[]) tensor.data(), shape);
            case INT8 -> manager.create((byte[]) tensor.data(), shape);
            case UINT8 -> manager.create(java.nio.ByteBuffer.wrap((byte[]) tensor.data()), shape,
                    ai.djl.ndarray.types.DataType.UINT8);
            case INT16 -> manager.create(bits((short[]) tensor.data()), shape, ai.djl.ndarray.types.DataType.INT16);
            case BOOL -> manager.create((boolean[]) tensor.data(), shape);
            case BF16 -> manager.create(halves((float[]) tensor.data(), true), shape,
                    ai.djl.ndarray.types.DataType.BFLOAT16);
            case UINT16 -> manager.create(bits((short[]) tensor.data()), shape, ai.djl.ndarray.types.DataType.UINT16);
            case UINT32 -> manager.create(bits((int[]) tensor.data()), shape, ai.djl.ndarray.types.DataType.UINT32);
            case UINT64 -> manager.create(bits((long[]) tensor.data()), shape, ai.djl.ndarray.types.DataType.UINT64);
            case BYTES -> manager.create((String[]) tensor.data(), StandardCharsets.UTF_8, shape);
        };
    }

    /**
     * Direct memory that one caller (one call at a time) reuses for its input arrays, instead of a direct buffer
     * allocated per array and call; and the shape of its last input, which a caller sending the same shape again
     * reuses. Grows to the largest call's inputs up to {@link #KEEP} bytes; a call needing more gets memory of its
     * own, as before.
     */
    static final class InputMemory {

        /** The most this keeps between calls. */
        static final int KEEP = 4 << 20;

        private ByteBuffer buffer;
        private int used;
        private long[] lastDims;
        private Shape lastShape;

        /** Makes the whole memory free again: every array over it must be closed by now. */
        void reset() {
            used = 0;
        }

        /** {@code bytes} of it, in native order, aligned to 8 bytes, not overlapping what was taken since reset. */
        ByteBuffer take(int bytes) {
            int start = (used + 7) & ~7;
            if (buffer == null || start + bytes > buffer.capacity()) {
                int capacity = Math.max(bytes, buffer == null ? 1024 : buffer.capacity() * 2);
                if (capacity > KEEP) {
                    return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
                }
                // Arrays taken earlier in this call keep the old buffer alive until they are closed.
                buffer = ByteBuffer.allocateDirect(capacity);
                start = 0;
            }
            used = start + bytes;
            return buffer.slice(start, bytes).order(ByteOrder.nativeOrder());
        }

        Shape shape(long[] dims) {
            if (lastShape == null || !java.util.Arrays.equals(dims, lastDims)) {
                lastDims = dims;
                lastShape = new Shape(dims);
            }
            return lastShape;
        }
    }

    static Tensor toTensor(String name, NDArray array) {
        long[] shape = array.getShape().getShape();
        return switch (array.getDataType()) {
            case FLOAT32 -> Tensor.of(name, DataType.FP32, shape, array.toFloatArray());
            case FLOAT16 -> Tensor.of(name, DataType.FP16, shape, asFloats(array, false));
            case BFLOAT16 -> Tensor.of(name, DataType.BF16, shape, asFloats(array, true));
            case FLOAT64 -> Tensor.of(name, DataType.FP64, shape, array.toDoubleArray());
            case INT32 -> Tensor.of(name, DataType.INT32, shape, array.toIntArray());
            case INT64 -> Tensor.of(name, DataType.INT64, shape, array.toLongArray());
            case INT8 -> Tensor.of(name, DataType.INT8, shape, array.toByteArray());
            case UINT8 -> Tensor.of(name, DataType.UINT8, shape, array.toByteArray());
            case INT16 -> Tensor.of(name, DataType.INT16, shape, shorts(array));
            case UINT16 -> Tensor.of(name, DataType.UINT16, shape, shorts(array));
            case UINT32 -> {
                int[] v = new int[Math.toIntExact(array.size())];
                array.toByteBuffer().order(ByteOrder.nativeOrder()).asIntBuffer().get(v);
                yield Tensor.of(name, DataType.UINT32, shape, v);
            }
            case UINT64 -> {
                long[] v = new long[Math.toIntExact(array.size())];
                array.toByteBuffer().order(ByteOrder.nativeOrder()).asLongBuffer().get(v);
                yield Tensor.of(name, DataType.UINT64, shape, v);
            }
            case BOOLEAN -> Tensor.of(name, DataType.BOOL, shape, array.toBooleanArray());
            case STRING -> Tensor.of(name, DataType.BYTES, shape, array.toStringArray());
            default -> throw new IllegalStateException("output '" + name + "' has unsupported type " + array.getDataType());
        };
    }

    private static float[] asFloats(NDArray array, boolean bf16) {
        short[] bits = shorts(array);
        float[] v = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            v[i] = bf16 ? HalfFloats.bf16ToFloat(bits[i]) : HalfFloats.halfToFloat(bits[i]);
        }
        return v;
    }

    private static ByteBuffer halves(float[] v, boolean bf16) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 2).order(ByteOrder.nativeOrder());
        for (float f : v) {
            b.putShort(bf16 ? HalfFloats.floatToBf16(f) : HalfFloats.floatToHalf(f));
        }
        return b.flip();
    }

    private static short[] shorts(NDArray array) {
        short[] v = new short[Math.toIntExact(array.size())];
        array.toByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer().get(v);
        return v;
    }

    private static ByteBuffer bits(short[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 2).order(ByteOrder.nativeOrder());
        b.asShortBuffer().put(v);
        return b;
    }

    private static ByteBuffer bits(int[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.nativeOrder());
        b.asIntBuffer().put(v);
        return b;
    }

    private static ByteBuffer bits(long[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 8).order(ByteOrder.nativeOrder());
        b.asLongBuffer().put(v);
        return b;
    }
}
