package io.fractal.balancer.internal;

import io.fractal.api.balancer.BalancerDTO;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.balancer.Strategy;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.FractalException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.metrics.FractalMetrics;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
 * Follows every {@link ModelHost} service as it comes and goes, and routes each request to one where the model
 * version is READY, by the configured {@link Strategy}. A host that fails repeatedly is ejected for a while,
 * then probed with the next request. A request a host refused before doing any work (full queue, draining) is
 * tried once more on another host. A request for a model that is loading, or whose engine is being updated,
 * waits for it up to a short grace.
 */
@Component(service = LoadBalancer.class, configurationPid = BalancerConfiguration.PID)
@Designate(ocd = BalancerConfiguration.class)
public class LoadBalancerImpl implements LoadBalancer {

    private static final Logger LOG = Logger.getLogger(LoadBalancerImpl.class.getName());
    private static final long WAIT_STEP_MS = 20;

    private final ConfigurationAdmin configAdmin;
    private final List<HostEntry> hosts = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService waiter = Executors.newSingleThreadScheduledExecutor(
            r -> {
                Thread t = new Thread(r, "fractal-balancer-wait");
                t.setDaemon(true);
                return t;
            });
    private final AtomicLong decisions = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong ejections = new AtomicLong();
    private volatile BalancerConfiguration config;
    private volatile Strategy strategy;
    private volatile Selector selector;
    private volatile FractalMetrics metrics;

    @Activate
    public LoadBalancerImpl(@Reference ConfigurationAdmin configAdmin, BalancerConfiguration config) {
        this.configAdmin = configAdmin;
        modified(config);
    }

    @Modified
    void modified(BalancerConfiguration newConfig) {
        this.config = newConfig;
        if (newConfig.strategy() != strategy) {
            strategy = newConfig.strategy();
            selector = Selector.of(strategy);
            LOG.info(() -> "Balancer strategy: " + strategy);
        }
    }

    @Deactivate
    void deactivate() {
        waiter.shutdownNow();
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindModelHost(ModelHost host) {
        hosts.add(new HostEntry(host));
        LOG.info(() -> "Modelhost " + host.id() + " joined the balancer (" + hosts.size() + " live)");
    }

    void unbindModelHost(ModelHost host) {
        hosts.removeIf(e -> e.host == host);
        LOG.info(() -> "Modelhost " + host.id() + " left the balancer (" + hosts.size() + " live)");
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMetrics(FractalMetrics m) {
        metrics = m;
        m.gauge("fractal_modelhosts_live", hosts::size);
    }

    void unbindMetrics(FractalMetrics m) {
        if (metrics == m) {
            metrics = null;
        }
    }

    // ---- routing -------------------------------------------------------------------------------------------

    @Override
    public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.grace_ms());
        route(request, result, new Attempts(), config.retries(), deadline);
        return result;
    }

    /** The hosts a request was refused by, and the last refusal, which says why (e.g. a full queue). */
    private static final class Attempts {
        final Set<HostEntry> tried = new HashSet<>();
        volatile Throwable lastRefusal;
    }

    private void route(InferenceRequest request, CompletableFuture<InferenceResponse> result, Attempts attempts,
            int retriesLeft, long deadline) {
        Set<HostEntry> tried = attempts.tried;
        long now = System.currentTimeMillis();
        List<HostEntry> candidates = new ArrayList<>();
        boolean coming = false;
        String failure = null;
        boolean known = false;
        for (HostEntry e : hosts) {
            ModelState state = e.host.state(request.model(), request.version());
            if (state == null) {
                continue;
            }
            known = true;
            switch (state) {
                case READY -> {
                    if (e.available(now) && e.host.accepting() && !tried.contains(e)) {
                        candidates.add(e);
                    }
                }
                case LOADING, WAITING_FOR_ENGINE -> coming = true;
                case FAILED -> {
                    ModelStatusDTO status = e.host.status(request.model(), request.version());
                    failure = status == null || status.reason == null ? "load failed" : status.reason;
                }
                default -> { }
            }
        }
        if (candidates.isEmpty()) {
            if ((coming || (!known && !tried.isEmpty())) && System.nanoTime() < deadline) {
                waiter.schedule(() -> route(request, result, attempts, retriesLeft, deadline), WAIT_STEP_MS,
                        TimeUnit.MILLISECONDS);
                return;
            }
            result.completeExceptionally(attempts.lastRefusal != null ? attempts.lastRefusal
                    : noCandidate(request, known, coming, failure));
            return;
        }
        HostEntry chosen = selector.pick(candidates);
        chosen.routed();
        decisions.incrementAndGet();
        record(m -> m.counter("fractal_balancer_decisions_total", "modelhost", chosen.id, "strategy",
                strategy.name()).inc());
        chosen.host.infer(request).whenComplete((response, error) -> {
            if (error == null) {
                chosen.succeeded();
                result.complete(response);
                return;
            }
            Throwable cause = unwrap(error);
            if (refusedBeforeWork(cause) && retriesLeft > 0) {
                tried.add(chosen);
                attempts.lastRefusal = cause;
                retries.incrementAndGet();
                record(m -> m.counter("fractal_balancer_retries_total").inc());
                route(request, result, attempts, retriesLeft - 1, deadline);
                return;
            }
            if (!(cause instanceof FractalException)) {
                countFailure(chosen);
            }
            result.completeExceptionally(cause);
        });
    }

