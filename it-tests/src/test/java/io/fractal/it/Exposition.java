package io.fractal.it;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A Prometheus text exposition (format 0.0.4) read the way Prometheus reads it: each sample line is a metric name,
 * its labels (quoted values, which may hold braces and escapes) and a value.
 */
public final class Exposition {

    /** One sample line. */
    public record Sample(String name, Map<String, String> labels, double value, String line) {

        /** Whether the sample has all these label name/value pairs. */
        public boolean has(String... labelPairs) {
            for (int i = 0; i < labelPairs.length; i += 2) {
                if (!labelPairs[i + 1].equals(labels.get(labelPairs[i]))) {
                    return false;
                }
            }
            return true;
        }
    }

    private final String text;
    private final List<Sample> samples;

    private Exposition(String text, List<Sample> samples) {
        this.text = text;
        this.samples = samples;
    }

    public static Exposition parse(String text) {
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            samples.add(parseLine(line));
        }
        return new Exposition(text, Collections.unmodifiableList(samples));
    }

    private static Sample parseLine(String line) {
        int i = 0;
        while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
            i++;
        }
        String name = line.substring(0, i);
        Map<String, String> labels = new LinkedHashMap<>();
        if (i < line.length() && line.charAt(i) == '{') {
            i++;
            while (line.charAt(i) != '}') {
                int eq = line.indexOf('=', i);
                String label = line.substring(i, eq).trim();
                if (line.charAt(eq + 1) != '"') {
                    throw new IllegalArgumentException("label value not quoted in: " + line);
                }
                StringBuilder value = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        char next = line.charAt(++j);
                        value.append(next == 'n' ? '\n' : next);
                    } else {
                        value.append(c);
                    }
                }
                labels.put(label, value.toString());
                i = j + 1;
                if (line.charAt(i) == ',') {
                    i++;
                }
            }
            i++;
        }
        String[] rest = line.substring(i).trim().split("\\s+");
        return new Sample(name, Collections.unmodifiableMap(labels), parseValue(rest[0]), line);
    }

    private static double parseValue(String value) {
        return switch (value) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(value);
        };
    }

    public String text() {
        return text;
    }

    public List<Sample> samples() {
        return samples;
    }

    /** The samples of a metric name that have these label pairs. */
    public List<Sample> samples(String name, String... labelPairs) {
        return samples.stream().filter(s -> s.name().equals(name) && s.has(labelPairs)).toList();
    }

    /** The sample of a metric name with exactly these labels (in any order), if there is one. */
    public Optional<Sample> exactly(String name, String... labelPairs) {
        return samples(name, labelPairs).stream().filter(s -> s.labels().size() == labelPairs.length / 2).findFirst();
    }

    /** The value of the sample with exactly these labels; fails naming the series when there is none. */
    public double value(String name, String... labelPairs) {
        return exactly(name, labelPairs).orElseThrow(() -> new AssertionError("no sample " + name
                + labelsText(labelPairs) + " in the exposition:\n" + linesOf(name))).value();
    }

    /** The value of the sample with exactly these labels, or {@code absent} when there is none. */
    public double valueOr(double absent, String name, String... labelPairs) {
        return exactly(name, labelPairs).map(Sample::value).orElse(absent);
    }

    /** The sum over the samples of a name that have these label pairs (and any others). */
    public double sum(String name, String... labelPairs) {
        return samples(name, labelPairs).stream().mapToDouble(Sample::value).sum();
    }

    /** The sample lines of a metric name, for messages. */
    public String linesOf(String name) {
        return linesWhere(s -> s.name().startsWith(name));
    }

    public String linesWhere(Predicate<Sample> which) {
        StringBuilder b = new StringBuilder();
        samples.stream().filter(which).forEach(s -> b.append(s.line()).append('\n'));
        return b.length() == 0 ? "(none)" : b.toString();
    }

    private static String labelsText(String... labelPairs) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < labelPairs.length; i += 2) {
            b.append(labelPairs[i]).append("=\"").append(labelPairs[i + 1]).append("\",");
        }
        return b.append('}').toString();
    }
}
