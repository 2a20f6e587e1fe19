package io.fractal.extender.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The {@value #NAME} manifest header of a model bundle: a list of clauses, each a model name and the
 * {@code path} of the model in the bundle, in the OSGi common header syntax:
 *
 * <pre>
 * Fractal-Model: iris;path=models/iris, adder;path=models/adder.pt
 * </pre>
 *
 * <p>{@code path} names either a model file or a folder holding {@code model.json} and the model file. Values may be
 * quoted; a leading {@code /} is ignored. A bad clause (no valid name, no path, a path that leaves the bundle root, a
 * name given twice) is reported and skipped; the other clauses still count.
 */
final class ModelHeader {

    /** The manifest header. */
    static final String NAME = "Fractal-Model";
    /** The attribute that names the model's file or folder in the bundle. */
    static final String PATH = "path";

    /** The same rule as the repository's: letters, digits, '-', '_' and '.', starting with a letter or digit. */
    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** One model a bundle carries. */
    record Clause(String model, String path) {
    }

    private ModelHeader() {
    }

    /**
     * Parses the header's value.
     *
     * @param value    the header, or null when the bundle has none
     * @param problems receives a message, naming the clause, for each clause skipped and each attribute ignored
     * @return the valid clauses, in header order, each model at most once
     */
    static List<Clause> parse(String value, Consumer<String> problems) {
        List<Clause> clauses = new ArrayList<>();
        if (value == null) {
            return clauses;
        }
        Set<String> models = new HashSet<>();
        for (String text : split(value, ',', problems)) {
            if (text.isBlank()) {
                continue; // "a;path=x," - nothing to skip
            }
            try {
                Clause clause = clause(text, problems);
                if (!models.add(clause.model())) {
                    throw new IllegalArgumentException("model '" + clause.model() + "' is named twice");
                }
                clauses.add(clause);
            } catch (IllegalArgumentException e) {
                problems.accept("clause '" + text.trim() + "' skipped: " + e.getMessage());
            }
        }
        return clauses;
    }

    private static Clause clause(String text, Consumer<String> problems) {
        List<String> parts = split(text, ';', null);
        String model = unquote(parts.get(0).trim());
        if (model.contains("=")) {
            throw new IllegalArgumentException("it must start with the model name");
        }
        if (!MODEL_NAME.matcher(model).matches() || model.contains("..")) {
            throw new IllegalArgumentException("invalid model name '" + model + "' (1 to 128 letters, digits, '-', '_' "
                    + "or '.', starting with a letter or digit)");
        }
        String path = null;
        List<String> unknown = new ArrayList<>();
        for (String parameter : parts.subList(1, parts.size())) {
            int eq = parameter.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("'" + parameter.trim() + "' is not a key=value attribute "
                        + "(one model name per clause)");
            }
            String key = parameter.substring(0, eq).trim();
            boolean directive = key.endsWith(":");
            if (directive) {
                continue; // key:=value: no directives are defined yet
            }
            int colon = key.indexOf(':'); // a typed attribute, path:String=...
            if (colon >= 0) {
                key = key.substring(0, colon).trim();
            }
            if (PATH.equals(key)) {
                if (path != null) {
                    throw new IllegalArgumentException("path is given twice");
                }
                path = path(unquote(parameter.substring(eq + 1).trim()));
            } else {
                unknown.add(key);
            }
        }
        if (path == null) {
            throw new IllegalArgumentException("no path attribute"
                    + (unknown.isEmpty() ? "" : " (unknown attributes: " + String.join(", ", unknown) + ")"));
        }
        unknown.forEach(key -> problems.accept("clause '" + text.trim() + "': unknown attribute '" + key + "' ignored"));
        return new Clause(model, path);
    }

    /** An entry path of the bundle, without leading or trailing '/'; never outside the bundle root. */
    private static String path(String value) {
        String path = value;
        while (path.startsWith("/")) {
            path = path.substring(1);
        }
        while (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        if (path.isEmpty()) {
            throw new IllegalArgumentException("empty path");
        }
        if (path.contains("\\")) {
            throw new IllegalArgumentException("path '" + value + "' must use '/'");
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("path '" + value + "' must be a plain path inside the bundle");
            }
        }
        return path;
    }

    /**
     * Splits on a separator outside double quotes. With {@code problems}, an unterminated quote is reported and
     * the text from the last separator on dropped; without, it is an {@link IllegalArgumentException}.
     */
    private static List<String> split(String text, char separator, Consumer<String> problems) {
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted && c == '\\' && i + 1 < text.length()) {
                current.append(c).append(text.charAt(++i));
                continue;
            }
            if (c == '"') {
                quoted = !quoted;
            } else if (c == separator && !quoted) {
                parts.add(current.toString());
                current.setLength(0);
                continue;
            }
            current.append(c);
        }
        if (quoted) {
            String message = "clause '" + current.toString().trim() + "' skipped: unterminated quote";
            if (problems == null) {
                throw new IllegalArgumentException("unterminated quote");
            }
            problems.accept(message);
        } else {
            parts.add(current.toString());
        }
        return parts;
    }

    private static String unquote(String value) {
        if (value.length() < 2 || !value.startsWith("\"") || !value.endsWith("\"")) {
            return value;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 1; i < value.length() - 1; i++) {
            char c = value.charAt(i);
            if (c == '\\' && i + 1 < value.length() - 1) {
                c = value.charAt(++i);
            }
            out.append(c);
        }
        return out.toString();
    }
}
