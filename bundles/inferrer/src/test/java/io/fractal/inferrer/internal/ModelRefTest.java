package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.fractal.api.inference.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelRefTest {

    @Test
    void aNameAloneMeansTheDefaultVersion() {
        assertEquals(new ModelRef("iris", null), ModelRef.parse("iris"));
    }

    @Test
    void aNameWithAVersion() {
        assertEquals(new ModelRef("iris", 3), ModelRef.parse("iris:3"));
        assertEquals(new ModelRef("digits-v2.onnx", 12), ModelRef.parse("digits-v2.onnx:12"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"iris:x", "iris:0", "iris:-1", "iris:", "iris:1.5", "iris:99999999999"})
    void anInvalidVersionIsBadInput(String text) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> ModelRef.parse(text));
        assertEquals("invalid model version '" + text.substring(text.lastIndexOf(':') + 1)
                + "': versions are positive integers", e.getMessage());
    }

    @Test
    void versionAloneParsesQueryParameters() {
        assertNull(ModelRef.version(null));
        assertEquals(2, ModelRef.version("2"));
        assertThrows(InvalidInputException.class, () -> ModelRef.version("two"));
    }
}