    private Throwable noCandidate(InferenceRequest request, boolean known, boolean coming, String failure) {
        String model = request.model() + ":" + request.version();
        if (hosts.isEmpty()) {
            return new CapacityExceededException("no modelhost is running", 1);
        }
        if (coming) {
            return new ModelNotReadyException("model " + model + " is not ready (loading, or its engine is away); "
                    + "retry later");
        }
        if (failure != null) {
            return new ModelNotReadyException("model " + model + " failed to load: " + failure);
        }
        if (!known) {
            return new ModelNotReadyException("no modelhost serves model " + model);
        }
        return new CapacityExceededException("every modelhost serving " + model + " is ejected or draining", 1);
    }

    private static boolean refusedBeforeWork(Throwable t) {
        return t instanceof CapacityExceededException || t instanceof ModelNotReadyException
                || t instanceof ModelNotFoundException;
    }

    private void countFailure(HostEntry e) {
        BalancerConfiguration c = config;
        if (e.failed(c.ejection_failures(), TimeUnit.SECONDS.toMillis(c.ejection_seconds()),
                System.currentTimeMillis())) {
            ejections.incrementAndGet();
            record(m -> m.counter("fractal_balancer_ejections_total", "modelhost", e.id).inc());
            LOG.warning(() -> "Modelhost " + e.id + " ejected for " + c.ejection_seconds() + " s after "
                    + c.ejection_failures() + " consecutive failures");
        }
    }

    @Override
    public CompletableFuture<EchoDTO> echo(Object payload) {
        long now = System.currentTimeMillis();
        List<HostEntry> candidates = hosts.stream().filter(e -> e.available(now) && e.host.accepting()).toList();
        if (candidates.isEmpty()) {
            return CompletableFuture.failedFuture(new CapacityExceededException("no modelhost is running", 1));
        }
        HostEntry chosen = selector.pick(candidates);
        chosen.routed();
        decisions.incrementAndGet();
        return chosen.host.echo(payload);
    }

    // ---- administration ------------------------------------------------------------------------------------

    @Override
    public List<ModelHostDTO> modelHosts() {
        return hosts.stream().map(e -> e.host.describe()).sorted(java.util.Comparator.comparing(d -> d.id)).toList();
    }

    @Override
    public Map<String, ModelStatusDTO> status(String model, int version) {
        Map<String, ModelStatusDTO> result = new TreeMap<>();
        for (HostEntry e : hosts) {
            ModelStatusDTO s = e.host.status(model, version);
            if (s != null) {
                result.put(e.id, s);
            }
        }
        return result;
    }

    @Override
    public BalancerDTO describe() {
        long now = System.currentTimeMillis();
        BalancerDTO dto = new BalancerDTO();
        dto.strategy = strategy;
        dto.modelhosts = hosts.stream().map(e -> e.toDTO(now)).toList();
        dto.decisions = decisions.get();
        dto.retries = retries.get();
        dto.ejections = ejections.get();
        return dto;
    }

    @Override
    public void setStrategy(Strategy newStrategy) {
        try {
            Configuration c = configAdmin.getConfiguration(BalancerConfiguration.PID, "?");
            Dictionary<String, Object> props = c.getProperties();
            if (props == null) {
                props = new Hashtable<>();
            }
            props.put("strategy", newStrategy.name());
            c.update(props);
        } catch (IOException e) {
            throw new IllegalStateException("cannot save the balancer configuration: " + e.getMessage(), e);
        }
        // Take effect now; the configuration update confirms it through modified().
        strategy = newStrategy;
        selector = Selector.of(newStrategy);
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private void record(java.util.function.Consumer<FractalMetrics> action) {
        FractalMetrics m = metrics;
        if (m != null) {
            action.accept(m);
        }
    }

}
