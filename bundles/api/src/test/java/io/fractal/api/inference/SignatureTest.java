package io.fractal.api.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link TensorSpec#accepts} and {@link ModelSignature#orElse}. */
class SignatureTest {

    private static final TensorSpec INPUT = new TensorSpec("input", DataType.FP32, new long[] {-1, 4});
    private static final TensorSpec OUTPUT = new TensorSpec("probabilities", DataType.FP32, new long[] {-1, 3});

    @Test
    void aSpecAcceptsAnySizeWhereItSaysMinusOne() {
        assertTrue(INPUT.accepts(new long[] {1, 4}));
        assertTrue(INPUT.accepts(new long[] {1000, 4}));
        assertTrue(INPUT.accepts(new long[] {0, 4}));
    }

    @Test
    void aSpecRejectsAnotherFixedSizeOrRank() {
        assertFalse(INPUT.accepts(new long[] {1, 3}));
        assertFalse(INPUT.accepts(new long[] {4}));
        assertFalse(INPUT.accepts(new long[] {1, 4, 1}));
        assertFalse(INPUT.accepts(new long[] {}));
    }

    @Test
    void aSpecWithoutShapeAcceptsAnything() {
        TensorSpec any = new TensorSpec("x", DataType.FP32, null);
        assertTrue(any.accepts(new long[] {}));
        assertTrue(any.accepts(new long[] {7, 7, 7}));
    }

    @Test
    void specsCompareByValueAndKeepTheirShape() {
        long[] shape = {-1, 4};
        TensorSpec a = new TensorSpec("input", DataType.FP32, shape);
        shape[1] = 5;
        a.shape()[0] = 9;
        assertArrayEquals(new long[] {-1, 4}, a.shape());
        assertEquals(INPUT, a);
        assertEquals(INPUT.hashCode(), a.hashCode());
        assertNotEquals(INPUT, new TensorSpec("input", DataType.FP64, new long[] {-1, 4}));
        assertNotEquals(INPUT, new TensorSpec("input", DataType.FP32, new long[] {1, 4}));
        assertEquals("input:FP32[-1, 4]", INPUT.toString());
    }

    @Test
    void orElseFillsEachEmptyPartFromTheOther() {
        ModelSignature declared = new ModelSignature(List.of(INPUT), List.of(), List.of("a", "b", "c"));
        TensorSpec readInput = new TensorSpec("x", DataType.FP32, new long[] {1, 4});
        ModelSignature read = new ModelSignature(List.of(readInput), List.of(OUTPUT), List.of("z"));
        ModelSignature merged = declared.orElse(read);
        assertEquals(List.of(INPUT), merged.inputs());
        assertEquals(List.of(OUTPUT), merged.outputs());
        assertEquals(List.of("a", "b", "c"), merged.labels());
    }

    @Test
    void orElseOfUnknownIsTheOther() {
        ModelSignature read = new ModelSignature(List.of(INPUT), List.of(OUTPUT), null);
        assertEquals(read, ModelSignature.UNKNOWN.orElse(read));
        assertTrue(ModelSignature.UNKNOWN.orElse(read).hasInputs());
        assertFalse(ModelSignature.UNKNOWN.hasInputs());
    }

    @Test
    void orElseOfNullIsItself() {
        ModelSignature s = new ModelSignature(List.of(INPUT), null, null);
        assertSame(s, s.orElse(null));
        assertEquals(List.of(), s.outputs());
        assertEquals(List.of(), s.labels());
    }
}
