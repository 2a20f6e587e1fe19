package io.fractal.engine.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TensorConversionTest {

    /** Names DJL's PyTorch engine reads as structure must reach it; plain words mean nothing to it. */
    @Test
    void plainWordsAreLettersDigitsAndUnderscoresOnly() {
        for (String plain : new String[] {"input", "INPUT__0", "x1", "_", ""}) {
            assertTrue(TensorConversion.plainWord(plain), plain);
        }
        for (String structured : new String[] {"a.b", "a[]", "a()", "a(0,1)", "a[0/b]", "module_method:m", "é", "a-b"}) {
            assertFalse(TensorConversion.plainWord(structured), structured);
        }
    }

    @Test
    void inputMemoryHandsOutDisjointAlignedNativeOrderSlicesAndIsReusedAfterReset() {
        TensorConversion.InputMemory memory = new TensorConversion.InputMemory();
        ByteBuffer a = memory.take(12);
        ByteBuffer b = memory.take(16);
        assertTrue(a.isDirect() && b.isDirect());
        assertEquals(ByteOrder.nativeOrder(), a.order());
        assertEquals(12, a.remaining());
        assertEquals(16, b.remaining());
        a.asFloatBuffer().put(new float[] {1, 2, 3});
        b.asFloatBuffer().put(new float[] {4, 5, 6, 7});
        assertEquals(1f, a.getFloat(0));
        assertEquals(3f, a.getFloat(8)); // b starts at 16, past a's 12 bytes
        memory.reset();
        ByteBuffer c = memory.take(12);
        assertEquals(1f, c.getFloat(0), "the same memory again after a reset");
    }

    @Test
    void inputMemoryGrowsAndLeavesHugeInputsToMemoryOfTheirOwn() {
        TensorConversion.InputMemory memory = new TensorConversion.InputMemory();
        ByteBuffer small = memory.take(8);
        small.putLong(0, 42);
        ByteBuffer big = memory.take(100_000); // does not fit: a bigger buffer; the first slice keeps the old one
        assertEquals(42, small.getLong(0));
        assertEquals(100_000, big.remaining());
        memory.reset();
        ByteBuffer huge = memory.take(TensorConversion.InputMemory.KEEP + 8);
        assertEquals(TensorConversion.InputMemory.KEEP + 8, huge.capacity(), "a one-off buffer");
        memory.reset();
        ByteBuffer again = memory.take(100_000);
        assertEquals(100_000, again.remaining());
        assertNotSame(huge, again);
    }

    @Test
    void aRepeatedShapeIsReused() {
        TensorConversion.InputMemory memory = new TensorConversion.InputMemory();
        var first = memory.shape(new long[] {1, 4});
        assertSame(first, memory.shape(new long[] {1, 4}));
        assertEquals(new ai.djl.ndarray.types.Shape(2, 4), memory.shape(new long[] {2, 4}));
    }
}
