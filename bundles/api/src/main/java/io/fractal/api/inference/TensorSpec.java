package io.fractal.api.inference;

import java.util.Arrays;

/**
 * The declared name, datatype and shape of one model input or output; {@code -1} marks a dimension of any
 * size (usually the batch).
 */
public record TensorSpec(String name, DataType datatype, long[] shape) {

    public TensorSpec {
        shape = shape == null ? null : shape.clone();
    }

    /** Whether the datatype and the shape are both known. @since 1.2 */
    public boolean known() {
        return datatype != null && shape != null;
    }

    /** Whether {@code actual} fits this shape: same rank, and equal sizes where this one is fixed. */
    public boolean accepts(long[] actual) {
        if (shape == null) {
            return true;
        }
        if (actual.length != shape.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] >= 0 && shape[i] != actual[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public long[] shape() {
        return shape == null ? null : shape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && java.util.Objects.equals(name, t.name) && datatype == t.datatype
                && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(name, datatype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + (datatype == null ? "" : ":" + datatype) + (shape == null ? "" : Arrays.toString(shape));
    }
}
