package io.fractal.shell.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.balancer.BalancerDTO;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.balancer.Strategy;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.host.ModelHostAdmin;
import io.fractal.api.host.ModelHostConfigDTO;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.Tensor;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.felix.service.command.Descriptor;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/** Gogo commands for models, modelhosts, the balancer, engines and predictions; only the API services are used. */
@Component(service = FractalCommands.class, property = {
        "osgi.command.scope=fractal",
        "osgi.command.function=models", "osgi.command.function=model", "osgi.command.function=deploy",
        "osgi.command.function=undeploy", "osgi.command.function=setdefault", "osgi.command.function=describe",
        "osgi.command.function=modelhosts", "osgi.command.function=balancer", "osgi.command.function=strategy",
        "osgi.command.function=engines", "osgi.command.function=predict", "osgi.command.function=addmodelhost",
        "osgi.command.function=removemodelhost", "osgi.command.function=drain", "osgi.command.function=resume",
        "osgi.command.function=stats" })
public class FractalCommands {

    private final ModelRepository repository;
    private final LoadBalancer balancer;
    private final ModelHostAdmin admin;
    private final List<InferenceEngine> engines = new CopyOnWriteArrayList<>();
    private final ObjectMapper json = new ObjectMapper();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FractalMetrics metrics;

    @Activate
    public FractalCommands(@Reference ModelRepository repository, @Reference LoadBalancer balancer,
            @Reference ModelHostAdmin admin) {
        this.repository = repository;
        this.balancer = balancer;
        this.admin = admin;
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindEngine(InferenceEngine engine) {
        engines.add(engine);
    }

    void unbindEngine(InferenceEngine engine) {
        engines.remove(engine);
    }


    @Descriptor("list the models: name, default version, versions, engine, state on the modelhosts")
    public String models() {
        Table t = new Table("MODEL", "DEFAULT", "VERSIONS", "ENGINE", "STATE");
        for (ModelDTO m : repository.models()) {
            ModelVersionDTO d = m.versions.stream().filter(v -> v.version == m.defaultVersion).findFirst().orElse(null);
            t.row(m.name, m.defaultVersion, m.versions.stream().map(v -> Integer.toString(v.version)).toList(),
                    d == null ? null : d.engine, states(m.name, m.defaultVersion));
        }
        return t.toString();
    }

    @Descriptor("show one model with its versions")
    public String model(@Descriptor("model name") String name) {
        ModelDTO m = repository.model(name);
        StringBuilder b = new StringBuilder(m.name + " (default version " + m.defaultVersion + ")\n");
        Table t = new Table("VERSION", "ENGINE", "SIZE", "SHA256", "SOURCE", "DESCRIPTION", "STATE");
        for (ModelVersionDTO v : m.versions) {
            t.row(v.version, v.engine, v.size, v.sha256 == null ? null : v.sha256.substring(0, 12), v.source,
                    v.description, states(m.name, v.version));
        }
        return b.append(t).toString();
    }

    @Descriptor("deploy a model file as a new version")
    public String deploy(@Descriptor("model name") String name, @Descriptor("path of the model file") String file)
            throws Exception {
        Path path = Path.of(file);
        try (InputStream in = Files.newInputStream(path)) {
            ModelVersionDTO v = repository.deploy(name, path.getFileName().toString(), in, null, null, true);
            return "deployed " + v.name + ":" + v.version + " (" + v.engine + ")";
        }
    }

    @Descriptor("remove a model, or one version of it")
    public String undeploy(@Descriptor("model name") String name) {
        repository.delete(name, null);
        return "removed " + name;
    }

    @Descriptor("remove one version of a model")
    public String undeploy(@Descriptor("model name") String name, @Descriptor("version") int version) {
        repository.delete(name, version);
        return "removed " + name + ":" + version;
    }

    @Descriptor("set the default version of a model")
    public String setdefault(@Descriptor("model name") String name, @Descriptor("version") int version) {
        repository.setDefaultVersion(name, version);
        return name + " now defaults to version " + version;
    }

    @Descriptor("set the description of a model's default version")
    public String describe(@Descriptor("model name") String name, @Descriptor("description") String description) {
        repository.setDescription(name, null, description);
        return "described " + name;
    }

    @Descriptor("list the live modelhosts with their counters")
    public String modelhosts() {
        Table t = new Table("ID", "STATE", "WORKERS", "QUEUE", "IN-FLIGHT", "QUEUED", "SERVED", "FAILED", "REJECTED",
                "MODELS", "LOADED");
        for (ModelHostDTO h : balancer.modelHosts()) {
            t.row(h.id, h.state, h.workers, h.queueCapacity, h.inFlight, h.queued, h.served, h.failed, h.rejected,
                    h.models, h.loaded.stream().map(s -> s.model + ":" + s.version + "=" + s.state).toList());
        }
        return t.toString();
    }

    @Descriptor("add a modelhost with default settings (2 workers, queue 64, all models)")
    public String addmodelhost(@Descriptor("modelhost id") String id) {
        return addmodelhost(id, 2, 64, "*");
    }

    @Descriptor("add a modelhost")
    public String addmodelhost(@Descriptor("modelhost id") String id, @Descriptor("worker threads") int workers,
            @Descriptor("queue capacity") int queue, @Descriptor("models it serves: globs, '*' for all") String models) {
        ModelHostConfigDTO c = new ModelHostConfigDTO();
        c.id = id;
        c.workers = workers;
        c.queueCapacity = queue;
        c.models = models;
        admin.create(c);
        return "modelhost " + id + " added";
    }

    @Descriptor("remove a modelhost: it finishes its queued and running requests, then goes")
    public String removemodelhost(@Descriptor("modelhost id") String id) {
        return admin.remove(id) ? "modelhost " + id + " removed" : "no modelhost " + id;
    }

    @Descriptor("drain a modelhost: no new requests, it finishes the rest and idles until removed or resumed")
    public String drain(@Descriptor("modelhost id") String id) {
        return admin.drain(id) ? "modelhost " + id + " draining" : "no live modelhost " + id;
    }

    @Descriptor("let a drained modelhost take requests again")
    public String resume(@Descriptor("modelhost id") String id) {
        return admin.resume(id) ? "modelhost " + id + " resumed" : "no live modelhost " + id;
    }

    @Descriptor("show the balancer: strategy and modelhosts as it sees them")
    public String balancer() {
        BalancerDTO b = balancer.describe();
        Table t = new Table("MODELHOST", "EJECTED", "FAILURES", "OUTSTANDING", "ROUTED");
        for (BalancerDTO.Candidate c : b.modelhosts) {
            t.row(c.id, c.ejected, c.consecutiveFailures, c.outstanding, c.routed);
        }
        return "strategy " + b.strategy + ", " + b.decisions + " decisions, " + b.retries + " retries, " + b.ejections
                + " ejections\n" + t;
    }

    @Descriptor("switch the balancing strategy live: ROUND_ROBIN, LEAST_OUTSTANDING or POWER_OF_TWO")
    public String strategy(@Descriptor("strategy") String strategy) {
        Strategy s;
        try {
            s = Strategy.valueOf(strategy.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            return "unknown strategy '" + strategy + "'; choose one of " + Arrays.toString(Strategy.values());
        }
        balancer.setStrategy(s);
        return "strategy " + s;
    }

    @Descriptor("the main metrics: requests and latency per model, queues per modelhost, balancer, memory")
    public String stats() {
        FractalMetrics m = metrics;
        if (m == null) {
            return "the metrics bundle is not running";
        }
        StringBuilder b = new StringBuilder();
        for (String prefix : List.of("fractal_request_seconds", "fractal_inference_seconds", "fractal_queue_seconds",
                "fractal_modelhost_", "fractal_modelhosts_live", "fractal_balancer_", "fractal_http_requests_total",
                "process_resident_memory_bytes")) {
            m.samples(prefix).forEach((k, v) -> b.append(String.format("%-100s %s%n", k, format(v))));
        }
        return b.toString();
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format("%.6f", v);
    }

    @Descriptor("list the engines")
    public String engines() {
        Table t = new Table("ENGINE", "PLATFORM", "FILE TYPES", "STATE");
        for (InferenceEngine e : engines) {
            t.row(e.name(), e.platform(), e.fileExtensions(), "ACTIVE");
        }
        return t.toString();
    }

    @Descriptor("predict with a model: the input is a JSON array of numbers (one observation or a list of them)")
    public String predict(@Descriptor("model name, or name:version") String model,
            @Descriptor("the input: a JSON array (quoted) or a Gogo list, e.g. [5.1,3.5,1.4,0.2]") Object input)
            throws Exception {
        String name = model;
        Integer version = null;
        int colon = model.lastIndexOf(':');
        if (colon > 0) {
            name = model.substring(0, colon);
            version = Integer.valueOf(model.substring(colon + 1));
        }
        ModelVersionDTO v = repository.resolve(name, version);
        // A quoted input arrives as text; Gogo reads an unquoted [a,b] or [a b] as a list, whose text is JSON too.
        JsonNode values = json.readTree(String.valueOf(input));
        List<Double> flat = new ArrayList<>();
        long[] shape = shape(values, flat);
        if (shape.length == 1) {
            shape = new long[] {1, shape[0]};
        }
        float[] data = new float[flat.size()];
        for (int i = 0; i < data.length; i++) {
            data[i] = flat.get(i).floatValue();
        }
        String inputName = v.signature != null && !v.signature.inputs().isEmpty() ? v.signature.inputs().get(0).name()
                : "input";
        InferenceResponse r;
        try {
            r = balancer.infer(InferenceRequest.of(v.name, v.version,
                    List.of(Tensor.of(inputName, DataType.FP32, shape, data)))).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
        StringBuilder b = new StringBuilder(v.name + ":" + v.version + " on " + r.modelhost() + "\n");
        for (Tensor t : r.outputs()) {
            b.append(t.name()).append(' ').append(Arrays.toString(t.shape())).append(' ')
                    .append(Arrays.toString(t.toDoubles())).append('\n');
        }
        return b.toString();
    }

    private static long[] shape(JsonNode node, List<Double> flat) {
        if (!node.isArray()) {
            throw new IllegalArgumentException("the input must be a JSON array");
        }
        List<Long> dims = new ArrayList<>();
        JsonNode n = node;
        while (n.isArray()) {
            dims.add((long) n.size());
            n = n.size() == 0 ? null : n.get(0);
            if (n == null) {
                break;
            }
        }
        collect(node, flat);
        return dims.stream().mapToLong(Long::longValue).toArray();
    }

    private static void collect(JsonNode node, List<Double> flat) {
        if (node.isArray()) {
            node.forEach(c -> collect(c, flat));
        } else {
            flat.add(node.asDouble());
        }
    }

    private String states(String model, int version) {
        Map<String, ModelStatusDTO> status = balancer.status(model, version);
        return status.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue().state).toList().toString();
    }
}
