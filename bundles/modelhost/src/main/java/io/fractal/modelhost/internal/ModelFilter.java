package io.fractal.modelhost.internal;

import java.util.regex.Pattern;

/** Comma-separated globs on model names ({@code *} any characters, {@code ?} one). */
final class ModelFilter {

    private final String text;
    private final Pattern pattern;

    ModelFilter(String text) {
        this.text = text == null || text.isBlank() ? "*" : text.trim();
        StringBuilder regex = new StringBuilder();
        for (String glob : this.text.split(",")) {
            if (regex.length() > 0) {
                regex.append('|');
            }
            StringBuilder part = new StringBuilder();
            for (char c : glob.trim().toCharArray()) {
                switch (c) {
                    case '*' -> part.append(".*");
                    case '?' -> part.append('.');
                    default -> part.append(Pattern.quote(String.valueOf(c)));
                }
            }
            regex.append("(?:").append(part).append(')');
        }
        this.pattern = Pattern.compile(regex.toString());
    }

    boolean matches(String model) {
        return pattern.matcher(model).matches();
    }

    @Override
    public String toString() {
        return text;
    }
}
