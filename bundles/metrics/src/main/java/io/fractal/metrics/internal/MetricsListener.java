package io.fractal.metrics.internal;

import com.sun.net.httpserver.HttpServer;
import io.fractal.api.concurrent.IsolatedThreads;
import io.prometheus.client.exporter.common.TextFormat;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * A listener of its own for Prometheus (default 127.0.0.1:8002), so scrapes neither wait behind API traffic
 * nor need the API port opened to the monitoring network.
 */
@Component(service = {}, configurationPid = MetricsConfiguration.PID, immediate = true)
@Designate(ocd = MetricsConfiguration.class)
public class MetricsListener {

    private static final Logger LOG = Logger.getLogger(MetricsListener.class.getName());
    private final HttpServer server;
    private final ExecutorService executor;

    @Activate
    public MetricsListener(@Reference MetricsService metrics, MetricsConfiguration config) throws IOException {
        if (config.port() <= 0) {
            server = null;
            executor = null;
            return;
        }
        server = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 16);
        server.createContext("/metrics", exchange -> {
            try (exchange) {
                if (!"GET".equals(exchange.getRequestMethod())) {
                    exchange.sendResponseHeaders(405, -1);
                    return;
                }
                byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", TextFormat.CONTENT_TYPE_004);
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        // Its own threads, stopped with the component (HttpServer.stop leaves a given executor running, which would
        // keep this revision's class loader alive after an update); two, so one slow scraper does not block another.
        executor = Executors.newFixedThreadPool(2, IsolatedThreads.factory("fractal-metrics-listener"));
        server.setExecutor(executor);
        server.start();
        LOG.info(() -> "Metrics listening on http://" + config.host() + ":" + config.port() + "/metrics");
    }

    @Deactivate
    void deactivate() {
        if (server != null) {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}
