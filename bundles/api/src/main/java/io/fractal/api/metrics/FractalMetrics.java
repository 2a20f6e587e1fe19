package io.fractal.api.metrics;

import java.util.function.Supplier;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The metrics producers record through. Names follow Prometheus conventions ({@code fractal_} prefix, base
 * units, {@code _total} for counters); labels are given as name/value pairs, e.g.
 * {@code timer("fractal_inference_seconds", "model", "iris", "version", "1")}.
 */
@ProviderType
public interface FractalMetrics {

    /** A counter, created on first use. */
    Counter counter(String name, String... labels);

    /** A latency recorder reported as a summary in seconds with p50/p90/p99, created on first use. */
    Timer timer(String name, String... labels);

    /** A distribution of values (e.g. batch sizes), created on first use. */
    Histogram histogram(String name, String... labels);

    /** Registers a gauge read at each scrape, replacing one of the same name and labels. */
    void gauge(String name, Supplier<? extends Number> value, String... labels);

    /**
     * Removes the metric of this name and exactly these labels, if there is one (e.g. a gauge whose owner goes).
     *
     * @since 1.1
     */
    void remove(String name, String... labels);

    /** Removes every metric whose labels contain this name/value pair (e.g. a removed modelhost's). */
    void removeAll(String labelName, String labelValue);

    /**
     * The current samples whose metric name starts with a prefix, as the Prometheus exposition shows them:
     * {@code name{label="value",...}} to value, sorted by name.
     */
    java.util.SortedMap<String, Double> samples(String namePrefix);

    /** A monotonically increasing count. */
    interface Counter {
        void inc();

        void inc(long n);
    }

    /** Durations. */
    interface Timer {
        void record(long nanos);
    }

    /** Values. */
    interface Histogram {
        void update(long value);
    }
}
