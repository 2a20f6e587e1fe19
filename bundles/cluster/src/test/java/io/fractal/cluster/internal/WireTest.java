package io.fractal.cluster.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WireTest {

    @Test
    void requestRoundTripKeepsEveryDatatype() {
        List<Tensor> inputs = List.of(
                Tensor.of("f", DataType.FP32, new long[] {2, 2}, new float[] {1.5f, -2f, Float.NaN, 3e-9f}),
                Tensor.of("d", DataType.FP64, new long[] {1}, new double[] {Math.PI}),
                Tensor.of("i", DataType.INT64, new long[] {3}, new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}),
                Tensor.of("b", DataType.BOOL, new long[] {2}, new boolean[] {true, false}),
                Tensor.of("u", DataType.UINT8, new long[] {2}, new byte[] {(byte) 255, 1}),
                Tensor.of("s", DataType.INT16, new long[] {1}, new short[] {-7}),
                Tensor.of("n", DataType.INT32, new long[] {0}, new int[0]),
                Tensor.of(null, DataType.BYTES, new long[] {2}, new String[] {"é", ""}));
        InferenceRequest r = new InferenceRequest("id-1", "iris", 3, inputs, Set.of("probabilities"), 0);
        InferenceRequest back = Wire.decodeRequest(Wire.encode(r));
        assertEquals("id-1", back.id());
        assertEquals("iris", back.model());
        assertEquals(3, back.version());
        assertEquals(Set.of("probabilities"), back.outputs());
        assertEquals(inputs.size(), back.inputs().size());
        for (int i = 0; i < inputs.size(); i++) {
            Tensor a = inputs.get(i);
            Tensor b = back.inputs().get(i);
            assertEquals(a.name(), b.name());
            assertEquals(a.datatype(), b.datatype());
            assertArrayEquals(a.shape(), b.shape());
            assertEquals(Arrays.deepToString(new Object[] {a.data()}), Arrays.deepToString(new Object[] {b.data()}));
        }
    }

    @Test
    void responseRoundTrip() {
        InferenceResponse r = new InferenceResponse(null, "m", 1, List.of(Tensor.of("p", DataType.FP32,
                new long[] {1, 3}, new float[] {0.1f, 0.2f, 0.7f})), "mh1", 12, 34);
        InferenceResponse back = Wire.decodeResponse(Wire.encode(r));
        assertEquals("mh1", back.modelhost());
        assertEquals(12, back.queueNanos());
        assertEquals(34, back.inferenceNanos());
        assertArrayEquals(new float[] {0.1f, 0.2f, 0.7f}, (float[]) back.outputs().get(0).data());
    }

    @Test
    void hostileBodiesAreRefusedWithoutAllocatingTheirClaims() {
        byte[] good = Wire.encode(InferenceRequest.of("m", 1, List.of(Tensor.of("x", DataType.FP32,
                new long[] {4}, new float[4]))));
        assertThrows(IllegalArgumentException.class, () -> Wire.decodeRequest(new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> Wire.decodeRequest(new byte[] {1, 2, 3, 4, 5}));
        assertThrows(IllegalArgumentException.class, () -> Wire.decodeRequest(Arrays.copyOf(good, good.length - 1)));
        assertThrows(IllegalArgumentException.class, () -> Wire.decodeRequest(Arrays.copyOf(good, good.length + 1)));
        assertThrows(IllegalArgumentException.class, () -> Wire.decodeResponse(good));
        Random random = new Random(12);
        for (int i = 0; i < 2000; i++) {
            byte[] bad = good.clone();
            bad[random.nextInt(bad.length)] = (byte) random.nextInt();
            try {
                Wire.decodeRequest(bad);
            } catch (IllegalArgumentException | ArithmeticException expected) {
                // refused
            }
        }
    }
}
