package io.fractal.inferrer.internal;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** The modelhosts as the balancer sees them. */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/api/v1/modelhosts")
@Produces(MediaType.APPLICATION_JSON)
public class ModelHostsResource {

    private final LoadBalancer balancer;

    @Activate
    public ModelHostsResource(@Reference LoadBalancer balancer) {
        this.balancer = balancer;
    }

    @GET
    @Doc("Lists the live modelhosts: id, state, workers, queue, models and counters")
    public Map<String, Object> list() {
        List<ModelHostDTO> hosts = balancer.modelHosts();
        return Map.of("modelhosts", hosts, "strategy", balancer.describe().strategy);
    }
}
