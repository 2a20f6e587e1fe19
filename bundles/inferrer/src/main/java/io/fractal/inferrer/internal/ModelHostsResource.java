package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.balancer.Strategy;
import io.fractal.api.host.ModelHostAdmin;
import io.fractal.api.host.ModelHostConfigDTO;
import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The modelhosts and the balancer: list, add, remove, drain; the balancing strategy. The balancer and the
 * modelhost administration come from {@link InferrerServices}: the resource stays registered while their bundles
 * are updated, and a call waits for them meanwhile (the inferrer's {@code grace.ms}).
 */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/api/v1")
@Produces(MediaType.APPLICATION_JSON)
public class ModelHostsResource {

    private final DynamicService<LoadBalancer> balancer;
    private final DynamicService<ModelHostAdmin> admin;

    @Activate
    public ModelHostsResource(@Reference InferrerServices services) {
        this.balancer = services.balancer();
        this.admin = services.admin();
    }

    @GET
    @Path("modelhosts")
    @Doc("Lists the live modelhosts: id, state, workers, queue, models and counters")
    public Map<String, Object> list() {
        Map<String, Object> out = new LinkedHashMap<>();
        LoadBalancer lb = balancer.await();
        out.put("strategy", lb.describe().strategy);
        out.put("modelhosts", lb.modelHosts());
        return out;
    }

    @POST
    @Path("modelhosts")
    @Doc("Adds a modelhost: {\"id\": \"mh3\", \"workers\": 2, \"queue_capacity\": 64, \"models\": \"*\"} (JSON, "
            + "whatever the Content-Type)")
    public Response add(InputStream body) throws IOException {
        return add(Bodies.json(body, "a JSON object {\"id\": ..., \"workers\": ..., \"queue_capacity\": ..., "
                + "\"models\": ...}"));
    }

    Response add(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new InvalidInputException("expected a JSON object {\"id\": ..., \"workers\": ..., "
                    + "\"queue_capacity\": ..., \"models\": ...}");
        }
        ModelHostConfigDTO c = new ModelHostConfigDTO();
        c.id = text(body, "id");
        c.workers = integer(body, "workers");
        c.queueCapacity = integer(body, "queue_capacity");
        c.models = text(body, "models");
        return Response.status(201).entity(admin.await().create(c)).build();
    }

    @DELETE
    @Path("modelhosts/{id}")
    @Doc("Removes a modelhost: it takes no new requests, finishes its queued and running ones, then goes")
    public Map<String, Object> remove(@PathParam("id") String id) {
        checkId(id);
        if (!admin.call(a -> a.remove(id))) {
            throw new ModelNotFoundException("no modelhost '" + id + "' is configured");
        }
        return Map.of("removed", id);
    }

    @POST
    @Path("modelhosts/{id}/drain")
    @Doc("Drains a modelhost: no new requests; it finishes the rest and idles until removed or resumed")
    public Map<String, Object> drain(@PathParam("id") String id) {
        checkId(id);
        if (!admin.call(a -> a.drain(id))) {
            throw new ModelNotFoundException("no live modelhost '" + id + "'");
        }
        return Map.of("draining", id);
    }

    @POST
    @Path("modelhosts/{id}/resume")
    @Doc("Lets a drained modelhost take requests again")
    public Map<String, Object> resume(@PathParam("id") String id) {
        checkId(id);
        if (!admin.call(a -> a.resume(id))) {
            throw new ModelNotFoundException("no live modelhost '" + id + "'");
        }
        return Map.of("resumed", id);
    }

    @GET
    @Path("balancer")
    @Doc("The balancer: strategy, decisions, retries, ejections, and each modelhost as it sees it")
    public Object balancer() {
        return balancer.call(LoadBalancer::describe);
    }

    @PUT
    @Path("balancer")
    @Doc("Switches the strategy live: {\"strategy\": \"ROUND_ROBIN\" | \"LEAST_OUTSTANDING\" | \"POWER_OF_TWO\"} "
            + "(JSON, whatever the Content-Type)")
    public Object setStrategy(InputStream body) throws IOException {
        return setStrategy(Bodies.json(body, "{\"strategy\": ...}"));
    }

    Object setStrategy(JsonNode body) {
        String s = body == null ? null : text(body, "strategy");
        if (s == null) {
            throw new InvalidInputException("expected {\"strategy\": ...}, one of " + Arrays.toString(Strategy.values()));
        }
        Strategy strategy;
        try {
            strategy = Strategy.valueOf(s.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("unknown strategy '" + s + "', one of " + Arrays.toString(Strategy.values()));
        }
        return balancer.call(b -> {
            b.setStrategy(strategy);
            return b.describe();
        });
    }

    /** Modelhost ids as the administration creates them: checked before anything looks them up. */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    static void checkId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new InvalidInputException("invalid modelhost id '" + ClientText.quote(id) + "': 1 to 64 letters, digits, "
                    + "'-' or '_', starting with a letter or digit");
        }
    }

    private static String text(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new InvalidInputException("'" + field + "' must be a string");
        }
        return v.textValue();
    }

    private static Integer integer(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new InvalidInputException("'" + field + "' must be an integer (at most " + Integer.MAX_VALUE + ")");
        }
        return v.intValue();
    }
}
