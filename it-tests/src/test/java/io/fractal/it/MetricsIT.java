package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * The metrics Prometheus scrapes, on the REST port and on the metrics listener: request counts by route and status,
 * end-to-end and inference latency summaries, modelhost gauges, JVM and process memory; in the text format
 * Prometheus asks for, clean for {@code promtool check metrics}.
 *
 * <p>Counts are compared as the difference between a scrape before and one after the test's own requests.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class MetricsIT extends ModelHostTestSupport {

    /** What Prometheus 2 sends: it prefers OpenMetrics but takes the 0.0.4 text format. */
    private static final String PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,"
            + "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    private static final String V1_ROUTE = "/api/v1/models/{model}/prediction";
    private static final String V2_ROUTE = "/v2/models/{model}/infer";
    private static final int N = 7;
    private static final int M = 5;
    private static final String IRIS_V1 = "{\"values\": [5.1, 3.5, 1.4, 0.2]}";
    private static final String IRIS_V2 = "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", "
            + "\"data\": [6.7, 3.0, 5.2, 2.3]}]}";

    @Before
    public void irisReady() {
        awaitReady("iris");
    }

    private Exposition scrapeRest() {
        return scrape(http(), "REST port");
    }

    private Exposition scrapeListener() {
        return scrape(metricsListener(), "metrics port");
    }

    private static Exposition scrape(Http client, String where) {
        HttpResult scrape = client.get("/metrics", PROMETHEUS_ACCEPT);
        assertEquals("GET /metrics on the " + where + ": " + scrape, 200, scrape.status);
        String type = scrape.header("Content-Type");
        assertTrue("content type on the " + where + ": " + type, type != null);
        // parameters in any order, as Prometheus reads the media type
        List<String> parts = List.of(type.replace(" ", "").toLowerCase().split(";"));
        assertEquals("media type on the " + where + ": " + type, "text/plain", parts.get(0));
        assertTrue("version=0.0.4 on the " + where + ": " + type, parts.contains("version=0.0.4"));
        return Exposition.parse(scrape.body);
    }

    @Test
    public void predictionsShowInTheExpositionOnBothPorts() {
        Exposition before = scrapeRest();

        for (int i = 0; i < N; i++) {
            HttpResult r = http().post("/api/v1/models/iris/prediction", IRIS_V1);
            assertEquals(r.toString(), 200, r.status);
        }
        for (int i = 0; i < M; i++) {
            HttpResult r = http().post("/v2/models/iris/infer", IRIS_V2);
            assertEquals(r.toString(), 200, r.status);
        }
        HttpResult notFound = http().post("/api/v1/models/nosuch/prediction", IRIS_V1);
        assertEquals(notFound.toString(), 404, notFound.status);
        HttpResult badInput = http().post("/api/v1/models/iris/prediction", "{\"values\": \"five\"}");
        assertEquals(badInput.toString(), 400, badInput.status);

        for (String where : List.of("REST port", "metrics port")) {
            await("the metrics on the " + where + " count the requests").atMost(Duration.ofSeconds(5))
                    .pollInterval(Duration.ofMillis(100))
                    .untilAsserted(() -> assertCounts(before, where.equals("REST port") ? scrapeRest() : scrapeListener(), where));
        }
    }

    private static void assertCounts(Exposition before, Exposition after, String where) {
        String http = "fractal_http_requests_total";
        String requests = "on the " + where + ":\n" + after.linesOf(http);
        assertEquals("v1 predictions answered 200 " + requests, N, delta(before, after, http,
                "method", "POST", "route", V1_ROUTE, "status", "200"), 0.0);
        assertEquals("v2 inferences answered 200 " + requests, M, delta(before, after, http,
                "method", "POST", "route", V2_ROUTE, "status", "200"), 0.0);
        assertEquals("the 404 " + requests, 1, delta(before, after, http,
                "method", "POST", "route", V1_ROUTE, "status", "404"), 0.0);
        assertEquals("the 400 " + requests, 1, delta(before, after, http,
                "method", "POST", "route", V1_ROUTE, "status", "400"), 0.0);

        String latency = "fractal_request_seconds";
        String latencies = "on the " + where + ":\n" + after.linesOf(latency);
        assertEquals("end-to-end count of iris:1 " + latencies, N + M,
                delta(before, after, latency + "_count", "model", "iris", "version", "1"), 0.0);
        assertTrue("end-to-end sum of iris:1 " + latencies,
                after.value(latency + "_sum", "model", "iris", "version", "1") > 0);
        double p50 = after.value(latency, "model", "iris", "version", "1", "quantile", "0.5");
        double p90 = after.value(latency, "model", "iris", "version", "1", "quantile", "0.9");
        double p99 = after.value(latency, "model", "iris", "version", "1", "quantile", "0.99");
        assertTrue("quantiles above 0 " + latencies, p50 > 0 && p90 > 0 && p99 > 0);
        assertTrue("p50 <= p90 <= p99 " + latencies, p50 <= p90 && p90 <= p99);

        String inference = "fractal_inference_seconds_count";
        String inferences = "on the " + where + ":\n" + after.linesOf("fractal_inference_seconds");
        assertEquals("inference count of iris:1 over the modelhosts " + inferences, N + M,
                after.sum(inference, "model", "iris", "version", "1") - before.sum(inference, "model", "iris", "version", "1"),
                0.0);
        for (Exposition.Sample sample : after.samples(inference, "model", "iris", "version", "1")) {
            assertTrue("a modelhost label " + inferences, MODELHOSTS.contains(sample.labels().get("modelhost")));
        }

        for (String host : MODELHOSTS) {
            String gauges = "on the " + where + ":\n" + after.linesOf("fractal_modelhost");
            assertTrue("in-flight gauge of " + host + " " + gauges,
                    after.exactly("fractal_modelhost_inflight", "modelhost", host).isPresent());
            assertTrue("queued gauge of " + host + " " + gauges,
                    after.exactly("fractal_modelhost_queued", "modelhost", host).isPresent());
            assertEquals("queue capacity of " + host + " " + gauges, 64,
                    after.value("fractal_modelhost_queue_capacity", "modelhost", host), 0.0);
        }
        assertEquals("live modelhosts on the " + where, MODELHOSTS.size(), after.value("fractal_modelhosts_live"), 0.0);
        assertTrue("heap used on the " + where + ": " + after.linesOf("jvm_memory_used_bytes"),
                after.value("jvm_memory_used_bytes", "area", "heap") > 0);
        assertTrue("resident memory on the " + where + ": " + after.linesOf("process_resident_memory_bytes"),
                after.value("process_resident_memory_bytes") > 0);
    }

    private static double delta(Exposition before, Exposition after, String name, String... labels) {
        return after.valueOr(0, name, labels) - before.valueOr(0, name, labels);
    }

    @Test
    public void expositionOnBothPortsPassesPromtoolCheck() throws Exception {
        // every kind of series present: counters by status, summaries, gauges
        assertEquals(200, http().post("/api/v1/models/iris/prediction", IRIS_V1).status);
        assertEquals(200, http().post("/v2/models/iris/infer", IRIS_V2).status);
        assertEquals(404, http().post("/api/v1/models/nosuch/prediction", IRIS_V1).status);

        for (Http client : List.of(http(), metricsListener())) {
            String exposition = client.get("/metrics", PROMETHEUS_ACCEPT).body;
            assertFalse(exposition.isBlank());

            String[] result = promtool(exposition);

            assertEquals("promtool check metrics on " + client.base() + " said:\n" + result[1], "0", result[0]);
        }
    }

    /** Runs {@code promtool check metrics} on the text; its exit code and output. Skips when promtool is missing. */
    private static String[] promtool(String exposition) throws Exception {
        Process process;
        try {
            process = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true).start();
        } catch (IOException e) {
            Assume.assumeTrue("promtool is not installed (Debian: apt-get install prometheus; CI installs it): "
                    + e.getMessage(), false);
            throw e;
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> {
            try (InputStream in = process.getInputStream()) {
                in.transferTo(output);
            } catch (IOException e) {
                // the process ended
            }
        }, "promtool-output");
        reader.start();
        try (OutputStream in = process.getOutputStream()) {
            in.write(exposition.getBytes(StandardCharsets.UTF_8));
        }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("promtool check metrics did not end within 30 s");
        }
        reader.join(5000);
        return new String[] {Integer.toString(process.exitValue()), output.toString(StandardCharsets.UTF_8)};
    }
}
