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
        if (!accepted.contains(tensor.datatype())) {
            throw new InvalidInputException("input '" + tensor.name() + "' is " + tensor.datatype() + ", which the "
                    + engine + " engine cannot take; it takes " + accepted.stream().map(Enum::name).sorted().toList());
        }
        Shape shape = new Shape(tensor.shape());
        NDArray array = switch (tensor.datatype()) {
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
        if (tensor.name() != null) {
            array.setName(tensor.name());
        }
        return array;
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
