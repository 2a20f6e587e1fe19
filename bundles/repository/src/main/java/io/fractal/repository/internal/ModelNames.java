package io.fractal.repository.internal;

import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.InvalidInputException;
import java.util.regex.Pattern;

/** Model names: letters, digits, '-', '_' and '.', starting with a letter or digit; nothing a path could abuse. */
final class ModelNames {

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private ModelNames() {
    }

    static boolean isValid(String name) {
        return name != null && VALID.matcher(name).matches() && !name.contains("..");
    }

    static String check(String name) {
        if (!isValid(name)) {
            throw new InvalidInputException("invalid model name '" + ClientText.quote(name) + "': use 1 to 128 letters, digits, "
                    + "'-', '_' or '.', starting with a letter or digit");
        }
        return name;
    }

}
