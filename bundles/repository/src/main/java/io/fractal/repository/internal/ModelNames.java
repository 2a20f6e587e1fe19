package io.fractal.repository.internal;

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
            throw new InvalidInputException("invalid model name '" + quoted(name) + "': use 1 to 128 letters, digits, "
                    + "'-', '_' or '.', starting with a letter or digit");
        }
        return name;
    }

    /** Client input as a message quotes it: at most 64 characters, control characters as '?'. */
    static String quoted(String text) {
        if (text == null) {
            return "null";
        }
        String shown = text.length() > 64 ? text.substring(0, 64) + "..." : text;
        return shown.replaceAll("\\p{Cntrl}", "?");
    }

    /** A Jackson message without the Java class and feature names it may hold. */
    static String withoutJavaNames(String message) {
        if (message == null) {
            return "";
        }
        return message.replaceAll(" \\(bound as `[^`]*`\\)", "")
                .replaceAll(": not allowed as per `[^`]*`", "")
                .replaceAll(": enable `[^`]*` to allow", "")
                .replaceAll(", from `[^`]*`", "")
                .replaceAll(" ?\\(class [\\w$.]+\\)", "")
                .replaceAll("`(?:[\\w$]+\\.)+([\\w$]+)[^`]*`", "$1")
                .replaceAll("`[^`]*`", "")
                .replaceAll("\\s*\\(through reference chain:[^)]*\\)", "");
    }
}
