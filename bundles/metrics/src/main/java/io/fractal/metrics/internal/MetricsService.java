package io.fractal.metrics.internal;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.LockFreeExponentiallyDecayingReservoir;
import com.codahale.metrics.MetricRegistry;
import io.fractal.api.metrics.FractalMetrics;
import io.prometheus.client.Collector;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.dropwizard.DropwizardExports;
import io.prometheus.client.exporter.common.TextFormat;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * The server's one metric registry (no global default registry), and its exposition in the Prometheus text
 * format through the Prometheus client's Dropwizard bridge. Timers report seconds; their quantiles come from
 * a lock-free sample that favours the last five minutes.
 */
@Component(service = {FractalMetrics.class, MetricsService.class})
public class MetricsService implements FractalMetrics {

    private static final Properties HELP = loadHelp();

    private final MetricRegistry registry = new MetricRegistry();
    private final CollectorRegistry prometheus = new CollectorRegistry();

    @Activate
    public MetricsService() {
        JvmGauges.register(this);
        prometheus.register(new DropwizardExports(registry, (name, metric) -> !(metric instanceof SummingTimer),
                new LabelledSampleBuilder()));
        prometheus.register(new TimerCollector(registry));
    }

    /**
     * Counters are Dropwizard meters: the bridge exports a meter as a Prometheus counter named {@code <name>_total}
     * (a Dropwizard counter can go down and would be exported as a gauge), without moving averages ({@link NoRates}).
     */
    @Override
    public Counter counter(String name, String... labels) {
        String base = name.endsWith("_total") ? name.substring(0, name.length() - "_total".length()) : name;
        com.codahale.metrics.Meter m = registry.meter(MetricName.encode(base, labels),
                () -> new com.codahale.metrics.Meter(NoRates.INSTANCE));
        return new Counter() {
            @Override
            public void inc() {
                m.mark();
            }

            @Override
            public void inc(long n) {
                m.mark(n);
            }
        };
    }

    @Override
    public Timer timer(String name, String... labels) {
        com.codahale.metrics.Timer t = registry.timer(MetricName.encode(name, labels), SummingTimer::new);
        return nanos -> t.update(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public Histogram histogram(String name, String... labels) {
        com.codahale.metrics.Histogram h = registry.histogram(MetricName.encode(name, labels),
                () -> new com.codahale.metrics.Histogram(LockFreeExponentiallyDecayingReservoir.builder().build()));
        return h::update;
    }

    @Override
    public void gauge(String name, Supplier<? extends Number> value, String... labels) {
        String key = MetricName.encode(name, labels);
        registry.remove(key);
        registry.register(key, (Gauge<Number>) value::get);
    }

    @Override
    public void remove(String name, String... labels) {
        registry.remove(MetricName.encode(name, labels));
    }

    @Override
    public void removeAll(String labelName, String labelValue) {
        registry.removeMatching((key, metric) -> MetricName.hasLabel(key, labelName, labelValue));
    }

    @Override
    public SortedMap<String, Double> samples(String namePrefix) {
        SortedMap<String, Double> out = new TreeMap<>();
        java.util.Enumeration<Collector.MetricFamilySamples> families = prometheus.metricFamilySamples();
        while (families.hasMoreElements()) {
            for (Collector.MetricFamilySamples.Sample sample : families.nextElement().samples) {
                if (!sample.name.startsWith(namePrefix)) {
                    continue;
                }
                StringBuilder key = new StringBuilder(sample.name);
                if (!sample.labelNames.isEmpty()) {
                    key.append('{');
                    for (int i = 0; i < sample.labelNames.size(); i++) {
                        key.append(i == 0 ? "" : ",").append(sample.labelNames.get(i)).append("=\"")
                                .append(sample.labelValues.get(i)).append('"');
                    }
                    key.append('}');
                }
                out.put(key.toString(), sample.value);
            }
        }
        return out;
    }

    /** The exposition in the Prometheus text format 0.0.4. */
    String scrape() throws IOException {
        StringWriter out = new StringWriter(8192);
        write(out);
        return out.toString();
    }

    void write(Writer out) throws IOException {
        List<Collector.MetricFamilySamples> families = new ArrayList<>();
        for (java.util.Enumeration<Collector.MetricFamilySamples> e = prometheus.metricFamilySamples();
                e.hasMoreElements();) {
            Collector.MetricFamilySamples f = e.nextElement();
            String help = HELP.getProperty(f.name, HELP.getProperty(f.name + "_total")); // counters: named without _total
            families.add(help == null ? f : new Collector.MetricFamilySamples(f.name, f.type, help, f.samples));
        }
        TextFormat.write004(out, Collections.enumeration(families));
    }

    private static Properties loadHelp() {
        Properties help = new Properties();
        try (InputStream in = MetricsService.class.getResourceAsStream("help.properties")) {
            if (in != null) {
                help.load(in);
            }
        } catch (IOException e) {
            // the exposition keeps the bridge's text
        }
        return help;
    }
}
