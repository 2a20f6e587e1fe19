package io.fractal.modelhost.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ModelFilterTest {

    @Test
    void starMatchesEveryModel() {
        ModelFilter f = new ModelFilter("*");
        assertTrue(f.matches("iris"));
        assertTrue(f.matches("digits-v2.onnx"));
        assertTrue(f.matches(""));
    }

    @Test
    void noFilterMeansEveryModel() {
        assertTrue(new ModelFilter(null).matches("iris"));
        assertTrue(new ModelFilter("  ").matches("iris"));
        assertEquals("*", new ModelFilter(null).toString());
    }

    @Test
    void aPrefixGlob() {
        ModelFilter f = new ModelFilter("iris*");
        assertTrue(f.matches("iris"));
        assertTrue(f.matches("iris-large"));
        assertFalse(f.matches("digits"));
        assertFalse(f.matches("my-iris"));
    }

    @Test
    void anExactNameMatchesOnlyItself() {
        ModelFilter f = new ModelFilter("iris");
        assertTrue(f.matches("iris"));
        assertFalse(f.matches("iris2"));
        assertFalse(f.matches("iri"));
    }

    @Test
    void questionMarkIsOneCharacter() {
        ModelFilter f = new ModelFilter("model-?");
        assertTrue(f.matches("model-a"));
        assertTrue(f.matches("model-7"));
        assertFalse(f.matches("model-"));
        assertFalse(f.matches("model-10"));
    }

    @Test
    void commaSeparatedGlobsTrimmed() {
        ModelFilter f = new ModelFilter(" iris* , digits ");
        assertTrue(f.matches("iris"));
        assertTrue(f.matches("iris-2"));
        assertTrue(f.matches("digits"));
        assertFalse(f.matches("digits2"));
        assertFalse(f.matches("adder"));
        assertEquals("iris* , digits", f.toString());
    }

    @Test
    void otherCharactersAreLiteral() {
        ModelFilter f = new ModelFilter("a.b+c");
        assertTrue(f.matches("a.b+c"));
        assertFalse(f.matches("axb+c"));
        assertFalse(f.matches("a.bbc"));
        assertFalse(new ModelFilter("[ab]").matches("a"));
    }
}
