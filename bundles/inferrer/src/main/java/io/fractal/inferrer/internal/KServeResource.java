package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The KServe v2 Open Inference Protocol over REST. The repository and the balancer are dynamic references: the
 * resource stays registered while their bundles are updated, and a request that needs one while it is away waits
 * for it (the inferrer's {@code grace.ms}).
 */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true",
        configurationPid = InferrerConfiguration.PID)
@Path("/v2")
@Produces(MediaType.APPLICATION_JSON)
public class KServeResource {

    private final Deadlines deadlines;
    private final DynamicService<ModelRepository> repository;
    private final DynamicService<LoadBalancer> balancer;
    private final Serving serving;
    private final String version;
    private final Map<String, String> platforms = new ConcurrentHashMap<>();
    private volatile InferrerConfiguration config;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FractalMetrics metrics;

    @Activate
    public KServeResource(InferrerConfiguration config, BundleContext context) {
        this.config = config;
        this.deadlines = new Deadlines("fractal-inferrer-v2-deadlines");
        this.repository = new DynamicService<>("the model repository", () -> this.config.grace_ms(), deadlines);
        this.balancer = new DynamicService<>("the balancer", () -> this.config.grace_ms(), deadlines);
        this.serving = new Serving(repository, balancer, () -> metrics, () -> this.config, deadlines);
        this.version = context.getBundle().getVersion().toString();
    }

    @Modified
    void modified(InferrerConfiguration newConfig) {
        this.config = newConfig;
    }

