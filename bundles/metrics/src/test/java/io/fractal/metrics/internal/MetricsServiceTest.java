package io.fractal.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.metrics.FractalMetrics;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** What Prometheus (and {@code samples}) sees of the metrics the bundles record. */
class MetricsServiceTest {

    private final MetricsService metrics = new MetricsService();

    @Test
    void countersAreExposedAsTotalCountersWithTheirLabels() throws Exception {
        FractalMetrics.Counter c = metrics.counter("fractal_balancer_decisions_total", "modelhost", "mh1",
                "strategy", "ROUND_ROBIN");
        c.inc();
        c.inc(4);
        metrics.counter("fractal_balancer_decisions_total", "modelhost", "mh2", "strategy", "ROUND_ROBIN").inc();
        String text = metrics.scrape();
        assertEquals(1, count(text, "# TYPE fractal_balancer_decisions_total counter\n"), text);
        assertEquals(5.0, value(text, "fractal_balancer_decisions_total{modelhost=\"mh1\",strategy=\"ROUND_ROBIN\",}"));
        assertEquals(1.0, value(text, "fractal_balancer_decisions_total{modelhost=\"mh2\",strategy=\"ROUND_ROBIN\",}"));
        assertFalse(text.contains("fractal_balancer_decisions_total_total"), text);
    }

    @Test
    void aCounterNameWithoutTotalGetsIt() throws Exception {
        metrics.counter("fractal_balancer_retries").inc(3);
        assertEquals(3.0, value(metrics.scrape(), "fractal_balancer_retries_total"));
    }

    @Test
    void theSameNameAndLabelsIsTheSameCounter() throws Exception {
        metrics.counter("fractal_x_total", "a", "1").inc();
        metrics.counter("fractal_x_total", "a", "1").inc();
        assertEquals(2.0, value(metrics.scrape(), "fractal_x_total{a=\"1\",}"));
    }

    @Test
    void timersAreSummariesInSeconds() throws Exception {
        FractalMetrics.Timer t = metrics.timer("fractal_inference_seconds", "model", "iris", "version", "1",
                "modelhost", "mh1");
        for (int ms = 1; ms <= 100; ms++) {
            t.record(TimeUnit.MILLISECONDS.toNanos(ms));
        }
        String text = metrics.scrape();
        assertTrue(text.contains("# TYPE fractal_inference_seconds summary"), text);
        String labels = "model=\"iris\",version=\"1\",modelhost=\"mh1\",";
        double p50 = value(text, "fractal_inference_seconds{" + labels + "quantile=\"0.5\",}");
        double p90 = value(text, "fractal_inference_seconds{" + labels + "quantile=\"0.9\",}");
        double p99 = value(text, "fractal_inference_seconds{" + labels + "quantile=\"0.99\",}");
        assertEquals(0.050, p50, 0.002);
        assertEquals(0.090, p90, 0.002);
        assertEquals(0.099, p99, 0.002);
        assertEquals(100.0, value(text, "fractal_inference_seconds_count{" + labels + "}"));
        assertEquals(5.050, value(text, "fractal_inference_seconds_sum{" + labels + "}"), 1e-9);
    }

    @Test
    void timersOfDifferentLabelsAreOneFamily() throws Exception {
        metrics.timer("fractal_request_seconds", "model", "iris").record(TimeUnit.MILLISECONDS.toNanos(10));
        metrics.timer("fractal_request_seconds", "model", "digits").record(TimeUnit.MILLISECONDS.toNanos(30));
        String text = metrics.scrape();
        assertEquals(1, count(text, "# TYPE fractal_request_seconds summary"), text);
        assertEquals(0.010, value(text, "fractal_request_seconds_sum{model=\"iris\",}"), 1e-9);
        assertEquals(0.030, value(text, "fractal_request_seconds_sum{model=\"digits\",}"), 1e-9);
    }

    @Test
    void gaugesAreReadAtEachScrape() throws Exception {
        AtomicInteger queued = new AtomicInteger(3);
        metrics.gauge("fractal_modelhost_queued", queued::get, "modelhost", "mh1");
        assertEquals(3.0, value(metrics.scrape(), "fractal_modelhost_queued{modelhost=\"mh1\",}"));
        queued.set(7);
        assertEquals(7.0, value(metrics.scrape(), "fractal_modelhost_queued{modelhost=\"mh1\",}"));
    }

    @Test
    void aGaugeReplacesOneOfTheSameNameAndLabels() throws Exception {
        metrics.gauge("fractal_modelhosts_live", () -> 1);
        metrics.gauge("fractal_modelhosts_live", () -> 2);
        String text = metrics.scrape();
        assertEquals(2.0, value(text, "fractal_modelhosts_live"));
        assertEquals(1, count(text, "\nfractal_modelhosts_live "), text);
    }

