package io.fractal.metrics.internal;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Snapshot;
import io.prometheus.client.Collector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Latencies as Prometheus summaries in seconds with the quantiles operators ask for (p50, p90, p99), plus
 * {@code _count} and an exact {@code _sum}. The Dropwizard bridge exports every other metric of the registry; its
 * fixed quantile set has no p90 and no sum, so timers are exported here, from the same registry.
 */
final class TimerCollector extends Collector {

    static final double[] QUANTILES = {0.5, 0.9, 0.99};
    private static final double SECONDS_PER_NANO = 1.0 / TimeUnit.SECONDS.toNanos(1);

    private final MetricRegistry registry;

    TimerCollector(MetricRegistry registry) {
        this.registry = registry;
    }

    @Override
    public List<MetricFamilySamples> collect() {
        Map<String, List<MetricFamilySamples.Sample>> families = new LinkedHashMap<>();
        registry.getMetrics().forEach((key, metric) -> {
            if (!(metric instanceof SummingTimer timer)) {
                return;
            }
            MetricName name = MetricName.decode(key);
            String base = sanitizeMetricName(name.name());
            List<MetricFamilySamples.Sample> samples = families.computeIfAbsent(base, k -> new ArrayList<>());
            Snapshot snapshot = timer.getSnapshot();
            for (double q : QUANTILES) {
                List<String> labelNames = new ArrayList<>(name.labelNames());
                List<String> labelValues = new ArrayList<>(name.labelValues());
                labelNames.add("quantile");
                labelValues.add(doubleToGoString(q));
                samples.add(new MetricFamilySamples.Sample(base, labelNames, labelValues,
                        snapshot.getValue(q) * SECONDS_PER_NANO));
            }
            samples.add(new MetricFamilySamples.Sample(base + "_count", name.labelNames(), name.labelValues(),
                    timer.getCount()));
            samples.add(new MetricFamilySamples.Sample(base + "_sum", name.labelNames(), name.labelValues(),
                    timer.sumNanos() * SECONDS_PER_NANO));
        });
        List<MetricFamilySamples> out = new ArrayList<>();
        families.forEach((name, samples) -> out.add(new MetricFamilySamples(name, Type.SUMMARY,
                "Latency in seconds (p50, p90, p99 of a sample favouring the last five minutes; count and sum since start)", samples)));
        return out;
    }
}