    /**
     * This component goes (its bundle is updated or stops) while the services it uses stay: the requests that still
     * reach it finish with them rather than wait for services DS will not bind to it any more.
     */
    @Deactivate
    void deactivate() {
        deadlines.retire(Deadlines.RETIRE_AFTER_MS);
        repository.retain();
        balancer.retain();
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindRepository(ModelRepository r) {
        repository.bind(r);
    }

    void unbindRepository(ModelRepository r) {
        repository.unbind(r);
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBalancer(LoadBalancer b) {
        balancer.bind(b);
    }

    void unbindBalancer(LoadBalancer b) {
        balancer.unbind(b);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindEngine(InferenceEngine engine) {
        platforms.put(engine.name(), engine.platform());
    }

    void unbindEngine(InferenceEngine engine) {
        // Keep the platform name: a model's platform does not change while its engine is updated.
    }

    @GET
    @Doc("v2 server metadata")
    public Map<String, Object> server() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", SeedResource.NAME);
        m.put("version", version);
        m.put("extensions", List.of());
        return m;
    }

    @GET
    @Path("health/live")
    @Doc("v2 liveness")
    public Map<String, Object> live() {
        return Map.of("live", true);
    }

    @GET
    @Path("health/ready")
    @Doc("v2 readiness: 200 when every model's default version is ready on a modelhost, else 400 (the protocol: "
            + "200 means true, 4xx false)")
    public Response ready() {
        boolean ready = true;
        for (ModelDTO m : repository.call(ModelRepository::models)) {
            ready &= isReady(m.name, m.defaultVersion);
        }
        return Response.status(ready ? 200 : 400).entity(Map.of("ready", ready)).build();
    }

    @GET
    @Path("models/{model}")
    @Doc("v2 model metadata (default version)")
    public Map<String, Object> model(@PathParam("model") String model) {
        return metadata(repository.call(r -> r.resolve(model, null)));
    }

    @GET
    @Path("models/{model}/versions/{version}")
    @Doc("v2 model metadata of a version")
    public Map<String, Object> model(@PathParam("model") String model, @PathParam("version") String version) {
        Integer v = ModelRef.version(version);
        return metadata(repository.call(r -> r.resolve(model, v)));
    }

    @GET
    @Path("models/{model}/ready")
    @Doc("v2 model readiness: 200 {\"ready\": true} when ready, 400 {\"ready\": false} when not")
    public Response modelReady(@PathParam("model") String model) {
        return readiness(repository.call(r -> r.resolve(model, null)));
    }

    @GET
    @Path("models/{model}/versions/{version}/ready")
    @Doc("v2 readiness of a model version")
    public Response modelReady(@PathParam("model") String model, @PathParam("version") String version) {
        Integer v = ModelRef.version(version);
        return readiness(repository.call(r -> r.resolve(model, v)));
    }

    @POST
    @Path("models/{model}/infer")
    @Consumes(MediaType.APPLICATION_JSON)
    @Doc("v2 inference on the default version: {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}")
    public CompletionStage<Map<String, Object>> infer(@PathParam("model") String model,
            @HeaderParam(Serving.TIMEOUT_HEADER) String timeout, JsonNode body) {
        return infer(new ModelRef(model, null), timeout, body);
    }

    @POST
    @Path("models/{model}/versions/{version}/infer")
    @Consumes(MediaType.APPLICATION_JSON)
    @Doc("v2 inference on a version")
    public CompletionStage<Map<String, Object>> infer(@PathParam("model") String model,
            @PathParam("version") String version, @HeaderParam(Serving.TIMEOUT_HEADER) String timeout,
            JsonNode body) {
        return infer(new ModelRef(model, ModelRef.version(version)), timeout, body);
    }

    private CompletionStage<Map<String, Object>> infer(ModelRef ref, String timeout, JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new InvalidInputException("expected a JSON object with 'inputs'");
        }
        JsonNode inputs = body.get("inputs");
        if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
            throw new InvalidInputException("'inputs' must be a non-empty array of tensors");
        }
        List<Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            tensors.add(tensor(inputs.get(i), "inputs[" + i + "]"));
        }
        Set<String> wanted = new HashSet<>();
        JsonNode outputs = body.get("outputs");
        if (outputs != null) {
            if (!outputs.isArray()) {
                throw new InvalidInputException("'outputs' must be an array of {\"name\": ...}");
            }
            for (JsonNode o : outputs) {
                if (!o.hasNonNull("name") || !o.get("name").isTextual()) {
                    throw new InvalidInputException("each of 'outputs' needs a 'name'");
                }
                wanted.add(o.get("name").textValue());
            }
        }
        String id = body.hasNonNull("id") ? body.get("id").asText() : null;
        long timeoutMillis = serving.timeoutMillis(timeout, timeoutMicros(body));
        return serving.infer(ref, id, signature -> tensors, wanted, timeoutMillis).thenApply(served -> {
            List<Tensor> result = served.response().outputs();
            Set<String> missing = new HashSet<>(wanted);
            result.forEach(t -> missing.remove(t.name()));
            if (!missing.isEmpty()) {
                throw new InvalidInputException("unknown output(s) " + missing + "; the model's outputs are "
                        + served.signature().outputs().stream().map(s -> s.name()).toList());
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model_name", served.response().model());
            out.put("model_version", Integer.toString(served.response().version()));
            if (id != null) {
                out.put("id", id);
            }
            List<Object> outs = new ArrayList<>();
            for (Tensor t : result) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("name", t.name());
                o.put("datatype", t.datatype().name());
                o.put("shape", t.shape());
                o.put("data", TensorCodec.flatJson(t));
                outs.add(o);
            }
            out.put("outputs", outs);
            return out;
        });
    }

    /** The request's {@code parameters.timeout} (microseconds, as Triton has it), or null. */
    static Long timeoutMicros(JsonNode body) {
        JsonNode parameters = body.get("parameters");
        if (parameters == null || parameters.isNull()) {
            return null;
        }
        if (!parameters.isObject()) {
            throw new InvalidInputException("'parameters' must be an object");
        }
        JsonNode timeout = parameters.get("timeout");
        if (timeout == null || timeout.isNull()) {
            return null;
        }
        if (!timeout.isIntegralNumber() || !timeout.canConvertToLong() || timeout.asLong() < 0) {
            throw new InvalidInputException("'parameters.timeout' must be a non-negative integer (microseconds)");
        }
        return timeout.asLong();
    }

    private static Tensor tensor(JsonNode input, String field) {
        if (!input.isObject()) {
            throw new InvalidInputException("'" + field + "' must be an object with name, shape, datatype, data");
        }
        JsonNode name = input.get("name");
        if (name == null || !name.isTextual() || name.textValue().isEmpty()) {
            throw new InvalidInputException("'" + field + ".name' is missing");
        }
        String label = "inputs '" + name.textValue() + "'";
        JsonNode shapeNode = input.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new InvalidInputException("'" + label + ".shape' must be an array of dimensions");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new InvalidInputException("'" + label + ".shape' must hold non-negative integers");
            }
            shape[i] = d.asLong();
        }
        JsonNode datatype = input.get("datatype");
        if (datatype == null || !datatype.isTextual()) {
            throw new InvalidInputException("'" + label + ".datatype' is missing");
        }
        DataType type;
        try {
            type = DataType.parse(datatype.textValue());
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(label + ": " + e.getMessage());
        }
        JsonNode data = input.get("data");
        if (data == null || !(data.isArray() || data.isValueNode()) || data.isNull()) {
            throw new InvalidInputException("'" + label + ".data' is missing");
        }
        Object flat = TensorCodec.flatten(data, type, label + ".data");
        try {
            return Tensor.of(name.textValue(), type, shape, flat);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(label + ": " + e.getMessage());
        }
    }

    private Map<String, Object> metadata(ModelVersionDTO v) {
        ModelSignature signature = serving.signature(v);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", v.name);
        ModelDTO model = repository.call(r -> r.model(v.name));
        m.put("versions", model.versions.stream().map(x -> Integer.toString(x.version)).toList());
        m.put("platform", platforms.getOrDefault(v.engine, v.engine));
        m.put("inputs", signature.inputs());
        m.put("outputs", signature.outputs());
        return m;
    }

    private Response readiness(ModelVersionDTO v) {
        boolean ready = isReady(v.name, v.version);
        return Response.status(ready ? 200 : 400).entity(Map.of("name", v.name, "ready", ready)).build();
    }

    private boolean isReady(String model, int version) {
        for (ModelStatusDTO s : balancer.call(b -> b.status(model, version)).values()) {
            if (s.state == ModelState.READY) {
                return true;
            }
        }
        return false;
    }
}
