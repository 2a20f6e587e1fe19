package io.fractal.metrics.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * A metric name with labels, encoded in one Dropwizard name as {@code name|label=value|label=value} so that one
 * Dropwizard registry can hold labelled series; {@link LabelledSampleBuilder} decodes it for Prometheus.
 */
record MetricName(String name, List<String> labelNames, List<String> labelValues) {

    private static final char SEP = '|';

    static String encode(String name, String... labels) {
        if (labels.length % 2 != 0) {
            throw new IllegalArgumentException("labels come in name/value pairs: " + List.of(labels));
        }
        StringBuilder b = new StringBuilder(name);
        for (int i = 0; i < labels.length; i += 2) {
            b.append(SEP).append(labels[i]).append('=').append(labels[i + 1].replace(SEP, '_'));
        }
        return b.toString();
    }

    static MetricName decode(String encoded) {
        List<String> names = new ArrayList<>();
        List<String> values = new ArrayList<>();
        String[] parts = encoded.split("\\|");
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            names.add(parts[i].substring(0, eq));
            values.add(parts[i].substring(eq + 1));
        }
        return new MetricName(parts[0], names, values);
    }

    /** Whether this encoded name carries {@code label=value}. */
    static boolean hasLabel(String encoded, String label, String value) {
        return (encoded + SEP).contains(SEP + label + "=" + value + SEP);
    }
}
