package io.fractal.balancer.internal;

import io.fractal.api.concurrent.IsolatedThreads;
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
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.osgi.framework.BundleContext;
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
 * then probed with the next request. A request a host failed after it ran (not a bad input: those are the client's)
 * goes once to another host that holds the model, so a model broken on one host costs its clients nothing; with no
 * other host, the client gets the failure.
 *
 * <p>A request that finds no host for its model (none live, none holding the model yet, the model loading or its
 * engine away, every holder draining) waits for one up to {@code grace_ms}; a modelhost binding wakes the
 * waiting requests at once, and the model's state is looked at again every {@value #WAIT_STEP_MS} ms meanwhile.
 * A request a host refused because it is draining or does not have the model ready is sent to another host (or
 * waits for one) without using up the {@code retries} budget; only a full queue uses it, and a full queue with
 * nowhere else to go answers at once, so the bounded queues keep their contract.
 *
 * <p>On deactivation (a bundle update or stop) the service is already unregistered and the hosts are still bound:
 * the requests in flight and waiting in this instance finish here, bounded by the grace plus a margin; whatever is
 * left then is answered with a 503, never left hanging. The ejections in force are saved in the bundle's data area
 * and applied again, by modelhost id, by the next instance.
 */
@Component(service = LoadBalancer.class, configurationPid = BalancerConfiguration.PID)
@Designate(ocd = BalancerConfiguration.class)
public class LoadBalancerImpl implements LoadBalancer {

    private static final Logger LOG = Logger.getLogger(LoadBalancerImpl.class.getName());
    /** How often a waiting request looks at the model's state again; a modelhost binding wakes it sooner. */
    static final long WAIT_STEP_MS = 20;
    /** How long deactivation waits, beyond the grace, for this instance's requests to end. */
    static final long DEACTIVATE_MARGIN_MS = 2000;
    static final String LIVE_GAUGE = "fractal_modelhosts_live";

    private final ConfigurationAdmin configAdmin;
    private final EjectionStore ejectionStore;
    /** Ejections the previous instance saved, applied to each modelhost as it binds (then removed from here). */
    private final Map<String, EjectionStore.Ejection> savedEjections;
    private final List<HostEntry> hosts = new CopyOnWriteArrayList<>();
    /** Runs the waiting requests' next looks; its one thread lives as long as this instance. */
    private final ScheduledThreadPoolExecutor waiter = new ScheduledThreadPoolExecutor(1,
            r -> IsolatedThreads.newThread(r, "fractal-balancer-wait"));
    /** The requests waiting for a host, woken when one binds. */
    private final Set<Wake> waiting = ConcurrentHashMap.newKeySet();
    /** Every request this instance has taken and not answered yet (waiting, or sent to a host). */
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
    private final Object idle = new Object();
    private final AtomicLong decisions = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong ejections = new AtomicLong();
    private volatile BalancerConfiguration config;
    private volatile Strategy strategy;
    private volatile Selector selector;
    private volatile FractalMetrics metrics;
    /** Deactivation started: no new waiting is cut short, but the instance counts down to idle. */
    private volatile boolean closing;
    /** Deactivated: new requests are refused at once (the caller holds a stale reference). */
    private volatile boolean closed;
    /** The polling step; a field so tests can show that a binding host, not the poll, wakes a request. */
    volatile long waitStepMillis = WAIT_STEP_MS;
    /** The margin deactivation waits beyond the grace; a field so tests need not wait for it. */
    volatile long deactivateMarginMillis = DEACTIVATE_MARGIN_MS;

    @Activate
    public LoadBalancerImpl(@Reference ConfigurationAdmin configAdmin, BalancerConfiguration config,
            BundleContext context) {
        this(configAdmin, config, dataFile(context));
    }

    /** With the file the ejections are kept in across bundle updates (null: nowhere). */
    LoadBalancerImpl(ConfigurationAdmin configAdmin, BalancerConfiguration config, Path ejectionsFile) {
        this.configAdmin = configAdmin;
        this.waiter.prestartAllCoreThreads(); // one thread for the life of the instance, not started by a request
        this.ejectionStore = new EjectionStore(ejectionsFile);
        this.savedEjections = new ConcurrentHashMap<>(ejectionStore.load(System.currentTimeMillis()));
        if (!savedEjections.isEmpty()) {
            LOG.info(() -> "Balancer: ejections in force taken over from the previous instance: "
                    + savedEjections.keySet());
        }
        modified(config);
    }


    private static Path dataFile(BundleContext context) {
        File f = context.getDataFile(EjectionStore.FILE_NAME);
        return f == null ? null : f.toPath();
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

    /**
     * The service is unregistered already and the modelhosts are still bound: lets this instance's requests
     * finish (bounded by the grace plus a margin), saves the ejections in force, then answers whatever is left
     * with a 503 and stops the wait thread.
     */
    @Deactivate
    void deactivate() {
        closing = true;
        long waitMs = Math.max(0, config.grace_ms()) + deactivateMarginMillis;
        boolean drained = awaitIdle(waitMs);
        closed = true;
        saveEjections();
        waiter.shutdownNow();
        waiting.clear();
        List<CompletableFuture<?>> left = List.copyOf(inFlight);
        for (CompletableFuture<?> f : left) {
            f.completeExceptionally(stopped());
        }
        if (!drained) {
            LOG.warning(() -> "Balancer stopped with " + left.size() + " request(s) unanswered after " + waitMs
                    + " ms; they were answered 503");
        }
        releaseLiveGauge(metrics);
    }

    /** Waits until no request of this instance is in flight or waiting; false if time ran out. */
    private boolean awaitIdle(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (idle) {
            while (!inFlight.isEmpty()) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                try {
                    idle.wait(Math.min(left, 100));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return inFlight.isEmpty();
                }
            }
        }
        return true;
    }

    private static CapacityExceededException stopped() {
        return new CapacityExceededException("the balancer stopped before the request was served", 1);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindModelHost(ModelHost host) {
        HostEntry entry = new HostEntry(host);
        EjectionStore.Ejection saved = savedEjections.remove(entry.id);
        if (saved != null && saved.ejectedUntil > System.currentTimeMillis()) {
            entry.restore(saved.ejectedUntil, saved.consecutiveFailures);
            LOG.info(() -> "Modelhost " + entry.id + " stays ejected until " + java.time.Instant.ofEpochMilli(
                    saved.ejectedUntil) + " (an ejection in force before the balancer was updated)");
        }
        hosts.add(entry);
        record(m -> m.counter("fractal_balancer_ejections_total", "modelhost", entry.id)); // at zero from the start
        LOG.info(() -> "Modelhost " + host.id() + " joined the balancer (" + hosts.size() + " live)");
        wakeWaiting();
    }

    void unbindModelHost(ModelHost host) {
        hosts.removeIf(e -> e.host == host);
        LOG.info(() -> "Modelhost " + host.id() + " left the balancer (" + hosts.size() + " live)");
    }

    /**
     * Registers the live-hosts gauge (registering the name again replaces a gauge an earlier instance left).
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMetrics(FractalMetrics m) {
        metrics = m;
        try {
            m.gauge(LIVE_GAUGE, hosts::size);
            // The counters exist from the start, at zero, so that a new metrics service (its bundle updated) shows
            // them at once rather than at the next retry or ejection.
            m.counter("fractal_balancer_retries_total");
            hosts.forEach(e -> m.counter("fractal_balancer_ejections_total", "modelhost", e.id));
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Cannot register the balancer's metrics", e);
        }
    }

    void unbindMetrics(FractalMetrics m) {
        if (metrics == m) {
            metrics = null;
        }
        releaseLiveGauge(m);
    }

    /**
     * Removes the live-hosts gauge, so the metrics service holds neither this instance nor a class of this bundle
     * revision once it is deactivated or unbound; the next balancer registers its own.
     */
    private static void releaseLiveGauge(FractalMetrics m) {
        if (m == null) {
            return;
        }
        try {
            m.remove(LIVE_GAUGE);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Cannot release " + LIVE_GAUGE, e);
        }
    }

    // ---- routing -------------------------------------------------------------------------------------------

    @Override
    public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(stopped());
            return result;
        }
        track(result);
        new InferRouting(request, result).route();
        return result;
    }

    @Override
    public CompletableFuture<EchoDTO> echo(Object payload) {
        CompletableFuture<EchoDTO> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(stopped());
            return result;
        }
        track(result);
        new EchoRouting(payload, result).route();
        return result;
    }

    /** Counts a request as this instance's until it is answered; deactivation waits for the count to reach 0. */
    private void track(CompletableFuture<?> result) {
        inFlight.add(result);
        result.whenComplete((r, e) -> {
            inFlight.remove(result);
            if (closing) {
                synchronized (idle) {
                    idle.notifyAll();
                }
            }
        });
    }

    /** Wakes every waiting request to look again now (a modelhost joined). */
    private void wakeWaiting() {
        if (waiting.isEmpty()) {
            return;
        }
        try {
            waiter.execute(() -> waiting.forEach(Wake::run));
        } catch (RejectedExecutionException e) {
            // deactivated: deactivate() answers whatever is still waiting
        }
    }

    /** What a look over the live hosts found for one request. */
    private static final class Scan {
        final List<HostEntry> candidates = new ArrayList<>();
        /** Some host holds the model. */
        boolean known;
        /** The model is loading, or its engine is away, on some host. */
        boolean coming;
        /** A host that has the model READY takes no new requests for now (draining), or just refused this one. */
        boolean draining;
        /** A host that has the model READY is ejected. */
        boolean ejected;
        /** The version is being removed from some host (DRAINING). */
        boolean retiring;
        /** Why the model failed to load, when it did. */
        String failure;
    }

    /**
     * One request finding its host: it looks, sends, handles the refusals and waits, one step at a time (never two
     * at once), and its result is always completed: an exception anywhere in a step completes it exceptionally.
     */
    private abstract class Routing<T> {
        final CompletableFuture<T> result;
        /** When the request stops waiting (System.nanoTime). */
        final long deadline;
        /** Hosts that refused with a full queue: each such refusal used one retry. */
        final Set<HostEntry> full = new HashSet<>();
        /** Hosts that refused because they drain or lack the model: skipped until the next wait step. */
        final Set<HostEntry> refused = new HashSet<>();
        int retriesLeft;
        Throwable lastRefusal;
        /**
         * Hosts that failed the request after it ran (counted against them): it goes once to another host, never
         * back to these. An inference has no side effects, and the engine says a failure is the host's only when the
         * model fails on an input it answered before (a bad input is a 400, never retried). {@code failure} is the
         * last such failure: the answer when there is no other host, or when the other host fails too.
         */
        final Set<HostEntry> failed = new HashSet<>();
        Throwable failure;
        /**
         * A live, accepting host refused the request because the model was not (or no longer) there: the version
         * was removed under it rather than not loaded yet, so no host knowing it is no reason to wait.
         */
        boolean removedUnderIt;

        Routing(CompletableFuture<T> result) {
            BalancerConfiguration c = config;
            this.result = result;
            this.deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(0, c.grace_ms()));
            this.retriesLeft = c.retries();
        }

        abstract Scan scan(long nowMillis);

        abstract CompletableFuture<T> send(HostEntry host);

        abstract Throwable noCandidate(Scan scan);

        /** Whether a failure after the request ran counts against the host (ejection). */
        abstract boolean countsFailures();

        void onSuccess(HostEntry host) {
        }

        final void route() {
            try {
                if (!result.isDone()) {
                    step();
                }
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            }
        }

        private void step() {
            Scan scan = scan(System.currentTimeMillis());
            if (scan.candidates.isEmpty() && failure != null) {
                result.completeExceptionally(failure); // no other host to fail over to: the host's failure
                return;
            }
            if (scan.candidates.isEmpty()) {
                // A full queue with nowhere else to go answers at once: the bounded queue's contract.
                if (full.isEmpty() && System.nanoTime() - deadline < 0 && worthWaiting(scan)) {
                    await();
                } else {
                    result.completeExceptionally(lastRefusal != null ? lastRefusal : noCandidate(scan));
                }
                return;
            }
            HostEntry chosen = selector.pick(scan.candidates);
            chosen.routed();
            decisions.incrementAndGet();
            onRouted(chosen);
            CompletableFuture<T> answer;
            try {
                answer = send(chosen);
            } catch (RuntimeException e) {
                answer = CompletableFuture.failedFuture(e);
            }
            CompletableFuture<T> sent = answer;
            // The caller stopped waiting (its deadline, or its client went away): the host drops the request from
            // its queue rather than run it for nobody.
            result.whenComplete((value, error) -> {
                if (result.isCancelled() || error instanceof java.util.concurrent.CancellationException) {
                    sent.cancel(false);
                }
            });
            answer.whenComplete((value, error) -> {
                try {
                    answered(chosen, value, error);
                } catch (RuntimeException | Error e) {
                    result.completeExceptionally(e);
                }
            });
        }

        void onRouted(HostEntry chosen) {
        }

        private boolean worthWaiting(Scan scan) {
            return hosts.isEmpty() || (!scan.known && !removedUnderIt) || scan.coming || scan.draining;
        }

        private void answered(HostEntry chosen, T value, Throwable error) {
            if (error == null) {
                onSuccess(chosen);
                result.complete(value);
                return;
            }
            Throwable cause = unwrap(error);
            if (cause instanceof java.util.concurrent.CancellationException || result.isDone()) {
                return; // cancelled by the caller: nobody waits, and it says nothing about the host
            }
            if (refusedBeforeWork(cause)) {
                // A host that still accepts and refused with CapacityExceeded has a full queue; anything else
                // (draining, stopping, the model not ready there) is no fault of the request: re-route it freely.
                boolean queueFull = cause instanceof CapacityExceededException && accepting(chosen);
                if (queueFull) {
                    if (retriesLeft <= 0) {
                        result.completeExceptionally(cause);
                        return;
                    }
                    retriesLeft--;
                    full.add(chosen);
                } else {
                    refused.add(chosen);
                    removedUnderIt |= !(cause instanceof CapacityExceededException) && accepting(chosen)
                            && hosts.contains(chosen);
                }
                lastRefusal = cause;
                retries.incrementAndGet();
                record(m -> m.counter("fractal_balancer_retries_total").inc());
                route();
                return;
            }
            if (countsFailures() && !(cause instanceof FractalException)) {
                countFailure(chosen);
                if (failed.isEmpty()) { // once
                    failed.add(chosen);
                    failure = cause;
                    retries.incrementAndGet();
                    record(m -> m.counter("fractal_balancer_retries_total").inc());
                    route();
                    return;
                }
            }
            result.completeExceptionally(cause);
        }

        /** Waits one step, or until a modelhost binds, then looks again. */
        private void await() {
            Wake wake = new Wake(this);
            waiting.add(wake);
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            long delay = Math.max(1, Math.min(waitStepMillis, left));
            try {
                waiter.schedule(wake, delay, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                waiting.remove(wake);
                result.completeExceptionally(stopped());
            }
        }
    }

    /** One waiting step of a request; it runs once, whether the poll or a binding modelhost runs it first. */
    private final class Wake implements Runnable {
        private final Routing<?> routing;
        private final AtomicBoolean done = new AtomicBoolean();

        Wake(Routing<?> routing) {
            this.routing = routing;
        }

        @Override
        public void run() {
            if (done.compareAndSet(false, true)) {
                waiting.remove(this);
                routing.refused.clear();
                routing.route();
            }
        }
    }

    private final class InferRouting extends Routing<InferenceResponse> {
        private final InferenceRequest request;

        InferRouting(InferenceRequest request, CompletableFuture<InferenceResponse> result) {
            super(result);
            this.request = request;
        }

        @Override
        Scan scan(long now) {
            Scan scan = new Scan();
            for (HostEntry e : hosts) {
                ModelState state;
                try {
                    state = e.host.state(request.model(), request.version());
                } catch (RuntimeException ex) {
                    continue; // a host going away while asked: as if it did not hold the model
                }
                if (state == null) {
                    continue;
                }
                scan.known = true;
                switch (state) {
                    case READY -> {
                        if (!e.available(now)) {
                            scan.ejected = true;
                        } else if (!accepting(e) || refused.contains(e)) {
                            scan.draining = true;
                        } else if (!full.contains(e) && !failed.contains(e)) {
                            scan.candidates.add(e);
                        }
                    }
                    case LOADING, WAITING_FOR_ENGINE -> scan.coming = true;
                    case FAILED -> scan.failure = failure(e);
                    case DRAINING -> scan.retiring = true;
                    default -> { }
                }
            }
            return scan;
        }

        private String failure(HostEntry e) {
            try {
                ModelStatusDTO status = e.host.status(request.model(), request.version());
                return status == null || status.reason == null ? "load failed" : status.reason;
            } catch (RuntimeException ex) {
                return "load failed";
            }
        }

        @Override
        void onRouted(HostEntry chosen) {
            record(m -> chosen.decisions(m, strategy).inc());
        }

        @Override
        CompletableFuture<InferenceResponse> send(HostEntry host) {
            return host.host.infer(request);
        }

        @Override
        void onSuccess(HostEntry host) {
            host.succeeded();
        }

        @Override
        boolean countsFailures() {
            return true;
        }

        @Override
        Throwable noCandidate(Scan scan) {
            String model = request.model() + ":" + request.version();
            if (hosts.isEmpty()) {
                return new CapacityExceededException("no modelhost is running", 1);
            }
            if (scan.coming) {
                return new ModelNotReadyException("model " + model + " is not ready (loading, or its engine is "
                        + "away); retry later");
            }
            if (scan.failure != null) {
                return new ModelNotReadyException("model " + model + " failed to load: " + scan.failure);
            }
            if (!scan.known) {
                return new ModelNotReadyException("no modelhost serves model " + model);
            }
            if (scan.retiring && !scan.ejected && !scan.draining) {
                // The version is being removed: a request for the default version follows the new one.
                return new ModelNotReadyException("model " + model + " is being removed from the modelhosts");
            }
            return new CapacityExceededException("every modelhost serving " + model + " is ejected or draining", 1);
        }
    }

    private final class EchoRouting extends Routing<EchoDTO> {
        private final Object payload;

        EchoRouting(Object payload, CompletableFuture<EchoDTO> result) {
            super(result);
            this.payload = payload;
        }

        @Override
        Scan scan(long now) {
            Scan scan = new Scan();
            for (HostEntry e : hosts) {
                scan.known = true;
                if (!e.available(now)) {
                    scan.ejected = true;
                } else if (!accepting(e) || refused.contains(e)) {
                    scan.draining = true;
                } else if (!full.contains(e) && !failed.contains(e)) {
                    scan.candidates.add(e);
                }
            }
            return scan;
        }

        @Override
        CompletableFuture<EchoDTO> send(HostEntry host) {
            return host.host.echo(payload);
        }

        @Override
        boolean countsFailures() {
            return false;
        }

        @Override
        Throwable noCandidate(Scan scan) {
            if (hosts.isEmpty()) {
                return new CapacityExceededException("no modelhost is running", 1);
            }
            return new CapacityExceededException("every modelhost is ejected or draining", 1);
        }
    }

    private static boolean accepting(HostEntry e) {
        try {
            return e.host.accepting();
        } catch (RuntimeException ex) {
            return false;
        }
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

    /** Saves the ejections in force (bound hosts, and saved ones whose host has not come back yet). */
    private void saveEjections() {
        long now = System.currentTimeMillis();
        Map<String, EjectionStore.Ejection> inForce = new LinkedHashMap<>();
        savedEjections.values().stream().filter(e -> e.ejectedUntil > now).forEach(e -> inForce.put(e.modelhost, e));
        for (HostEntry e : hosts) {
            if (e.ejected(now)) {
                inForce.put(e.id, new EjectionStore.Ejection(e.id, e.ejectedUntil(), e.consecutiveFailures()));
            }
        }
        ejectionStore.save(inForce.values());
    }

    // ---- administration ------------------------------------------------------------------------------------

    @Override
    public List<ModelHostDTO> modelHosts() {
        return hosts.stream().map(e -> e.host.describe()).sorted(Comparator.comparing(d -> d.id)).toList();
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

    /** Records through the optional metrics service; a service that goes away mid-call never fails a request. */
    private void record(Consumer<FractalMetrics> action) {
        FractalMetrics m = metrics;
        if (m == null) {
            return;
        }
        try {
            action.accept(m);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Metrics not recorded", e);
        }
    }
}
