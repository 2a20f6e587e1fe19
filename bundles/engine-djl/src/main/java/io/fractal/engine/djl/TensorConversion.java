package io.fractal.engine.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;

/** Converts between Fractal tensors and DJL arrays. */
final class TensorConversion {

    private TensorConversion() {
    }

    static NDArray toNDArray(NDManager manager, Tensor tensor) {
        Shape shape = new Shape(tensor.shape());
        NDArray array = switch (tensor.datatype()) {
            case FP32 -> manager.create((float[]) tensor.data(), shape);
            case FP16 -> manager.create((float[]) tensor.data(), shape).toType(ai.djl.ndarray.types.DataType.FLOAT16, false);
            case FP64 -> manager.create((double[]) tensor.data(), shape);
            case INT32 -> manager.create((int[]) tensor.data(), shape);
            case INT64 -> manager.create((long[]) tensor.data(), shape);
            case INT8 -> manager.create((byte[]) tensor.data(), shape);
            case UINT8 -> manager.create(java.nio.ByteBuffer.wrap((byte[]) tensor.data()), shape,
                    ai.djl.ndarray.types.DataType.UINT8);
            case INT16 -> manager.create(toInts((short[]) tensor.data()), shape)
                    .toType(ai.djl.ndarray.types.DataType.INT16, false);
            case BOOL -> manager.create((boolean[]) tensor.data(), shape);
            case BF16 -> manager.create((float[]) tensor.data(), shape).toType(ai.djl.ndarray.types.DataType.BFLOAT16, false);
            case BYTES, UINT16, UINT32, UINT64 -> throw new InvalidInputException("input '" + tensor.name() + "': "
                    + tensor.datatype() + " tensors are not supported by this engine");
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
            case FLOAT16, BFLOAT16 -> Tensor.of(name, DataType.FP32, shape,
                    array.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
            case FLOAT64 -> Tensor.of(name, DataType.FP64, shape, array.toDoubleArray());
            case INT32 -> Tensor.of(name, DataType.INT32, shape, array.toIntArray());
            case INT64 -> Tensor.of(name, DataType.INT64, shape, array.toLongArray());
            case INT8 -> Tensor.of(name, DataType.INT8, shape, array.toByteArray());
            case UINT8 -> Tensor.of(name, DataType.UINT8, shape, array.toByteArray());
            case INT16, UINT16 -> Tensor.of(name, DataType.INT32, shape,
                    array.toType(ai.djl.ndarray.types.DataType.INT32, false).toIntArray());
            case BOOLEAN -> Tensor.of(name, DataType.BOOL, shape, array.toBooleanArray());
            case STRING -> Tensor.of(name, DataType.BYTES, shape, array.toStringArray());
            default -> throw new IllegalStateException("output '" + name + "' has unsupported type " + array.getDataType());
        };
    }

    private static int[] toInts(short[] s) {
        int[] out = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            out[i] = s[i];
        }
        return out;
    }
}
