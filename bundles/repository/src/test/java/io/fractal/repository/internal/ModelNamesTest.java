package io.fractal.repository.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.InvalidInputException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class ModelNamesTest {

    @ParameterizedTest
    @ValueSource(strings = {"iris", "Iris2", "digits-v2", "resnet_50", "model.v1", "7up", "a"})
    void acceptsPlainNames(String name) {
        assertTrue(ModelNames.isValid(name));
        assertEquals(name, ModelNames.check(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"..", "../etc", "a/b", "a\\b", "/etc", "/etc/passwd", ".hidden", "a..b", "-rf", "_x",
        "a b", " iris", "iris ", "iris:1", "iris\n", "caf\u00e9", "a*", "~root"})
    void rejectsPathTricksAndOddCharacters(String name) {
        assertFalse(ModelNames.isValid(name));
    }

    @ParameterizedTest
    @NullAndEmptySource
    void rejectsNothing(String name) {
        assertFalse(ModelNames.isValid(name));
    }

    @ParameterizedTest
    @ValueSource(ints = {128})
    void acceptsUpTo128Characters(int length) {
        assertTrue(ModelNames.isValid("m".repeat(length)));
    }

    @ParameterizedTest
    @ValueSource(ints = {129, 200})
    void rejectsLongerNames(int length) {
        assertFalse(ModelNames.isValid("m".repeat(length)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../etc"})
    void checkNamesTheRuleInItsMessage(String name) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> ModelNames.check(name));
        assertEquals("invalid model name '../etc': use 1 to 128 letters, digits, '-', '_' or '.', starting with a "
                + "letter or digit", e.getMessage());
    }
}
