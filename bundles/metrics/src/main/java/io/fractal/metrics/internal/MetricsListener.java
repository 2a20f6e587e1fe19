package io.fractal.metrics.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import io.prometheus.client.exporter.common.TextFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.logging.Logger;
import org.glassfish.grizzly.http.Method;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * A listener of its own for Prometheus (default 127.0.0.1:8002), so scrapes neither wait behind API traffic
 * nor need the API port opened to the monitoring network. Grizzly reads requests without blocking and hands a
 * worker only a complete one, so a slow or stalled connection holds no thread and no scrape waits behind it.
 */
@Component(service = {}, configurationPid = MetricsConfiguration.PID, immediate = true)
@Designate(ocd = MetricsConfiguration.class)
public class MetricsListener {

    private static final Logger LOG = Logger.getLogger(MetricsListener.class.getName());
    private final HttpServer server;

    @Activate
    public MetricsListener(@Reference MetricsService metrics, MetricsConfiguration config) throws IOException {
        if (config.port() <= 0) {
            server = null;
            return;
        }
        HttpServer s = new HttpServer();
        NetworkListener listener = new NetworkListener("fractal-metrics", config.host(), config.port());
        listener.getTransport().getWorkerThreadPoolConfig().setThreadFactory(
                IsolatedThreads.factory("fractal-metrics-listener")).setCorePoolSize(2).setMaxPoolSize(2);
        s.addListener(listener);
        s.getServerConfiguration().addHttpHandler(new HttpHandler("metrics") {
            @Override
            public void service(Request request, Response response) throws IOException {
                if (!"/metrics".equals(request.getRequestURI())) {
                    response.sendError(404);
                    return;
                }
                if (request.getMethod() != Method.GET && request.getMethod() != Method.HEAD) {
                    response.setHeader("Allow", "GET, HEAD");
                    response.sendError(405);
                    return;
                }
                byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
                response.setContentType(TextFormat.CONTENT_TYPE_004);
                response.setContentLength(body.length);
                response.getOutputStream().write(body);
            }
        }, org.glassfish.grizzly.http.server.HttpHandlerRegistration.ROOT);
        // Grizzly's timer threads come from no factory of ours: started here, they keep no caller's revision.
        IOException failed = IsolatedThreads.run(() -> {
            try {
                s.start();
                return null;
            } catch (IOException e) {
                return e;
            }
        });
        if (failed != null) {
            s.shutdownNow();
            throw failed;
        }
        server = s;
        LOG.info(() -> "Metrics listening on http://" + config.host() + ":" + config.port() + "/metrics");
    }

    @Deactivate
    void deactivate() {
        if (server != null) {
            server.shutdownNow();
        }
    }
}
