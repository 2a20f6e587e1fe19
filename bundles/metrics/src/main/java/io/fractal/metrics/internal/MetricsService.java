package io.fractal.metrics.internal;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.MetricSet;
import com.codahale.metrics.SlidingTimeWindowArrayReservoir;
import com.codahale.metrics.jvm.GarbageCollectorMetricSet;
import com.codahale.metrics.jvm.MemoryUsageGaugeSet;
import com.codahale.metrics.jvm.ThreadStatesGaugeSet;
import io.fractal.api.metrics.FractalMetrics;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.dropwizard.DropwizardExports;
import io.prometheus.client.exporter.common.TextFormat;
import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * The server's one metric registry (no global default registry), and its exposition in the Prometheus text
 * format through the Prometheus client's Dropwizard bridge. Timers report seconds over a sliding window.
 */
@Component(service = {FractalMetrics.class, MetricsService.class})
public class MetricsService implements FractalMetrics {

    private final MetricRegistry registry = new MetricRegistry();
    private final CollectorRegistry prometheus = new CollectorRegistry();

    @Activate
    public MetricsService() {
        registerAll("jvm_memory", new MemoryUsageGaugeSet());
        registerAll("jvm_gc", new GarbageCollectorMetricSet());
        registerAll("jvm_threads", new ThreadStatesGaugeSet());
        registry.register("process_resident_memory_bytes", (Gauge<Long>) MetricsService::residentBytes);
        prometheus.register(new DropwizardExports(registry, com.codahale.metrics.MetricFilter.ALL,
                new LabelledSampleBuilder()));
    }

    private void registerAll(String prefix, MetricSet set) {
        for (Map.Entry<String, Metric> e : set.getMetrics().entrySet()) {
            registry.register(prefix + "_" + e.getKey().replace('.', '_').replace('-', '_'), e.getValue());
        }
    }

    @Override
    public Counter counter(String name, String... labels) {
        com.codahale.metrics.Counter c = registry.counter(MetricName.encode(name, labels));
        return new Counter() {
            @Override
            public void inc() {
                c.inc();
            }

            @Override
            public void inc(long n) {
                c.inc(n);
            }
        };
    }

    @Override
    public Timer timer(String name, String... labels) {
        com.codahale.metrics.Timer t = registry.timer(MetricName.encode(name, labels),
                () -> new com.codahale.metrics.Timer(new SlidingTimeWindowArrayReservoir(60, TimeUnit.SECONDS)));
        return nanos -> t.update(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public Histogram histogram(String name, String... labels) {
        com.codahale.metrics.Histogram h = registry.histogram(MetricName.encode(name, labels),
                () -> new com.codahale.metrics.Histogram(new SlidingTimeWindowArrayReservoir(60, TimeUnit.SECONDS)));
        return h::update;
    }

    @Override
    public void gauge(String name, Supplier<? extends Number> value, String... labels) {
        String key = MetricName.encode(name, labels);
        registry.remove(key);
        registry.register(key, (Gauge<Number>) value::get);
    }

    @Override
    public void removeAll(String labelName, String labelValue) {
        registry.removeMatching((key, metric) -> MetricName.hasLabel(key, labelName, labelValue));
    }

    /** The exposition in the Prometheus text format 0.0.4. */
    String scrape() throws IOException {
        StringWriter out = new StringWriter(8192);
        write(out);
        return out.toString();
    }

    void write(Writer out) throws IOException {
        TextFormat.write004(out, prometheus.metricFamilySamples());
    }

    private static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return -1;
    }
}
