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
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/** The KServe v2 Open Inference Protocol over REST. */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/v2")
@Produces(MediaType.APPLICATION_JSON)
public class KServeResource {

    private final Serving serving;
    private final ModelRepository repository;
    private final String version;
    private final Map<String, String> platforms = new ConcurrentHashMap<>();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FractalMetrics metrics;

    @Activate
    public KServeResource(@Reference ModelRepository repository, @Reference LoadBalancer balancer,
            BundleContext context) {
        this.repository = repository;
        this.serving = new Serving(repository, balancer, () -> metrics);
        this.version = context.getBundle().getVersion().toString();
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
        for (ModelDTO m : repository.models()) {
            ready &= isReady(m.name, m.defaultVersion);
        }
        return Response.status(ready ? 200 : 400).entity(Map.of("ready", ready)).build();
    }

    @GET
    @Path("models/{model}")
    @Doc("v2 model metadata (default version)")
    public Map<String, Object> model(@PathParam("model") String model) {
        return metadata(repository.resolve(model, null));
    }

    @GET
    @Path("models/{model}/versions/{version}")
    @Doc("v2 model metadata of a version")
    public Map<String, Object> model(@PathParam("model") String model, @PathParam("version") String version) {
        return metadata(repository.resolve(model, ModelRef.version(version)));
    }

    @GET
    @Path("models/{model}/ready")
    @Doc("v2 model readiness: 200 {\"ready\": true} when ready, 400 {\"ready\": false} when not")
    public Response modelReady(@PathParam("model") String model) {
        return readiness(repository.resolve(model, null));
    }

    @GET
    @Path("models/{model}/versions/{version}/ready")
    @Doc("v2 readiness of a model version")
    public Response modelReady(@PathParam("model") String model, @PathParam("version") String version) {
        return readiness(repository.resolve(model, ModelRef.version(version)));
    }

    @POST
    @Path("models/{model}/infer")
    @Consumes(MediaType.APPLICATION_JSON)
    @Doc("v2 inference on the default version: {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}")
    public CompletionStage<Map<String, Object>> infer(@PathParam("model") String model, JsonNode body) {
        return infer(new ModelRef(model, null), body);
    }

    @POST
    @Path("models/{model}/versions/{version}/infer")
    @Consumes(MediaType.APPLICATION_JSON)
    @Doc("v2 inference on a version")
    public CompletionStage<Map<String, Object>> infer(@PathParam("model") String model,
            @PathParam("version") String version, JsonNode body) {
        return infer(new ModelRef(model, ModelRef.version(version)), body);
    }

    private CompletionStage<Map<String, Object>> infer(ModelRef ref, JsonNode body) {
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
        return serving.infer(ref, id, signature -> tensors, wanted).thenApply(served -> {
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
        ModelDTO model = repository.model(v.name);
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
        for (ModelStatusDTO s : serving.balancer().status(model, version).values()) {
            if (s.state == ModelState.READY) {
                return true;
            }
        }
        return false;
    }
}
