package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The calls the seed system had: the welcome, and the balancer test. The balancer comes from
 * {@link InferrerServices}: the resource stays registered while its bundle is updated, and a test call waits for it
 * meanwhile.
 */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public class SeedResource {

    static final String NAME = "Fractal ML Server";
    /** The most elements one balancer test call sends. */
    static final int MAX_ELEMENTS = 10_000;
    /** How many of a call's elements wait in the modelhosts at a time. */
    static final int IN_FLIGHT = 8;
    private final InferrerServices services;
    private final DynamicService<LoadBalancer> balancer;
    private final String version;

    @Activate
    public SeedResource(@Reference InferrerServices services, BundleContext context) {
        this.services = services;
        this.balancer = services.balancer();
        this.version = context.getBundle().getVersion().toString();
    }

    @GET
    @Access(Level.OPEN)
    @Doc("Welcome: the server's name and version")
    public Map<String, Object> welcome() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", NAME);
        m.put("version", version);
        m.put("message", "Welcome to " + NAME + ". GET /help lists the calls.");
        return m;
    }

    @POST
    @Path("api/test/sendtomodelhost")
    @Access(Level.INFERENCE)
    @Doc("Balancer test: sends each element of {\"data\": [...]} to a modelhost and shows which one served it "
            + "(JSON, whatever the Content-Type)")
    public CompletionStage<Map<String, Object>> sendToModelHost(InputStream body) throws IOException {
        return sendToModelHost(Bodies.json(body, "a JSON object {\"data\": [...]}"));
    }

    CompletionStage<Map<String, Object>> sendToModelHost(JsonNode body) {
        if (body == null || !body.isObject() || !body.has("data")) {
            throw new InvalidInputException("expected a JSON object {\"data\": [...]}");
        }
        JsonNode data = body.get("data");
        if (!data.isArray()) {
            throw new InvalidInputException("'data' must be an array");
        }
        if (data.size() > MAX_ELEMENTS) {
            throw new InvalidInputException("'data' has " + data.size() + " elements; a test call takes at most "
                    + MAX_ELEMENTS);
        }
        return services.deadlines().bound(balancer.whenAvailable().thenCompose(lb -> echoes(lb, data)),
                Math.max(1, services.config().request_timeout_ms()), TimeoutException::new);
    }

    private void sendNext(LoadBalancer lb, JsonNode data, List<CompletableFuture<EchoDTO>> futures,
            AtomicInteger next) {
        int i;
        CompletableFuture<EchoDTO> sent;
        // in the order of the elements: a round-robin balancer gives sequential elements alternate modelhosts
        synchronized (futures) {
            i = next.getAndIncrement();
            if (i >= futures.size()) {
                return;
            }
            JsonNode element = data.get(i);
            sent = balancer.callAsync(lb, b -> b.echo(element), e -> e instanceof CapacityExceededException);
        }
        sent.whenComplete((echo, error) -> {
            if (error != null) {
                // the call fails with its first failure: the elements not sent yet are not sent
                futures.get(i).completeExceptionally(error);
                next.set(futures.size());
                futures.forEach(f -> f.completeExceptionally(error));
            } else {
                futures.get(i).complete(echo);
                sendNext(lb, data, futures, next);
            }
        });
    }

    private CompletableFuture<Map<String, Object>> echoes(LoadBalancer lb, JsonNode data) {
        // At most IN_FLIGHT echoes at a time: a long 'data' must not fill the modelhosts' queues (a 503 for the
        // call, and for other clients' requests meanwhile); each one that completes sends the next.
        List<CompletableFuture<EchoDTO>> futures = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            futures.add(new CompletableFuture<>());
        }
        AtomicInteger next = new AtomicInteger();
        for (int i = 0; i < Math.min(IN_FLIGHT, data.size()); i++) {
            sendNext(lb, data, futures, next);
        }
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).thenApply(done -> {
            List<Map<String, Object>> results = new ArrayList<>();
            Map<String, Integer> spread = new TreeMap<>();
            for (CompletableFuture<EchoDTO> f : futures) {
                EchoDTO e = f.join();
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("data", e.data);
                r.put("modelhost", e.modelhost);
                r.put("worker", e.worker);
                results.add(r);
                spread.merge(e.modelhost, 1, Integer::sum);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("results", results);
            out.put("spread", spread);
            return out;
        });
    }
}