    @Test
    void removeAllDropsEveryMetricCarryingTheLabel() throws Exception {
        metrics.gauge("fractal_modelhost_inflight", () -> 1, "modelhost", "mh1");
        metrics.gauge("fractal_modelhost_inflight", () -> 2, "modelhost", "mh2");
        metrics.counter("fractal_modelhost_rejected_total", "modelhost", "mh1").inc();
        metrics.timer("fractal_queue_seconds", "model", "iris", "modelhost", "mh1").record(1000);
        metrics.counter("fractal_other_total", "modelhost", "mh10").inc();
        metrics.removeAll("modelhost", "mh1");
        String text = metrics.scrape();
        assertFalse(text.contains("modelhost=\"mh1\""), text);
        assertEquals(2.0, value(text, "fractal_modelhost_inflight{modelhost=\"mh2\",}"));
        assertEquals(1.0, value(text, "fractal_other_total{modelhost=\"mh10\",}"));
    }

    @Test
    void samplesByPrefixAsPrometheusShowsThem() {
        metrics.counter("fractal_inference_failures_total", "model", "iris", "modelhost", "mh1").inc(2);
        metrics.timer("fractal_inference_seconds", "model", "iris").record(TimeUnit.MILLISECONDS.toNanos(20));
        metrics.gauge("fractal_modelhosts_live", () -> 2);
        SortedMap<String, Double> s = metrics.samples("fractal_inference");
        assertEquals(2.0, s.get("fractal_inference_failures_total{model=\"iris\",modelhost=\"mh1\"}"));
        assertEquals(1.0, s.get("fractal_inference_seconds_count{model=\"iris\"}"));
        assertEquals(0.020, s.get("fractal_inference_seconds_sum{model=\"iris\"}"), 1e-9);
        assertEquals(0.020, s.get("fractal_inference_seconds{model=\"iris\",quantile=\"0.5\"}"), 1e-9);
        assertFalse(s.containsKey("fractal_modelhosts_live"));
        assertTrue(s.keySet().stream().allMatch(k -> k.startsWith("fractal_inference")), s::toString);
        assertEquals(List.copyOf(s.keySet()), s.keySet().stream().sorted().toList());
        assertEquals(Map.of("fractal_modelhosts_live", 2.0), metrics.samples("fractal_modelhosts"));
    }

    @Test
    void histogramsAreExposed() throws Exception {
        FractalMetrics.Histogram h = metrics.histogram("fractal_batch_size", "model", "iris");
        for (int i = 1; i <= 10; i++) {
            h.update(i);
        }
        assertEquals(10.0, value(metrics.scrape(), "fractal_batch_size_count{model=\"iris\",}"));
    }

    @Test
    void theJvmIsMeasured() throws Exception {
        String text = metrics.scrape();
        assertTrue(value(text, "jvm_memory_used_bytes{area=\"heap\",}") > 0);
        assertNotNull(metrics.samples("jvm_threads"));
        assertFalse(metrics.samples("jvm_").isEmpty());
    }

    @Test
    void labelsComeInPairs() {
        assertThrows(IllegalArgumentException.class, () -> metrics.counter("fractal_x_total", "modelhost"));
    }

    @Test
    void theExpositionIsValidTextFormat() throws Exception {
        metrics.counter("fractal_http_requests_total", "method", "GET", "route", "/v2", "status", "200").inc();
        metrics.counter("fractal_http_requests_total", "method", "GET", "route", "/v2", "status", "404").inc();
        metrics.timer("fractal_http_request_seconds", "method", "GET", "route", "/v2").record(5_000_000);
        metrics.timer("fractal_http_request_seconds", "method", "POST", "route", "/v2").record(5_000_000);
        metrics.gauge("fractal_modelhost_queued", () -> 2, "modelhost", "mh1");
        metrics.gauge("fractal_modelhost_queued", () -> 3, "modelhost", "mh2");
        String text = metrics.scrape();
        java.util.Set<String> families = new java.util.HashSet<>();
        for (String l : text.split("\n")) {
            if (l.startsWith("# TYPE ")) {
                assertTrue(families.add(l.split(" ")[2]), () -> "a second TYPE line for " + l + " in\n" + text);
            }
        }
        Pattern line = Pattern.compile("(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\",?)*\\})? "
                + "[-+0-9.eEINaf]+)");
        for (String l : text.split("\n")) {
            assertTrue(line.matcher(l).matches(), () -> "not a Prometheus text line: " + l);
        }
    }

    /** The value of one series in the exposition text. */
    private static double value(String text, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
        assertTrue(m.find(), () -> "no series " + series + " in\n" + text);
        return Double.parseDouble(m.group(1));
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }
}
