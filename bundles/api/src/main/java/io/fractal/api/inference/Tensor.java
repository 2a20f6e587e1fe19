package io.fractal.api.inference;

import java.lang.reflect.Array;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named, typed, shaped block of numbers: one input or output of a model. The data is a flat, row-major
 * primitive array whose class is {@link DataType#storage()}. Tensors are immutable by convention: the array is
 * not copied, so neither side may change it after construction.
 */
public final class Tensor {
    private final String name;
    private final DataType datatype;
    private final long[] shape;
    private final Object data;

    private Tensor(String name, DataType datatype, long[] shape, Object data) {
        this.name = name;
        this.datatype = datatype;
        this.shape = shape;
        this.data = data;
    }

    /**
     * @throws IllegalArgumentException when the array class does not match the datatype, a dimension is
     *         negative, or the element count is not the product of the shape
     */
    public static Tensor of(String name, DataType datatype, long[] shape, Object data) {
        Objects.requireNonNull(datatype, "datatype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(data, "data");
        if (data.getClass() != datatype.storage()) {
            throw new IllegalArgumentException("data of " + datatype + " must be " + datatype.storage().getSimpleName()
                    + ", not " + data.getClass().getSimpleName());
        }
        long expected = elementCount(shape);
        int length = Array.getLength(data);
        if (expected != length) {
            throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(shape) + " ("
                    + expected + " elements) but " + length + " data elements");
        }
        return new Tensor(name, datatype, shape.clone(), data);
    }

    /** The product of the dimensions. */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The same data under another name. */
    public Tensor withName(String newName) {
        return new Tensor(newName, datatype, shape, data);
    }

    /** The same data in another shape with the same element count. */
    public Tensor reshape(long[] newShape) {
        return of(name, datatype, newShape, data);
    }

    public String name() {
        return name;
    }

    public DataType datatype() {
        return datatype;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** The flat, row-major element array; its class is {@code datatype().storage()}. Do not modify. */
    public Object data() {
        return data;
    }

    public int size() {
        return Array.getLength(data);
    }

    /** Element {@code i} of the flat data as a double (booleans as 0 and 1). */
    public double getDouble(int i) {
        return switch (datatype) {
            case BOOL -> ((boolean[]) data)[i] ? 1 : 0;
            case UINT8 -> ((byte[]) data)[i] & 0xff;
            case INT8 -> ((byte[]) data)[i];
            case INT16 -> ((short[]) data)[i];
            case INT32 -> ((int[]) data)[i];
            case INT64 -> ((long[]) data)[i];
            case UINT16 -> ((short[]) data)[i] & 0xffff;
            case UINT32 -> ((int[]) data)[i] & 0xffffffffL;
            case UINT64 -> unsigned(((long[]) data)[i]);
            case FP16, BF16, FP32 -> ((float[]) data)[i];
            case FP64 -> ((double[]) data)[i];
            case BYTES -> throw new UnsupportedOperationException("BYTES tensor '" + name + "' is not numeric");
        };
    }

    private static double unsigned(long bits) {
        double d = (double) (bits >>> 1) * 2.0;
        return bits >= 0 ? bits : d + (bits & 1);
    }

    /** The elements converted to {@code float}. */
    public float[] toFloats() {
        if (data instanceof float[] f) {
            return f;
        }
        float[] out = new float[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) getDouble(i);
        }
        return out;
    }

    /** The elements converted to {@code double}. */
    public double[] toDoubles() {
        if (data instanceof double[] d) {
            return d;
        }
        double[] out = new double[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getDouble(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + datatype + ", " + Arrays.toString(shape) + "]";
    }
}
