package io.fractal.metrics.internal;

import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import io.prometheus.client.exporter.common.TextFormat;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import java.io.IOException;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code GET /metrics} on the REST port. */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/metrics")
public class MetricsResource {

    private final MetricsService metrics;

    @Activate
    public MetricsResource(@Reference MetricsService metrics) {
        this.metrics = metrics;
    }

    @GET
    @Produces(TextFormat.CONTENT_TYPE_004)
    @Doc("Metrics in the Prometheus text format")
    public String scrape() throws IOException {
        return metrics.scrape();
    }
}
