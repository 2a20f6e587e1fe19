package io.fractal.inferrer.internal;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.host.ModelHostAdmin;
import io.fractal.api.host.ModelState;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
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

    private static final Logger LOG = Logger.getLogger(InferrerServices.class.getName());
    /** Set once the request path of this JVM has been warmed: an update of this bundle does not warm it again. */
    static final String WARMED_UP = "io.fractal.inferrer.warmed-up";
    /** The REST listener's configuration (bundle io.fractal.http), read for the address warm-up requests go to. */
    private static final String REST_PID = "io.fractal.rest";

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
    private volatile ConfigurationAdmin configurationAdmin;
    private volatile Thread warmup;

    @Activate
    public InferrerServices(InferrerConfiguration config) {
        this.config = config;
        this.memory = budget(config);
        this.repository = new DynamicService<>("the model repository", () -> this.config.grace_ms(), deadlines);
        this.balancer = new DynamicService<>("the balancer", () -> this.config.grace_ms(), deadlines);
        this.admin = new DynamicService<>("the modelhost administration", () -> this.config.grace_ms(), deadlines);
        this.serving = new Serving(repository, balancer, () -> metrics, () -> this.config, deadlines,
                new ServingStats());
        if (config.warmup_ms() > 0 && !Boolean.getBoolean(WARMED_UP)) {
            readiness.expectWarmup();
            Thread t = new Thread(this::warmUp, "fractal-inferrer-warmup");
            t.setDaemon(true);
            warmup = t;
            t.start();
        }
    }

    /**
     * Once the models present at start are loaded (what readiness waits for), warms the request path with
     * {@link Warmup} for at least {@code warmup.ms} and on while the JIT compiles (at most {@code warmup.max.ms}),
     * then lets readiness say ready. Runs once per JVM.
     */
    private void warmUp() {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                ModelRepository r = repository.current();
                LoadBalancer b = balancer.current();
                if (readiness.startupTimedOut()
                        || r != null && b != null && readiness.loading(r, b, r.models()) == null) {
                    break;
                }
                Thread.sleep(50);
            }
            ModelRepository r = repository.current();
            LoadBalancer b = balancer.current();
            InetSocketAddress address = listenerAddress();
            if (r == null || b == null || address == null) {
                return;
            }
            List<Warmup.Call> calls = new ArrayList<>();
            for (ModelDTO m : r.models()) {
                try {
                    if (b.status(m.name, m.defaultVersion).values().stream()
                            .anyMatch(s -> s.state == ModelState.READY)) {
                        ModelVersionDTO v = r.resolve(m.name, m.defaultVersion);
                        calls.addAll(Warmup.calls(address.getHostString(), m.name, serving.signature(v, b)));
                    }
                } catch (RuntimeException e) {
                    LOG.fine(() -> "Warm-up: " + m.name + " left out: " + e.getMessage());
                }
            }
            if (calls.isEmpty()) {
                return;
            }
            long start = System.nanoTime();
            // as many connections as the HTTP listener's base threads (2 per core, at least 4), so that requests
            // also queue for threads and workers as under real load, and those paths are compiled too
            int connections = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
            Warmup.Result done = Warmup.run(address, calls, connections, config.warmup_ms(), config.warmup_max_ms());
            System.setProperty(WARMED_UP, "true");
            LOG.info(() -> "Request path warmed up: " + done.answers() + " requests in "
                    + (System.nanoTime() - start) / 1_000_000 + " ms to " + address + ", " + done.kindsAnswering()
                    + " of " + calls.size() + " kinds answering 200; the JIT compiled for "
                    + (done.jitLastSecondMs() < 0 ? "an unknown time" : done.jitLastSecondMs() + " ms")
                    + " in its last second");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warning(() -> "Warm-up of the request path failed: " + e);
        } finally {
            readiness.warmedUp();
        }
    }

    /** Where the REST listener listens, from its configuration (loopback for a wildcard address). */
    private InetSocketAddress listenerAddress() {
        String host = "127.0.0.1";
        int port = 8001;
        ConfigurationAdmin ca = configurationAdmin;
        if (ca != null) {
            try {
                Configuration[] found = ca.listConfigurations("(service.pid=" + REST_PID + ")");
                Dictionary<String, Object> p = found == null || found.length == 0 ? null : found[0].getProperties();
                if (p != null) {
                    host = p.get("host") == null ? host : p.get("host").toString().trim();
                    port = p.get("port") == null ? port : Integer.parseInt(p.get("port").toString().trim());
                }
            } catch (Exception e) {
                LOG.fine(() -> "Warm-up: the REST configuration could not be read: " + e);
            }
        }
        if (host.isEmpty() || host.equals("0.0.0.0")) {
            host = "127.0.0.1";
        } else if (host.equals("::") || host.equals("[::]")) {
            host = "::1";
        }
        return new InetSocketAddress(host, port);
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
        Thread t = warmup;
        if (t != null) {
            t.interrupt();
        }
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

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    void bindConfigurationAdmin(ConfigurationAdmin ca) {
        configurationAdmin = ca;
    }

    void unbindConfigurationAdmin(ConfigurationAdmin ca) {
        if (configurationAdmin == ca) {
            configurationAdmin = null;
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
