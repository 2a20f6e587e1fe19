package io.fractal.inferrer.internal;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.host.ModelHostAdmin;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * What the REST resources of this bundle share: the services they call, the configuration, one timer for their
 * deadlines, the inference statistics and the serving path (with its signature cache). The repository, the
 * balancer, the modelhost administration and the metrics are dynamic references held here: while their bundles are
 * updated the resources stay registered, and a request that needs one while it is away waits for it up to
 * {@code grace.ms}. The resources take this component by a static reference; it is registered under its own
 * internal type, so only this bundle sees it, and its configuration changes without restarting anything.
 */
@Component(service = InferrerServices.class, immediate = true, configurationPid = InferrerConfiguration.PID)
@Designate(ocd = InferrerConfiguration.class)
public class InferrerServices {

    private final Deadlines deadlines = new Deadlines("fractal-inferrer-deadlines");
    private final DynamicService<ModelRepository> repository;
    private final DynamicService<LoadBalancer> balancer;
    private final DynamicService<ModelHostAdmin> admin;
    private final Serving serving;
    private final Readiness readiness = new Readiness();
    private volatile MemoryBudget memory;
    private final Map<String, String> platforms = new ConcurrentHashMap<>();
    private volatile InferrerConfiguration config;
    private volatile FractalMetrics metrics;

    @Activate
    public InferrerServices(InferrerConfiguration config) {
        this.config = config;
        this.memory = budget(config);
        this.repository = new DynamicService<>("the model repository", () -> this.config.grace_ms(), deadlines);
        this.balancer = new DynamicService<>("the balancer", () -> this.config.grace_ms(), deadlines);
        this.admin = new DynamicService<>("the modelhost administration", () -> this.config.grace_ms(), deadlines);
        this.serving = new Serving(repository, balancer, () -> metrics, () -> this.config, deadlines,
                new ServingStats());
    }

    @Modified
    void modified(InferrerConfiguration newConfig) {
        if (newConfig.body_memory_bytes() != config.body_memory_bytes()) {
            this.memory = budget(newConfig); // leases of the old budget return to it
        }
        this.config = newConfig;
    }

    /**
     * This component goes (its bundle is updated or stops; DS has deactivated the resources just before) while the
     * services it holds stay: the requests that still reach the old resources finish with them rather than wait
     * for services DS will not bind here any more; the timer takes their deadlines for a moment more, then ends.
     */
    @Deactivate
    void deactivate() {
        deadlines.retire(Deadlines.RETIRE_AFTER_MS);
        repository.retain();
        balancer.retain();
        admin.retain();
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

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindAdmin(ModelHostAdmin a) {
        admin.bind(a);
    }

    void unbindAdmin(ModelHostAdmin a) {
        admin.unbind(a);
    }

    /**
     * A new metrics service (its bundle updated) starts empty: the request series of every version come back at
     * once, with zero counts, rather than at each one's next request. (v1 and v2 record the same series.)
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMetrics(FractalMetrics m) {
        metrics = m;
        ModelRepository r = repository.current();
        if (r == null) {
            return;
        }
        try {
            for (ModelDTO model : r.models()) {
                for (ModelVersionDTO v : model.versions) {
                    m.timer("fractal_request_seconds", "model", v.name, "version", Integer.toString(v.version));
                }
            }
        } catch (RuntimeException e) {
            // the repository or the metrics went meanwhile: the series come back with the next request
        }
    }

    void unbindMetrics(FractalMetrics m) {
        if (metrics == m) {
            metrics = null;
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindEngine(InferenceEngine engine) {
        platforms.put(engine.name(), engine.platform());
    }

    void unbindEngine(InferenceEngine engine) {
        // Keep the platform name: a model's platform does not change while its engine is updated.
    }

    /** The configuration as it is now (it may change under a request: read it once per use). */
    InferrerConfiguration config() {
        return config;
    }

    /** The timer of the resources' deadlines. */
    Deadlines deadlines() {
        return deadlines;
    }

    DynamicService<ModelRepository> repository() {
        return repository;
    }

    DynamicService<LoadBalancer> balancer() {
        return balancer;
    }

    DynamicService<ModelHostAdmin> admin() {
        return admin;
    }

    /** Predictions and signatures for v1 and v2 alike, counted in one set of statistics. */
    /** The memory request bodies may take while parsed. */
    MemoryBudget memory() {
        return memory;
    }

    private static MemoryBudget budget(InferrerConfiguration c) {
        return new MemoryBudget(c.body_memory_bytes() > 0 ? c.body_memory_bytes() : MemoryBudget.defaultCapacity());
    }

    Readiness readiness() {
        return readiness;
    }

    Serving serving() {
        return serving;
    }

    /** The platform of the engine named {@code engine} (as it last said), else the engine's name. */
    String platform(String engine) {
        return platforms.getOrDefault(engine, engine);
    }
}
