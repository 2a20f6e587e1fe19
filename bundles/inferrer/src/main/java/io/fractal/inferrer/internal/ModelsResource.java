package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import io.fractal.api.rest.Direct;
import io.fractal.api.rest.Doc;
import io.fractal.api.rest.RestWhiteboard;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import org.glassfish.jersey.media.multipart.FormDataBodyPart;
import org.glassfish.jersey.media.multipart.FormDataMultiPart;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The v1 API: model management and predictions, as the seed system's users knew it. The repository and the
 * balancer come from {@link InferrerServices}: the resource stays registered while their bundles are updated, and a
 * request that needs one while it is away waits for it (the inferrer's {@code grace.ms}).
 */
@Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")
@Path("/api/v1/models")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {

    private final InferrerServices services;
    private final DynamicService<ModelRepository> repository;
    private final DynamicService<LoadBalancer> balancer;
    private final Serving serving;

    @Activate
    public ModelsResource(@Reference InferrerServices services) {
        this.services = services;
        this.repository = services.repository();
        this.balancer = services.balancer();
        this.serving = services.serving();
    }

    @GET
    @Doc("Lists the models with their versions and default version")
    public Map<String, Object> list() {
        List<Object> models = new ArrayList<>();
        for (ModelDTO m : repository.call(ModelRepository::models)) {
            models.add(model(m));
        }
        return Map.of("models", models);
    }

    @GET
    @Path("{model}")
    @Doc("One model: engine, versions, inputs and outputs, and its state on each modelhost")
    public Map<String, Object> get(@PathParam("model") String model) {
        String name = ModelRef.parse(model).name();
        return model(repository.call(r -> r.model(name)));
    }

    @GET
    @Path("{model}/information")
    @Doc("The same as GET /api/v1/models/{model}")
    public Map<String, Object> information(@PathParam("model") String model) {
        return get(model);
    }

    @POST
    @Path("{model}")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Doc("Uploads a new version: multipart field 'path' (the file), optional 'metadata' (model.json: inputs, "
            + "outputs, labels), 'model_description', 'engine', 'make_default' (true)")
    public Response upload(@PathParam("model") String model, FormDataMultiPart form) throws IOException {
        FormDataBodyPart file = form == null ? null : form.getField("path");
        if (file == null) {
            throw new InvalidInputException("multipart field 'path' (the model file) is missing");
        }
        String fileName = file.getContentDisposition() == null ? null : file.getContentDisposition().getFileName();
        FormDataBodyPart metadata = form.getField("metadata");
        try (InputStream in = file.getValueAs(InputStream.class);
                InputStream json = metadata == null ? null : metadata.getValueAs(InputStream.class)) {
            // not repeated on another repository instance: the upload's streams are read once
            ModelVersionDTO v = repository.await().deploy(model, fileName == null ? model : fileName, in, json,
                    text(form, "engine"), text(form, "model_description"),
                    !"false".equalsIgnoreCase(text(form, "make_default")));
            return Response.status(201).entity(version(v)).build();
        }
    }

    @POST
    @Path("{model}")
    @Consumes(MediaType.APPLICATION_OCTET_STREAM)
    @Doc("Uploads a new version as the raw body; query parameters file_name (its type picks the engine), engine, "
            + "model_description, make_default")
    public Response uploadRaw(@PathParam("model") String model, @QueryParam("file_name") String fileName,
            @QueryParam("engine") String engine, @QueryParam("model_description") String description,
            @QueryParam("make_default") String makeDefault, InputStream body) throws IOException {
        if (fileName == null && engine == null) {
            throw new InvalidInputException("say what the raw body is: query parameter 'file_name' (e.g. model.pt) "
                    + "or 'engine'");
        }
        ModelVersionDTO v = repository.await().deploy(model, fileName == null ? model : fileName, body, engine,
                description, !"false".equalsIgnoreCase(makeDefault));
        return Response.status(201).entity(version(v)).build();
    }

    @POST
    @Path("{model}")
    @Doc("Uploads a new version whatever else the Content-Type says (none, or curl's form type of --data-binary): "
            + "the raw body, as with application/octet-stream, when file_name or engine says what it is")
    public Response uploadOther(@PathParam("model") String model, @QueryParam("file_name") String fileName,
            @QueryParam("engine") String engine, @QueryParam("model_description") String description,
            @QueryParam("make_default") String makeDefault, InputStream body) throws IOException {
        if (fileName == null && engine == null) {
            throw new InvalidInputException("POST /api/v1/models/{model} uploads a model: as multipart/form-data "
                    + "(field 'path', the file) or as the raw body with query parameter 'file_name' (e.g. "
                    + "?file_name=model.pt) or 'engine'");
        }
        return uploadRaw(model, fileName, engine, description, makeDefault, body);
    }

    @POST
    @Path("{model}/default")
    @Doc("Sets the default version: {\"default\": N} (JSON, whatever the Content-Type)")
    public Map<String, Object> setDefault(@PathParam("model") String model, InputStream body) throws IOException {
        return setDefault(model, Bodies.json(body, "{\"default\": N}"));
    }

    Map<String, Object> setDefault(String model, JsonNode body) {
        JsonNode v = body == null ? null : body.get("default");
        if (v == null || !v.canConvertToInt() || v.asInt() < 1) {
            throw new InvalidInputException("expected {\"default\": N} with a version number N");
        }
        String name = ModelRef.parse(model).name();
        repository.call(r -> {
            r.setDefaultVersion(name, v.asInt());
            return null;
        });
        return get(model);
    }

    @POST
    @Path("{model}/information")
    @Doc("Sets the description of a version (default: the default one): {\"model_description\": \"...\"} (JSON, "
            + "whatever the Content-Type)")
    public Map<String, Object> describe(@PathParam("model") String model, InputStream body) throws IOException {
        return describe(model, Bodies.json(body, "{\"model_description\": \"...\"}"));
    }

    Map<String, Object> describe(String model, JsonNode body) {
        JsonNode d = body == null ? null : body.get("model_description");
        if (d == null || !d.isTextual()) {
            throw new InvalidInputException("expected {\"model_description\": \"...\"}");
        }
        ModelRef ref = ModelRef.parse(model);
        repository.call(r -> {
            r.setDescription(ref.name(), ref.version(), d.textValue());
            return null;
        });
        return get(ref.name());
    }

    @GET
    @Path("{model}/download")
    @Access(Level.MANAGEMENT)
    @Produces(MediaType.APPLICATION_OCTET_STREAM)
    @Doc("Downloads the exact bytes of a version's model file (?version=N; default: the default version)")
    public Response download(@PathParam("model") String model, @QueryParam("version") String version)
            throws IOException {
        ModelRef ref = ModelRef.parse(model);
        Integer v = version != null ? ModelRef.version(version) : ref.version();
        ModelRepository r = repository.await();
        ModelVersionDTO dto = r.resolve(ref.name(), v);
        String fileName = r.fileName(ref.name(), dto.version);
        InputStream in = r.open(ref.name(), dto.version);
        StreamingOutput body = out -> {
            try (in) {
                in.transferTo(out);
            }
        };
        String ext = fileName.contains(".") ? fileName.substring(fileName.lastIndexOf('.')) : "";
        return Response.ok(body).header("Content-Disposition", "attachment; filename=\"" + ref.name() + "-v"
                + dto.version + ext + "\"").header("Content-Length", dto.size).build();
    }

    @DELETE
    @Path("{model}")
    @Doc("Deletes a model with all its versions, or one version as {model}:{version}")
    public Map<String, Object> delete(@PathParam("model") String model) {
        ModelRef ref = ModelRef.parse(model);
        repository.call(r -> {
            r.delete(ref.name(), ref.version());
            return null;
        });
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("deleted", ref.name());
        if (ref.version() != null) {
            out.put("version", ref.version());
        }
        return out;
    }

    @POST
    @Path("{model}/prediction")
    @Direct
    @Access(Level.INFERENCE)
    @Doc("Predicts: {\"values\": [...]} with one observation or a list of them (JSON, whatever the Content-Type); "
            + "{model}:{version} picks a version")
    public Object predict(@PathParam("model") String model,
            @HeaderParam(Serving.TIMEOUT_HEADER) String timeout,
            @HeaderParam(HttpHeaders.CONTENT_ENCODING) String contentEncoding,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength, InputStream body) throws IOException {
        // within the memory bodies may take: what it reserved returns with the answer
        return Answers.settled(services.memory().within(contentLength, contentEncoding, MemoryBudget.JSON_FACTOR,
                () -> Bodies.bytes(body, contentEncoding, services.config().max_decompressed_bytes()),
                bytes -> predict(model, timeout, Bodies.json(bytes, 0, bytes.length,
                        "a JSON object {\"values\": [...]}"))));
    }

    CompletionStage<Map<String, Object>> predict(String model, String timeout, JsonNode body) {
        if (body == null || !body.isObject() || !body.has("values")) {
            throw new InvalidInputException("expected a JSON object {\"values\": [...]}");
        }
        JsonNode values = body.get("values");
        ModelRef ref = ModelRef.parse(model);
        long timeoutMillis = serving.timeoutMillis(timeout, null);
        boolean[] single = new boolean[1];
        return serving.infer(ref, null, signature -> inputs(values, signature, single), Set.of(), timeoutMillis)
                .thenApply(served -> {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("model", served.response().model());
                    out.put("version", served.response().version());
                    out.put("modelhost", served.response().modelhost());
                    List<Tensor> outputs = served.response().outputs();
                    int drop = single[0] ? 1 : 0;
                    Tensor first = outputs.get(0);
                    out.put("values", TensorCodec.nestedJson(first, drop));
                    Object labels = labels(first, served.signature().labels(), single[0]);
                    if (labels != null) {
                        out.put("labels", labels);
                    }
                    if (outputs.size() > 1) {
                        Map<String, Object> all = new LinkedHashMap<>();
                        for (Tensor t : outputs) {
                            all.put(t.name(), TensorCodec.nestedJson(t, drop));
                        }
                        out.put("outputs", all);
                    }
                    return out;
                });
    }

    /**
     * The v1 inputs: an array for a one-input model (one observation, or a list of them), or an object of arrays
     * by input name. A lone observation gets a batch dimension of 1, which the answer drops again. Without a
     * declared shape, a 1-D or 3-D array is one observation, a 2-D or 4-D one a batch.
     */
    static List<Tensor> inputs(JsonNode values, ModelSignature signature, boolean[] single) {
        List<TensorSpec> specs = signature.inputs();
        if (values.isObject()) {
            List<Tensor> tensors = new ArrayList<>();
            Iterator<Map.Entry<String, JsonNode>> fields = values.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> f = fields.next();
                TensorSpec spec = specs.stream().filter(s -> s.name().equals(f.getKey())).findFirst().orElse(null);
                tensors.add(tensor(f.getKey(), f.getValue(), spec, single));
            }
            if (tensors.isEmpty()) {
                throw new InvalidInputException("'values' is empty");
            }
            return tensors;
        }
        if (!values.isArray() || values.isEmpty()) {
            throw new InvalidInputException("'values' must be a non-empty array of numbers or of observations");
        }
        if (specs.size() > 1) {
            throw new InvalidInputException("the model takes " + specs.size() + " inputs " + specs
                    + ": give 'values' as an object of arrays by input name");
        }
        TensorSpec spec = specs.isEmpty() ? null : specs.get(0);
        return List.of(tensor(spec == null ? "input" : spec.name(), values, spec, single));
    }

    private static Tensor tensor(String name, JsonNode values, TensorSpec spec, boolean[] single) {
        String field = "values" + (name.equals("input") ? "" : "." + name);
        long[] shape = TensorCodec.shapeOf(values, field);
        long[] declared = spec == null ? null : spec.shape();
        // With a declared shape, one observation has one dimension less. Without one (a bare model file whose
        // engine declares nothing), a list of numbers (one tabular row) and a 3-D array (one image, channels
        // first) are one observation, as the old v1 API took them; 2-D (rows) and 4-D (images) arrays are batches.
        boolean one = declared != null ? shape.length == declared.length - 1
                : shape.length == 1 || shape.length == 3;
        if (one) {
            long[] batched = new long[shape.length + 1];
            batched[0] = 1;
            System.arraycopy(shape, 0, batched, 1, shape.length);
            shape = batched;
            single[0] = true;
        }
        DataType type = spec == null || spec.datatype() == null ? DataType.FP32 : spec.datatype();
        return Tensor.of(name, type, shape, TensorCodec.flatten(values, type, field));
    }

    /** The label of the most likely class per observation, when the model has labels for its output columns. */
    private static Object labels(Tensor output, List<String> labels, boolean single) {
        long[] shape = output.shape();
        if (labels.isEmpty() || shape.length != 2 || shape[1] != labels.size() || !output.datatype().isFloatingPoint()) {
            return null;
        }
        List<String> out = new ArrayList<>();
        int cols = (int) shape[1];
        for (int r = 0; r < shape[0]; r++) {
            int best = 0;
            for (int c = 1; c < cols; c++) {
                if (output.getDouble(r * cols + c) > output.getDouble(r * cols + best)) {
                    best = c;
                }
            }
            out.add(labels.get(best));
        }
        return single && out.size() == 1 ? out.get(0) : out;
    }

    private Map<String, Object> model(ModelDTO m) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", m.name);
        out.put("default_version", m.defaultVersion);
        m.versions.stream().filter(v -> v.version == m.defaultVersion).findFirst()
                .ifPresent(v -> out.put("engine", v.engine));
        List<Object> versions = new ArrayList<>();
        for (ModelVersionDTO v : m.versions) {
            versions.add(version(v));
        }
        out.put("versions", versions);
        return out;
    }

    private Map<String, Object> version(ModelVersionDTO v) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("version", v.version);
        out.put("engine", v.engine);
        out.put("description", v.description);
        out.put("source", v.source);
        out.put("sha256", v.sha256);
        out.put("size", v.size);
        out.put("created", Instant.ofEpochMilli(v.created).toString());
        LoadBalancer lb = balancer.await();
        ModelSignature signature = serving.signature(v, lb);
        out.put("inputs", signature.inputs());
        out.put("outputs", signature.outputs());
        out.put("labels", signature.labels());
        Map<String, String> states = new LinkedHashMap<>();
        Map<String, String> failures = new LinkedHashMap<>();
        for (Map.Entry<String, ModelStatusDTO> e : balancer.call(b -> b.status(v.name, v.version)).entrySet()) {
            states.put(e.getKey(), e.getValue().state.name());
            if (e.getValue().reason != null) {
                failures.put(e.getKey(), e.getValue().reason);
            }
        }
        out.put("modelhosts", states);
        if (!failures.isEmpty()) {
            out.put("failures", failures);
        }
        return out;
    }

    private static String text(FormDataMultiPart form, String field) {
        FormDataBodyPart part = form.getField(field);
        return part == null ? null : part.getValue();
    }
}
