package io.fractal.api.inference;

/**
 * Text a client sent, or a library wrote, as an error message may show it to the client: bounded, without control
 * characters, and without the Java class and feature names a parser's message holds. Every bundle that answers a
 * client with such a message uses these, so they read alike.
 *
 * @since 1.2
 */
public final class ClientText {

    /** The most characters of client input a message quotes. */
    public static final int MAX_QUOTED = 64;

    private ClientText() {
    }

    /** Client input as a message quotes it: at most {@value #MAX_QUOTED} characters, control characters as '?'. */
    public static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_QUOTED) + 3);
        for (int i = 0; i < text.length() && i < MAX_QUOTED; i++) {
            char c = text.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return text.length() > MAX_QUOTED ? b.append("...").toString() : b.toString();
    }

    /**
     * A Jackson message without the Java names it may hold ({@code (bound as `...JsonNode`)},
     * {@code not allowed as per `DeserializationFeature...`}, {@code enable `JsonReadFeature...` to allow},
     * {@code from `StreamReadConstraints...`}, {@code (class io.fractal...)}, {@code `java.lang.String`}, a
     * reference chain).
     */
    public static String withoutJavaNames(String message) {
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
