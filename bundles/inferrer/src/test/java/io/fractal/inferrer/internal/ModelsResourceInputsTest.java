package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How v1 {@code values} become the model's input tensor, with and without a declared shape. */
class ModelsResourceInputsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void withoutASignatureAnImageIsOneObservationAndGetsTheBatchDimension() throws Exception {
        StringBuilder image = new StringBuilder("[[");
        for (int r = 0; r < 8; r++) {
            image.append(r == 0 ? "" : ",").append("[0,1,2,3,4,5,6,7]");
        }
        image.append("]]"); // [1, 8, 8]: one channel of 8x8, as the digits CNN takes it

        boolean[] single = new boolean[1];
        Tensor t = ModelsResource.inputs(JSON.readTree(image.toString()), ModelSignature.UNKNOWN, single).get(0);

        assertArrayEquals(new long[] {1, 1, 8, 8}, t.shape());
        assertEquals(true, single[0]);
        assertEquals(7.0, t.getDouble(63));

        boolean[] batch = new boolean[1];
        Tensor images = ModelsResource.inputs(JSON.readTree("[" + image + "," + image + "]"), ModelSignature.UNKNOWN,
                batch).get(0);
        assertArrayEquals(new long[] {2, 1, 8, 8}, images.shape());
        assertEquals(false, batch[0]);
    }

    @Test
    void withoutASignatureARowIsOneObservationAndRowsAreABatch() throws Exception {
        boolean[] single = new boolean[1];
        Tensor row = ModelsResource.inputs(JSON.readTree("[5.1, 3.5, 1.4, 0.2]"), ModelSignature.UNKNOWN, single)
                .get(0);
        assertArrayEquals(new long[] {1, 4}, row.shape());
        assertEquals(true, single[0]);

        boolean[] batch = new boolean[1];
        Tensor rows = ModelsResource.inputs(JSON.readTree("[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]"),
                ModelSignature.UNKNOWN, batch).get(0);
        assertArrayEquals(new long[] {2, 4}, rows.shape());
        assertEquals(false, batch[0]);
    }

    @Test
    void aDeclaredShapeDecidesByItsRank() throws Exception {
        ModelSignature digits = new ModelSignature(List.of(new TensorSpec("image", DataType.FP32,
                new long[] {-1, 1, 8, 8})), List.of(), List.of());
        boolean[] single = new boolean[1];
        Tensor batch = ModelsResource.inputs(JSON.readTree("[[[[1,2],[3,4]]]]"), digits, single).get(0);
        assertArrayEquals(new long[] {1, 1, 2, 2}, batch.shape());
        assertEquals(false, single[0]);
    }
}
