package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.Batching;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import io.fractal.api.rest.Direct;
import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The KServe v2 Open Inference Protocol over REST. The repository and the balancer come from
 * {@link InferrerServices}: the resource stays registered while their bundles are updated, and a request that needs
 * one while it is away waits for it (the inferrer's {@code grace.ms}).
 */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/v2")
@Produces(MediaType.APPLICATION_JSON)
public class KServeResource {

    /** The protocol extensions implemented, as {@code GET /v2} lists them. */
    static final List<String> EXTENSIONS = List.of("binary_tensor_data", "model_configuration",
            "model_repository", "statistics");

    /** How often a repository load looks again at a version that is loading. */
    static final long LOAD_POLL_MS = 50;

    private final InferrerServices services;
    private final DynamicService<ModelRepository> repository;
    private final DynamicService<LoadBalancer> balancer;
    private final Serving serving;
    private final String version;

    @Activate
    public KServeResource(@Reference InferrerServices services, BundleContext context) {
        this.services = services;
        this.repository = services.repository();
        this.balancer = services.balancer();
        this.serving = services.serving();
        this.version = context.getBundle().getVersion().toString();
    }

    @GET
    @Doc("v2 server metadata")
    public Map<String, Object> server() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", SeedResource.NAME);
        m.put("version", version);
        m.put("extensions", EXTENSIONS);
        return m;
    }

    @GET
    @Path("health/live")
    @Access(Level.OPEN)
    @Doc("v2 liveness")
    public Map<String, Object> live() {
        return Map.of("live", true);
    }

    @GET
    @Path("health/ready")
    @Access(Level.OPEN)
    @Doc("v2 readiness: 200 {\"ready\": true} once the models present at start are loaded (or failed for good) and "
            + "while a modelhost serves a model; 400 {\"ready\": false, \"reason\"} otherwise, and from the moment "
            + "the process is asked to stop (the protocol: 200 means true, 4xx false)")
    public Response ready() {
        String reason;
        try {
            reason = services.readiness().notReady(repository.current(), balancer.current());
        } catch (RuntimeException e) {
            reason = "a service is being replaced"; // a repository or balancer stopping under the call: not ready
        }
        return reason == null ? Response.ok(Map.of("ready", true)).build()
                : Response.status(400).entity(Map.of("ready", false, "reason", reason)).build();
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
    @Path("models/{model}/config")
    @Doc("v2 model configuration (Triton's model configuration extension) of the default version: name, platform, "
            + "backend, max_batch_size (0: the server does not batch), input and output with data_type and dims")
    public Map<String, Object> config(@PathParam("model") String model) {
        return configuration(repository.call(r -> r.resolve(model, null)));
    }

    @GET
    @Path("models/{model}/versions/{version}/config")
    @Doc("v2 model configuration of a version")
    public Map<String, Object> config(@PathParam("model") String model, @PathParam("version") String version) {
        Integer v = ModelRef.version(version);
        return configuration(repository.call(r -> r.resolve(model, v)));
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
    @Direct
    @Access(Level.INFERENCE)
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Doc("v2 inference on the default version: {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}, "
            + "whatever the Content-Type; binary tensors after the JSON with header Inference-Header-Content-Length "
            + "(inputs' parameters.binary_data_size; outputs' parameters.binary_data or the request's "
            + "parameters.binary_data_output), or the raw data of a single-input model with that header 0")
    public Object infer(@PathParam("model") String model,
            @HeaderParam(Serving.TIMEOUT_HEADER) String timeout,
            @HeaderParam(KServeCodec.HEADER_LENGTH) String headerLength,
            @HeaderParam(HttpHeaders.CONTENT_ENCODING) String contentEncoding,
            @HeaderParam(HttpHeaders.ACCEPT_ENCODING) String acceptEncoding,
            @HeaderParam(HttpHeaders.ACCEPT) String accept,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength, InputStream body) throws IOException {
        return Answers.settled(infer(new ModelRef(model, null), timeout, headerLength, contentEncoding, acceptEncoding,
                accept, contentLength, body));
    }

    @POST
    @Path("models/{model}/versions/{version}/infer")
    @Direct
    @Access(Level.INFERENCE)
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Doc("v2 inference on a version (as .../infer)")
    public Object infer(@PathParam("model") String model,
            @PathParam("version") String version, @HeaderParam(Serving.TIMEOUT_HEADER) String timeout,
            @HeaderParam(KServeCodec.HEADER_LENGTH) String headerLength,
            @HeaderParam(HttpHeaders.CONTENT_ENCODING) String contentEncoding,
            @HeaderParam(HttpHeaders.ACCEPT_ENCODING) String acceptEncoding,
            @HeaderParam(HttpHeaders.ACCEPT) String accept,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength, InputStream body) throws IOException {
        return Answers.settled(infer(new ModelRef(model, ModelRef.version(version)), timeout, headerLength,
                contentEncoding, acceptEncoding, accept, contentLength, body));
    }

    /** Reads, parses and runs a request within the memory bodies may take; what it reserved returns with the answer. */
    private CompletionStage<Object> infer(ModelRef ref, String timeout, String headerLength, String contentEncoding,
            String acceptEncoding, String accept, String contentLength, InputStream body) throws IOException {
        int factor = headerLength == null ? MemoryBudget.JSON_FACTOR : MemoryBudget.BINARY_FACTOR;
        return services.memory().within(contentLength, contentEncoding, factor, () -> readBody(body, contentEncoding),
                bytes -> infer(ref, timeout, KServeCodec.parse(bytes, headerLength), acceptEncoding, accept));
    }

    private byte[] readBody(InputStream body, String contentEncoding) throws IOException {
        return Bodies.bytes(body, contentEncoding, services.config().max_decompressed_bytes());
    }

    private CompletionStage<Object> infer(ModelRef ref, String timeout, KServeCodec.Request request,
            String acceptEncoding, String accept) {
        Set<String> wanted = request.outputs().keySet();
        long timeoutMillis = serving.timeoutMillis(timeout, request.timeoutMicros());
        return serving.infer(ref, request.id(), request::inputs, wanted, timeoutMillis).thenApply(served -> {
            Set<String> missing = new HashSet<>(wanted);
            served.response().outputs().forEach(t -> missing.remove(t.name()));
            if (!missing.isEmpty()) {
                throw new InvalidInputException("unknown output(s) " + missing + "; the model's outputs are "
                        + served.signature().outputs().stream().map(s -> s.name()).toList());
            }
            return KServeCodec.answer(request, served.response(), Bodies.responseEncoding(acceptEncoding),
                    KServeCodec.takesJson(accept));
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

    // ---- model repository extension --------------------------------------------------------------------------
    // These calls change (or would change) the server: they take no authentication today (another issue adds it).

    @POST
    @Path("repository/index")
    @Access(Level.READ)
    @Doc("v2 repository index (Triton's model repository extension): [{name, version, state, reason}] for every "
            + "version the repository holds, state READY (on a modelhost), LOADING (loading, or waiting for its "
            + "engine) or UNAVAILABLE (with the reason); body optional, {\"ready\": true} lists the READY ones only")
    public List<Map<String, Object>> index(InputStream body) throws IOException {
        boolean readyOnly = false;
        JsonNode request = optionalJson(body, "{\"ready\": true|false} or no body");
        if (request != null) {
            JsonNode ready = request.get("ready");
            if (ready != null && !ready.isNull()) {
                if (!ready.isBoolean()) {
                    throw new InvalidInputException("'ready' must be true or false");
                }
                readyOnly = ready.booleanValue();
            }
        }
        LoadBalancer lb = balancer.await();
        List<Map<String, Object>> index = new ArrayList<>();
        for (ModelDTO m : repository.call(ModelRepository::models)) {
            for (ModelVersionDTO v : m.versions) {
                String[] state = state(lb.status(v.name, v.version).values());
                if (readyOnly && !"READY".equals(state[0])) {
                    continue;
                }
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", v.name);
                e.put("version", Integer.toString(v.version));
                e.put("state", state[0]);
                e.put("reason", state[1]);
                index.add(e);
            }
        }
        return index;
    }

    /** A version's repository state and reason from its states on the modelhosts. */
    static String[] state(Collection<ModelStatusDTO> onHosts) {
        boolean loading = false;
        List<String> reasons = new ArrayList<>();
        for (ModelStatusDTO s : onHosts) {
            if (s.state == ModelState.READY) {
                return new String[] {"READY", ""};
            }
            if (s.state == ModelState.LOADING) {
                loading = true;
            } else if (s.state == ModelState.WAITING_FOR_ENGINE) {
                loading = true;
                reasons.add("waiting for engine '" + s.engine + "'");
            } else if (s.state == ModelState.FAILED) {
                reasons.add("failed to load" + (s.reason == null ? "" : ": " + s.reason));
            } else if (s.state == ModelState.DRAINING) {
                reasons.add("draining");
            }
        }
        if (loading) {
            return new String[] {"LOADING", String.join("; ", reasons)};
        }
        if (onHosts.isEmpty()) {
            reasons.add("not on any live modelhost");
        }
        return new String[] {"UNAVAILABLE", String.join("; ", reasons)};
    }

    @POST
    @Path("repository/models/{model}/load")
    @Doc("v2 repository load: Fractal loads every version it holds by itself, so this answers 200 once the "
            + "default version is READY (waiting up to grace.ms while it loads), 400 if it failed to load, 503 if "
            + "it is still not ready, 404 for an unknown model; parameters.config and file overrides are refused "
            + "(deploy with POST /api/v1/models/{m}). No authentication yet")
    public CompletionStage<Response> load(@PathParam("model") String model, InputStream body) throws IOException {
        JsonNode request = optionalJson(body, "{\"parameters\": {...}} or no body");
        if (request != null) {
            JsonNode parameters = request.get("parameters");
            if (parameters != null && parameters.isObject()) {
                parameters.fieldNames().forEachRemaining(name -> {
                    if (name.equals("config") || name.startsWith("file:")) {
                        throw new InvalidInputException("load with '" + name + "' is not supported: deploy a new "
                                + "version with POST /api/v1/models/" + model);
                    }
                });
            }
        }
        ModelVersionDTO v = repository.call(r -> r.resolve(model, null));
        long until = System.nanoTime() + Math.max(0, services.config().grace_ms()) * 1_000_000L;
        CompletableFuture<Response> answer = new CompletableFuture<>();
        awaitLoaded(v, until, answer);
        return answer;
    }

    private void awaitLoaded(ModelVersionDTO v, long until, CompletableFuture<Response> answer) {
        try {
            String[] state = state(balancer.call(b -> b.status(v.name, v.version)).values());
            if ("READY".equals(state[0])) {
                answer.complete(Response.ok(Map.of()).build());
            } else if ("LOADING".equals(state[0]) && System.nanoTime() - until < 0) {
                CompletableFuture.runAsync(() -> awaitLoaded(v, until, answer),
                        CompletableFuture.delayedExecutor(LOAD_POLL_MS, TimeUnit.MILLISECONDS));
            } else {
                int status = state[1].contains("failed to load") ? 400 : 503;
                answer.complete(Response.status(status).entity(Map.of("error", "model '" + v.name + "' version "
                        + v.version + " is " + state[0] + (state[1].isEmpty() ? "" : ": " + state[1]))).build());
            }
        } catch (RuntimeException e) {
            answer.completeExceptionally(e);
        }
    }

    @POST
    @Path("repository/models/{model}/unload")
    @Doc("v2 repository unload: not supported (a version stays loaded while the repository holds it; "
            + "DELETE /api/v1/models/{m} removes it): 400, or 404 for an unknown model")
    public Response unload(@PathParam("model") String model, InputStream body) {
        ModelDTO m = repository.call(r -> r.model(model));
        throw new InvalidInputException("unload is not supported: Fractal keeps every version of '" + m.name
                + "' loaded while the repository holds it; DELETE /api/v1/models/" + m.name
                + " removes the model (and its file)");
    }

    private static JsonNode optionalJson(InputStream body, String expected) throws IOException {
        byte[] b = body == null ? new byte[0] : Bodies.bytes(body);
        if (new String(b, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
            return null;
        }
        JsonNode json = Bodies.json(b, 0, b.length, expected);
        if (!json.isObject()) {
            throw new InvalidInputException("the body must be a JSON object: " + expected);
        }
        return json;
    }

    // ---- statistics extension ------------------------------------------------------------------------------

    @GET
    @Path("models/stats")
    @Doc("v2 statistics of every version of every model (Triton's statistics extension): {model_stats: [{name, "
            + "version, last_inference, inference_count, execution_count, inference_stats: {success, fail, queue, "
            + "compute_infer: {count, ns}}}]}, counted since the inferrer bundle started, v1 and v2 requests alike")
    public Map<String, Object> stats() {
        List<Map<String, Object>> all = new ArrayList<>();
        for (ModelDTO m : repository.call(ModelRepository::models)) {
            for (ModelVersionDTO v : m.versions) {
                all.add(serving.stats().json(v.name, v.version));
            }
        }
        return Map.of("model_stats", all);
    }

    @GET
    @Path("models/{model}/stats")
    @Doc("v2 statistics of every version of a model")
    public Map<String, Object> stats(@PathParam("model") String model) {
        ModelDTO m = repository.call(r -> r.model(model));
        return Map.of("model_stats", m.versions.stream().map(v -> serving.stats().json(v.name, v.version)).toList());
    }

    @GET
    @Path("models/{model}/versions/{version}/stats")
    @Doc("v2 statistics of a model version")
    public Map<String, Object> stats(@PathParam("model") String model, @PathParam("version") String version) {
        Integer n = ModelRef.version(version);
        ModelVersionDTO v = repository.call(r -> r.resolve(model, n));
        return Map.of("model_stats", List.of(serving.stats().json(v.name, v.version)));
    }

    private Map<String, Object> metadata(ModelVersionDTO v) {
        ModelSignature signature = serving.signature(v);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", v.name);
        ModelDTO model = repository.call(r -> r.model(v.name));
        m.put("versions", model.versions.stream().map(x -> Integer.toString(x.version)).toList());
        m.put("platform", ModelConfig.tritonPlatform(services.platform(v.engine))); // as Triton and the config say it
        m.put("inputs", signature.inputs());
        m.put("outputs", signature.outputs());
        if (signature.origin() != null) {
            // where the inputs and outputs come from: "metadata", "model file", "first call", or two of them
            m.put("parameters", Map.of("signature_origin", signature.origin()));
        }
        return m;
    }

    private Map<String, Object> configuration(ModelVersionDTO v) {
        ModelSignature signature = serving.signature(v);
        String platform = services.platform(v.engine);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", v.name);
        m.put("platform", ModelConfig.tritonPlatform(platform));
        m.put("backend", ModelConfig.tritonBackend(platform));
        m.put("version_policy", Map.of("specific", Map.of("versions", List.of(v.version))));
        Batching batching = batching(v);
        ModelConfig.batching(m, batching);
        m.put("input", ModelConfig.tensors(signature.inputs(), batching.maxBatchSize() > 0));
        m.put("output", ModelConfig.tensors(signature.outputs(), batching.maxBatchSize() > 0));
        return m;
    }

    /** How the version is batched: as a modelhost holding it does (its configuration may override), else declared. */
    private Batching batching(ModelVersionDTO v) {
        for (ModelStatusDTO s : balancer.call(b -> b.status(v.name, v.version)).values()) {
            if (s.batching != null) {
                return s.batching;
            }
        }
        return v.batching == null ? Batching.OFF : v.batching;
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
