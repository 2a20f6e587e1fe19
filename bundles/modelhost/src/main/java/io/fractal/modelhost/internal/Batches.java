package io.fractal.modelhost.internal;

import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.Tensor;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Putting requests together along the first (batch) dimension and taking the outputs apart again: the arithmetic of
 * dynamic batching, with no queue and no threads.
 */
final class Batches {

    private Batches() {
    }

    /**
     * The rows of a request: the first dimension its inputs share; 0 when it cannot take part in a batch (no
     * inputs, a scalar input, or inputs whose first dimensions differ).
     */
    static int rows(InferenceRequest request) {
        return rows(request.inputs());
    }

    /** The rows of a call's inputs, as {@link #rows(InferenceRequest)}. */
    static int rows(List<Tensor> inputs) {
        if (inputs.isEmpty()) {
            return 0;
        }
        long rows = -1;
        for (Tensor t : inputs) {
            long[] shape = t.shape();
            if (shape.length == 0 || (rows >= 0 && shape[0] != rows)) {
                return 0;
            }
            rows = shape[0];
        }
        return rows > Integer.MAX_VALUE ? 0 : (int) rows;
    }

    /** How many elements the tensors hold in all. */
    static long elements(List<Tensor> tensors) {
        long n = 0;
        for (Tensor t : tensors) {
            n += t.size();
        }
        return n;
    }

    /**
     * Whether two requests can be one engine call: the same inputs in the same order (names, datatypes), with the same
     * shape past the first dimension, and the same outputs asked for.
     */
    static boolean compatible(InferenceRequest a, InferenceRequest b) {
        List<Tensor> x = a.inputs();
        List<Tensor> y = b.inputs();
        if (x.size() != y.size() || !a.outputs().equals(b.outputs())) {
            return false;
        }
        for (int i = 0; i < x.size(); i++) {
            Tensor s = x.get(i);
            Tensor t = y.get(i);
            if (s.datatype() != t.datatype() || !s.name().equals(t.name())) {
                return false;
            }
            long[] p = s.shape();
            long[] q = t.shape();
            if (p.length != q.length || p.length == 0
                    || !Arrays.equals(p, 1, p.length, q, 1, q.length)) {
                return false;
            }
        }
        return true;
    }

    /** The inputs of compatible requests, each joined along the first dimension in the requests' order. */
    static List<Tensor> join(List<InferenceRequest> requests) {
        List<Tensor> first = requests.get(0).inputs();
        List<Tensor> joined = new ArrayList<>(first.size());
        for (int i = 0; i < first.size(); i++) {
            Tensor head = first.get(i);
            long rows = 0;
            int length = 0;
            for (InferenceRequest r : requests) {
                Tensor t = r.inputs().get(i);
                rows += t.shape()[0];
                length += t.size();
            }
            Object data = Array.newInstance(head.data().getClass().getComponentType(), length);
            int at = 0;
            for (InferenceRequest r : requests) {
                Tensor t = r.inputs().get(i);
                int n = t.size();
                System.arraycopy(t.data(), 0, data, at, n);
                at += n;
            }
            long[] shape = head.shape();
            shape[0] = rows;
            joined.add(Tensor.of(head.name(), head.datatype(), shape, data));
        }
        return joined;
    }

    /**
     * The outputs of one engine call taken apart by rows: element {@code j} holds request {@code j}'s rows of every
     * output. Null when an output does not have the batch's rows as its first dimension (the model does not batch
     * along it): the requests must then run one by one.
     */
    static List<List<Tensor>> split(List<Tensor> outputs, int[] rows) {
        long total = 0;
        for (int r : rows) {
            total += r;
        }
        for (Tensor t : outputs) {
            long[] shape = t.shape();
            if (shape.length == 0 || shape[0] != total || (total > 0 && t.size() % total != 0)) {
                return null;
            }
        }
        List<List<Tensor>> out = new ArrayList<>(rows.length);
        for (int j = 0; j < rows.length; j++) {
            out.add(new ArrayList<>(outputs.size()));
        }
        for (Tensor t : outputs) {
            int perRow = total == 0 ? 0 : (int) (t.size() / total);
            long[] shape = t.shape();
            Class<?> component = t.data().getClass().getComponentType();
            int at = 0;
            for (int j = 0; j < rows.length; j++) {
                int n = rows[j] * perRow;
                Object part = Array.newInstance(component, n);
                System.arraycopy(t.data(), at, part, 0, n);
                at += n;
                long[] partShape = shape.clone();
                partShape[0] = rows[j];
                out.get(j).add(Tensor.of(t.name(), t.datatype(), partShape, part));
            }
        }
        return out;
    }
}
