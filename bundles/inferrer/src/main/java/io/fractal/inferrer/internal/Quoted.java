package io.fractal.inferrer.internal;

/** Client input as an error message quotes it: at most 64 characters, control characters as '?'. */
final class Quoted {

    static final int MAX = 64;

    private Quoted() {
    }

    static String of(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX) + 3);
        for (int i = 0; i < text.length() && i < MAX; i++) {
            char c = text.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return text.length() > MAX ? b.append("...").toString() : b.toString();
    }
}
