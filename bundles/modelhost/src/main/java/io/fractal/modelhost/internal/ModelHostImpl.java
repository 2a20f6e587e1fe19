package io.fractal.modelhost.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.concurrent.ThreadBacklog;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.engine.ModelLoadException;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStateListener;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.Batching;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelArtifact;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.osgi.service.component.ComponentServiceObjects;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * One modelhost instance, created by a factory configuration: a pool of worker threads behind a bounded queue.
 * It loads every deployed model version its filter accepts, through the engine the model names, as soon as both
 * are there; when the engine goes it finishes the requests running on its models, closes them, and loads them
 * again when an engine of that name returns. Removing the instance drains it: no new requests, the queued and
 * running ones finish, then the workers stop.
 *
 * <p>A version the repository withdraws (deleted, replaced, undeployed) stops taking requests at once and closes
 * once its running requests end. A version whose artifact merely goes away (the repository stopping for an update)
 * lingers: it stays loaded and serving for {@code linger_seconds}, and an artifact of the same name, version and
 * SHA-256 bound again within that time adopts it, with no reload.
 *
 * <p>Every state change of a version is told to the {@link ModelStateListener} services, in order, on a thread of
 * this host's own.
 */
@Component(service = ModelHost.class, configurationPid = ModelHostConfiguration.FACTORY_PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = ModelHostConfiguration.class, factory = true)
public class ModelHostImpl implements ModelHost {

    private static final Logger LOG = Logger.getLogger(ModelHostImpl.class.getName());

    private final String id;
    private final ModelHostConfiguration config;
    /** The longest typical call run on the caller's thread, in ns; -1: none is. */
    private final long callerMaxNanos;
    private final ModelFilter filter;
    private final int workerCount;
    /** The workers; {@code shutdown} lets the queued requests run, then the threads end. */
    private final ThreadPoolExecutor workers;
    /**
     * One share per worker: a request runs while holding one, on a worker thread or on its caller's; so no more than
     * {@code workers} run at once, wherever they run.
     */
    private final Semaphore permits;
    /** Batching set by configuration; without it, each model's metadata decides. */
    private volatile BatchingSettings batchingSettings;
    /** Loads models, one at a time, and ends lingering. */
    private final ScheduledThreadPoolExecutor loader;
    /** Tells the listeners, in order. */
    private final ExecutorService events;
    private final Map<String, HostedModel> models = new ConcurrentHashMap<>();
    private final Map<String, InferenceEngine> engines = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong invalid = new AtomicLong();
    private volatile boolean accepting = true;
    private volatile boolean running = true;

    private volatile FractalMetrics metrics;

    @Activate
    public ModelHostImpl(ModelHostConfiguration config, Map<String, Object> properties) {
        this.config = config;
        this.callerMaxNanos = config.run_on_caller_max_us() <= 0 ? -1
                : TimeUnit.MICROSECONDS.toNanos(config.run_on_caller_max_us());
        this.id = config.id().isBlank() ? defaultId(properties) : config.id().trim();
        this.filter = new ModelFilter(config.models());
        this.workerCount = Math.max(1, config.workers());
        this.workers = new ThreadPoolExecutor(workerCount, workerCount, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(Math.max(1, config.queue_capacity())), threads("worker-"),
                new ThreadPoolExecutor.AbortPolicy());
        this.permits = new Semaphore(workerCount);
        this.workers.prestartAllCoreThreads();
        this.loader = new ScheduledThreadPoolExecutor(1, threads("loader"));
        this.loader.setExecuteExistingDelayedTasksAfterShutdownPolicy(false); // lingering ends with the host
        this.events = Executors.newSingleThreadExecutor(threads("events"));
        LOG.info(() -> "Modelhost " + id + " started: " + workerCount + " workers, queue " + config.queue_capacity()
                + ", models " + filter);
    }

    private static String defaultId(Map<String, Object> properties) {
        String pid = String.valueOf(properties.getOrDefault("service.pid", "modelhost"));
        int sep = Math.max(pid.lastIndexOf('~'), pid.lastIndexOf('.'));
        return sep >= 0 ? pid.substring(sep + 1) : pid;
    }

    /** Threads named {@code fractal-<id>-<role><n>} ({@code <n>} only for roles ending in '-'). */
    private ThreadFactory threads(String role) {
        AtomicInteger n = new AtomicInteger();
        return r -> IsolatedThreads.newThread(r, "fractal-" + id + "-" + role + (role.endsWith("-") ? n.getAndIncrement() : ""));
    }

    // ---- references ----------------------------------------------------------------------------------------

    /** Dynamic: its configuration changing (or going) changes the next batches, never reloads this host. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBatchingSettings(BatchingSettings settings) {
        batchingSettings = settings;
    }

    void unbindBatchingSettings(BatchingSettings settings) {
        if (batchingSettings == settings) {
            batchingSettings = null;
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMetrics(FractalMetrics m) {
        metrics = m;
        m.gauge("fractal_modelhost_inflight", inFlight::get, "modelhost", id);
        m.gauge("fractal_modelhost_queued", () -> workers.getQueue().size(), "modelhost", id);
        m.gauge("fractal_modelhost_queue_capacity", () -> config.queue_capacity(), "modelhost", id);
        m.counter("fractal_modelhost_dropped_total", "modelhost", id); // requests whose callers gave up: from zero
        // A new metrics service (its bundle updated) starts empty: the per-model series of what this host holds
        // come back at once, with zero counts, rather than at the next load or request.
        for (HostedModel hm : models.values()) {
            ModelArtifact a = hm.artifact();
            String version = Integer.toString(a.version());
            try {
                m.timer("fractal_model_load_seconds", "model", a.name(), "modelhost", id);
                m.timer("fractal_queue_seconds", "model", a.name(), "version", version, "modelhost", id);
                m.timer("fractal_inference_seconds", "model", a.name(), "version", version, "modelhost", id);
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "metrics gone while binding", e);
            }
        }
    }

    /** Takes this host's series out of the registry that goes (a replaced one would otherwise hold this host). */
    void unbindMetrics(FractalMetrics m) {
        if (metrics == m) {
            metrics = null;
        }
        try {
            m.removeAll("modelhost", id);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "metrics already gone", e);
        }
    }

    /**
     * A listener is bound by its service objects, and its service got on the events thread at its first event, never
     * while Declarative Services binds: a listener whose component needs the balancer, which needs this modelhost,
     * would otherwise make a cycle while this modelhost activates.
     */
    @Reference(service = ModelStateListener.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindStateListener(ComponentServiceObjects<ModelStateListener> objects) {
        Listener listener = new Listener(objects);
        listeners.add(listener);
        // It hears the current state of every version first, in line with the changes that follow.
        for (HostedModel m : models.values()) {
            m.announce(dto -> tell(List.of(listener), dto));
        }
    }

    void unbindStateListener(ComponentServiceObjects<ModelStateListener> objects) {
        for (Listener l : listeners) {
            if (l.objects.getServiceReference().equals(objects.getServiceReference())) {
                listeners.remove(l);
                try {
                    events.execute(l::release); // after the events already queued, which now skip it
                } catch (RejectedExecutionException stopped) {
                    l.release();
                }
            }
        }
    }

    /** A bound listener; its service is got, used and released on the events thread only. */
    private static final class Listener {
        final ComponentServiceObjects<ModelStateListener> objects;
        private ModelStateListener service;

        Listener(ComponentServiceObjects<ModelStateListener> objects) {
            this.objects = objects;
        }

        ModelStateListener service() {
            if (service == null) {
                service = objects.getService();
            }
            return service;
        }

        void release() {
            ModelStateListener s = service;
            service = null;
            if (s != null) {
                try {
                    objects.ungetService(s);
                } catch (RuntimeException alreadyGone) {
                    // its bundle stopped
                }
            }
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindEngine(InferenceEngine engine) {
        engines.put(engine.name(), engine);
        for (HostedModel m : models.values()) {
            if (engine.name().equals(m.artifact().engine()) && m.state() == ModelState.WAITING_FOR_ENGINE
                    && !m.lingering()) {
                scheduleLoad(m);
            }
        }
    }

    /**
     * The engine is going: its models stop taking requests, the running ones finish (up to the drain timeout),
     * and they are closed before the engine is. They wait for an engine of the same name to come back.
     */
    void unbindEngine(InferenceEngine engine) {
        engines.remove(engine.name(), engine);
        List<Generation> retiring = new ArrayList<>();
        for (HostedModel m : models.values()) {
            Generation g = m.current();
            if (g != null && g.engine == engine) {
                retiring.add(m.retire(ModelState.WAITING_FOR_ENGINE));
            } else if (engine.name().equals(m.artifact().engine()) && m.state() == ModelState.LOADING) {
                m.retire(ModelState.WAITING_FOR_ENGINE); // voids the load: its outcome no longer counts
            }
        }
        awaitClosed(retiring, "engine " + engine.name() + " stopping");
        InferenceEngine replacement = engines.get(engine.name());
        if (replacement != null) {
            bindEngine(replacement);
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, updated = "updatedArtifact")
    void bindArtifact(ModelArtifact artifact, Map<String, Object> properties) {
        if (!filter.matches(artifact.name())) {
            return;
        }
        String sha256 = sha256(properties);
        String key = HostedModel.key(artifact.name(), artifact.version());
        HostedModel held = models.get(key);
        if (held != null) {
            if (held.adopt(artifact, sha256)) {
                LOG.info(() -> "Modelhost " + id + ": model " + key + " is offered again with the same file (sha256 "
                        + abbreviate(sha256) + "): kept " + held.state() + ", not reloaded");
                if (held.state() == ModelState.WAITING_FOR_ENGINE) {
                    scheduleLoad(held);
                }
                return;
            }
            LOG.info(() -> "Modelhost " + id + ": model " + key + " is offered with another file (sha256 "
                    + abbreviate(sha256) + ", held " + abbreviate(held.sha256()) + "): loading it anew");
            retire(held);
        }
        HostedModel m = new HostedModel(artifact, sha256, this::tell);
        models.put(key, m);
        m.announce(this::tell);
        scheduleLoad(m);
    }

    /** The repository marks a version withdrawn just before it unregisters it. */
    void updatedArtifact(ModelArtifact artifact, Map<String, Object> properties) {
        HostedModel m = models.get(HostedModel.key(artifact.name(), artifact.version()));
        if (m != null && m.artifact().equals(artifact) && withdrawn(properties)) {
            m.withdraw();
        }
    }

    /**
     * A version's artifact went. Withdrawn (deleted, replaced): new requests no longer find it, and it closes once
     * the running ones end. Not withdrawn (its repository stopping): it lingers, loaded and serving, to be adopted by
     * the same version offered again, or retired after {@code linger_seconds}.
     */
    void unbindArtifact(ModelArtifact artifact, Map<String, Object> properties) {
        String key = HostedModel.key(artifact.name(), artifact.version());
        HostedModel m = models.get(key);
        if (m == null || !m.artifact().equals(artifact)) {
            return; // not held here, or held for another artifact by now
        }
        int linger = config.linger_seconds();
        if (m.withdrawn() || withdrawn(properties) || linger <= 0 || !running) {
            retire(m);
            return;
        }
        Object token = new Object();
        m.linger(token);
        try {
            loader.schedule(() -> {
                if (m.expire(token)) {
                    LOG.info(() -> "Modelhost " + id + ": model " + key + " was not offered again within " + linger
                            + " s: retiring it");
                    retire(m);
                }
            }, linger, TimeUnit.SECONDS);
        } catch (RejectedExecutionException stopping) {
            retire(m);
            return;
        }
        LOG.info(() -> "Modelhost " + id + ": the artifact of model " + key + " went without being withdrawn; it "
                + "stays " + m.state() + " for up to " + linger + " s, to be adopted when it is offered again");
    }

    /** Takes a version off this host: no new requests; it closes once those running end. */
    private void retire(HostedModel m) {
        if (models.remove(m.key(), m)) {
            m.retire(ModelState.DRAINING);
        }
    }

    private static String sha256(Map<String, Object> properties) {
        Object v = properties == null ? null : properties.get(ModelArtifact.SHA256);
        return v == null || String.valueOf(v).isBlank() ? null : String.valueOf(v);
    }

    private static boolean withdrawn(Map<String, Object> properties) {
        Object v = properties == null ? null : properties.get(ModelArtifact.WITHDRAWN);
        return v instanceof Boolean b ? b : v != null && Boolean.parseBoolean(String.valueOf(v));
    }

    private static String abbreviate(String sha256) {
        return sha256 == null ? "unknown" : sha256.substring(0, Math.min(12, sha256.length()));
    }

    private void scheduleLoad(HostedModel m) {
        if (!running) {
            return;
        }
        long load = m.startLoading();
        if (load != 0) {
            try {
                loader.execute(() -> load(m, load));
            } catch (RejectedExecutionException stopping) {
                m.retire(ModelState.WAITING_FOR_ENGINE);
            }
        }
    }

    private void load(HostedModel m, long load) {
        ModelArtifact artifact = m.artifact();
        InferenceEngine engine = engines.get(artifact.engine());
        if (models.get(m.key()) != m || !m.isLoading(load)) {
            return; // removed or retired while queued
        }
        if (engine == null) {
            m.retire(ModelState.WAITING_FOR_ENGINE);
            // bindEngine puts the engine in the map before it looks for waiting models: if it looked while this
            // model was still LOADING, the engine is in the map by now.
            if (engines.containsKey(artifact.engine()) && !m.lingering()) {
                scheduleLoad(m);
            }
            return;
        }
        long start = System.nanoTime();
        try {
            LoadedModel loaded = engine.load(artifact, workerCount);
            Generation g = new Generation(loaded, engine);
            warmUp(g, m.key());
            boolean ready;
            synchronized (m) {
                ready = models.get(m.key()) == m && engines.get(engine.name()) == engine && m.ready(load, g);
            }
            if (!ready) {
                g.retire(); // the version or its engine went while it loaded
                return;
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            LOG.info(() -> "Modelhost " + id + ": model " + m.key() + " READY on " + engine.name() + " in " + ms + " ms");
            record(mx -> mx.timer("fractal_model_load_seconds", "model", artifact.name(), "modelhost", id)
                    .record(System.nanoTime() - start));
        } catch (ModelLoadException | RuntimeException e) {
            // A load its engine's departure voided (the model now waits for the engine) stays waiting.
            if (m.failed(load, e.getMessage())) {
                LOG.warning(() -> "Modelhost " + id + ": model " + m.key() + " FAILED: " + e.getMessage());
                record(mx -> mx.counter("fractal_model_load_failures_total", "model", artifact.name(), "modelhost", id)
                        .inc());
            } else {
                LOG.fine(() -> "Modelhost " + id + ": a voided load of " + m.key() + " failed: " + e.getMessage());
            }
        }
    }

    /**
     * Runs a freshly loaded model {@code warmup_calls} times on zeros of its declared inputs (one row), before it
     * takes requests; a model whose inputs are not fully known, or that refuses zeros, is left cold.
     */
    private void warmUp(Generation g, String key) {
        LoadedModel model = g.model;
        int calls = config.warmup_calls();
        List<Tensor> zeros = calls <= 0 ? null : zeros(model.signature());
        if (zeros == null) {
            return;
        }
        long start = System.nanoTime();
        try {
            for (int i = 0; i < calls; i++) {
                long call = System.nanoTime();
                List<Tensor> outputs = model.predict(zeros);
                if (i == calls - 1) {
                    // the first calls optimise: the last says what one costs
                    g.timed(System.nanoTime() - call, Batches.rows(zeros), Batches.elements(outputs));
                }
            }
            LOG.fine(() -> "Modelhost " + id + ": " + key + " warmed up with " + calls + " calls in "
                    + (System.nanoTime() - start) / 1_000_000 + " ms");
        } catch (RuntimeException e) {
            LOG.fine(() -> "Modelhost " + id + ": " + key + " not warmed up: " + e.getMessage());
        }
    }

    /** One row of zeros per declared input; null when an input's datatype or shape is unknown, or is BYTES. */
    static List<Tensor> zeros(ModelSignature signature) {
        if (signature == null || signature.inputs().isEmpty()) {
            return null;
        }
        List<Tensor> out = new ArrayList<>();
        for (TensorSpec spec : signature.inputs()) {
            long[] shape = spec.shape();
            if (spec.datatype() == null || spec.datatype() == DataType.BYTES || shape == null || spec.name() == null) {
                return null;
            }
            shape = shape.clone();
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shape[i] < 0 ? 1 : shape[i];
            }
            long n = Tensor.elementCount(shape);
            if (n > 1 << 24) {
                return null; // not worth a large allocation at load
            }
            Object data = java.lang.reflect.Array.newInstance(spec.datatype().storage().getComponentType(), (int) n);
            out.add(Tensor.of(spec.name(), spec.datatype(), shape, data));
        }
        return out;
    }

    // ---- listeners -----------------------------------------------------------------------------------------

    /** Queues a state change for every listener bound now; called inside the model's lock, so it only queues. */
    private void tell(ModelStatusDTO status) {
        if (!listeners.isEmpty()) {
            tell(List.copyOf(listeners), status);
        }
    }

    private void tell(List<Listener> to, ModelStatusDTO status) {
        try {
            events.execute(() -> {
                for (Listener l : to) {
                    if (!listeners.contains(l)) {
                        continue; // unbound meanwhile
                    }
                    try {
                        ModelStateListener service = l.service();
                        if (service != null) {
                            service.stateChanged(id, status);
                        }
                    } catch (RuntimeException e) {
                        LOG.log(Level.WARNING, "Modelhost " + id + ": a model state listener failed: " + e, e);
                    }
                }
            });
        } catch (RejectedExecutionException stopped) {
            LOG.fine(() -> "Modelhost " + id + " stopped; state " + status.state + " of " + status.model + ":"
                    + status.version + " not told");
        }
    }

    // ---- serving -------------------------------------------------------------------------------------------

    @Override
    public String id() {
        return id;
    }

    /**
     * Runs a request at once on the caller's thread when a worker's share of the host is free, nobody is queued,
     * and the model's calls are known to be quick ({@code run.on.caller.max.us}): no hand-off to a worker thread,
     * and none back. Else it queues for the workers, and the caller's thread is free at once (it may be the HTTP
     * listener's, serving other connections too). Either way at most {@code workers} requests run at once here. A
     * version that batches runs a request at once only while few others wait for the caller's thread
     * ({@link #runsAlone}).
     */
    @Override
    public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
        HostedModel m = models.get(HostedModel.key(request.model(), request.version()));
        Generation g = m == null ? null : m.acquire();
        if (g == null) {
            return CompletableFuture.failedFuture(new ModelNotReadyException("model " + request.model() + ":"
                    + request.version() + " is not ready on modelhost " + id));
        }
        Batching batching = batching(m);
        int rows = Batches.rows(request);
        if (batching.enabled() && rows > batching.maxBatchSize()) {
            g.release();
            return CompletableFuture.failedFuture(new InvalidInputException("model " + request.model() + ":"
                    + request.version() + " takes at most " + batching.maxBatchSize() + " rows per request "
                    + "(max_batch_size), not " + rows));
        }
        CompletableFuture<InferenceResponse> future = new CompletableFuture<>();
        Job.Inference job = new Job.Inference(request, m, g, future, System.nanoTime());
        if (config.run_on_caller() && accepting && batching.maxQueueDelayMicros() == 0 && workers.getQueue().isEmpty()
                && g.quickerThan(callerMaxNanos, rows) && (!batching.enabled() || runsAlone(m))
                && permits.tryAcquire()) {
            Runnable answer;
            inFlight.incrementAndGet();
            try {
                answer = execute(List.of(job));
            } finally {
                inFlight.decrementAndGet();
                permits.release();
            }
            answer.run(); // the caller's response is written once the share is free again
            return future;
        }
        enqueue(job); // a refused job releases its generation
        return future;
    }

    /**
     * Whether a request of a version that batches runs at once on its caller's thread (if a worker's share is free)
     * rather than queue for a batch. While at least {@link #BATCH_WORTH} other clients' requests wait for the caller's
     * thread ({@link ThreadBacklog}: the HTTP listener's selector, which reads and serves them one after another), it
     * queues, so that the thread goes on to read them and a worker takes them together; with fewer waiting, the batch
     * would save less than the hand-off to a worker costs. A caller that cannot tell (a pool thread, another node)
     * runs it at once only while none of the version's calls runs here.
     */
    private static boolean runsAlone(HostedModel m) {
        int others = ThreadBacklog.waiting();
        return others < 0 ? m.running.get() == 0 : others < BATCH_WORTH;
    }

    /**
     * Other requests waiting for a caller's thread from which a batching version's request queues for a batch.
     * Measured with {@code benchmark/batching.sh} (digits CNN, 2 modelhosts of 2 workers): from 1 waiting, 8
     * connections lost 16 to 23% against the model unbatched (single-row batches paid a hand-off each); from 3, 8
     * connections were even and 64 gained about 2x, with 7 rows per call against 3.5 under the rule before.
     */
    private static final int BATCH_WORTH = 3;

    /** How this host batches a version: its configuration's setting for the model, else the model's metadata. */
    private Batching batching(HostedModel m) {
        ModelArtifact a = m.artifact();
        BatchingSettings settings = batchingSettings;
        return settings == null ? a.batching() : settings.of(a.name(), a.batching());
    }

    @Override
    public CompletableFuture<EchoDTO> echo(Object payload) {
        CompletableFuture<EchoDTO> future = new CompletableFuture<>();
        enqueue(new Job.Echo(payload, future, System.nanoTime()));
        return future;
    }

    /**
     * Queues a job, or refuses it with a {@link CapacityExceededException} (which the balancer retries elsewhere):
     * the host drains or stopped, or its queue is full. A job the pool took runs, even if the host stops meanwhile.
     */
    private boolean enqueue(Job job) {
        if (!accepting) {
            job.abandon(new CapacityExceededException("modelhost " + id + " is draining", 1));
            return false;
        }
        try {
            Queued queued = new Queued(job);
            workers.execute(queued);
            if (job instanceof Job.Inference inference) {
                // Cancelled while queued (its deadline passed, or its client went away): out of the queue at once.
                inference.future().whenComplete((value, error) -> {
                    if (inference.future().isCancelled() && workers.remove(queued)) {
                        dropped(inference);
                    }
                });
            }
            return true;
        } catch (RejectedExecutionException e) {
            if (workers.isShutdown()) {
                job.abandon(new CapacityExceededException("modelhost " + id + " stopped", 1));
                return false;
            }
            rejected.incrementAndGet();
            job.abandon(new CapacityExceededException("modelhost " + id + " queue is full ("
                    + workers.getQueue().size() + " requests waiting)", 1));
            record(mx -> mx.counter("fractal_modelhost_rejected_total", "modelhost", id).inc());
            return false;
        }
    }

    /** A job in the workers' queue. */
    private final class Queued implements Runnable {
        final Job job;

        Queued(Job job) {
            this.job = job;
        }

        @Override
        public void run() {
            inFlight.incrementAndGet();
            Runnable answer = null;
            permits.acquireUninterruptibly(); // a request running on its caller's thread may hold a share
            try {
                if (job instanceof Job.Inference inference) {
                    answer = execute(collect(inference));
                } else if (job instanceof Job.Echo echo) {
                    EchoDTO dto = new EchoDTO();
                    dto.data = echo.payload();
                    dto.modelhost = id;
                    dto.worker = Thread.currentThread().getName();
                    served.incrementAndGet();
                    answer = () -> echo.future().complete(dto);
                }
            } finally {
                inFlight.decrementAndGet();
                permits.release();
            }
            if (answer != null) {
                answer.run(); // responses are written with the share free for the next request
            }
        }
    }

    /**
     * The batch a worker runs: the job it took and, for a version that batches, every queued job of the same
     * generation that fits ({@link Batches#compatible}) up to the batch size, taken out of the queue. If the version
     * asks for a queue delay, the worker waits up to that long for the batch to fill.
     */
    private List<Job.Inference> collect(Job.Inference first) {
        Batching batching = batching(first.model());
        int rows = Batches.rows(first.request());
        if (!batching.enabled() || rows == 0 || rows >= batching.maxBatchSize() || first.future().isDone()) {
            return List.of(first);
        }
        List<Job.Inference> batch = new ArrayList<>();
        batch.add(first);
        long delay = TimeUnit.MICROSECONDS.toNanos(batching.maxQueueDelayMicros());
        long until = System.nanoTime() + delay;
        while (true) {
            for (Runnable r : workers.getQueue().toArray(new Runnable[0])) {
                if (r instanceof Queued q && q.job instanceof Job.Inference j && j.generation() == first.generation()
                        && !j.future().isDone() && Batches.compatible(first.request(), j.request())) {
                    int more = Batches.rows(j.request());
                    if (more > 0 && rows + more <= batching.maxBatchSize() && workers.getQueue().remove(q)) {
                        batch.add(j);
                        rows += more;
                        if (rows == batching.maxBatchSize()) {
                            return batch;
                        }
                    }
                }
            }
            long left = until - System.nanoTime();
            if (delay == 0 || left <= 0) {
                return batch;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(Math.min(left, 50_000));
        }
    }

    /** A request its caller gave up on before it ran: not run, counted, its generation released. */
    private void dropped(Job.Inference job) {
        job.generation().release();
        InferenceRequest req = job.request();
        record(mx -> mx.counter("fractal_modelhost_dropped_total", "modelhost", id).inc());
        LOG.fine(() -> "Modelhost " + id + ": " + req.model() + ":" + req.version() + " dropped from the queue, "
                + "its caller stopped waiting");
    }

    /**
     * Runs one engine call for the jobs (several only when they batch) and releases their generations; answers
     * nothing itself, but returns what completes their futures, for the caller to run once its share of the host is
     * free (a future's dependents write the HTTP response).
     */
    private Runnable execute(List<Job.Inference> jobs) {
        List<Job.Inference> live = new ArrayList<>(jobs.size());
        for (Job.Inference job : jobs) {
            if (job.future().isDone()) {
                dropped(job); // the caller stopped waiting while it was queued: nobody to run it for
            } else {
                live.add(job);
            }
        }
        if (live.isEmpty()) {
            return () -> { };
        }
        Generation generation = live.get(0).generation();
        long started = System.nanoTime();
        List<Runnable> answers = new ArrayList<>(live.size());
        HostedModel model = live.get(0).model();
        model.running.incrementAndGet();
        try {
            if (live.size() == 1) {
                answers.add(single(live.get(0), started));
            } else {
                batch(live, started, answers);
            }
        } finally {
            model.running.decrementAndGet();
            for (Job.Inference job : live) {
                job.generation().release();
            }
        }
        if (batching(live.get(0).model()).enabled()) {
            long rows = 0;
            for (Job.Inference job : live) {
                rows += Math.max(1, Batches.rows(job.request()));
            }
            long batchRows = rows;
            meters(live.get(0), generation).ifPresent(mt -> mt.batch(batchRows));
        }
        return answers.size() == 1 ? answers.get(0) : () -> answers.forEach(Runnable::run);
    }

    /** One request, one engine call. */
    private Runnable single(Job.Inference job, long started) {
        InferenceRequest req = job.request();
        try {
            List<Tensor> outputs = job.generation().model.predict(req.inputs());
            long took = System.nanoTime() - started;
            job.generation().timed(took, Batches.rows(req), Batches.elements(outputs));
            return succeeded(job, outputs, started, took);
        } catch (InvalidInputException e) {
            invalid.incrementAndGet(); // the request's fault, not the host's
            return () -> job.future().completeExceptionally(e);
        } catch (RuntimeException | Error e) {
            // Anything else the engine throws is the host's failure (counted, and the balancer may eject the host),
            // never bad input.
            failed.incrementAndGet();
            record(mx -> mx.counter("fractal_inference_failures_total", "model", req.model(), "modelhost", id).inc());
            return () -> job.future().completeExceptionally(e);
        }
    }

    /**
     * Several compatible requests as one engine call, the outputs split back by rows. If the engine refuses the
     * batch as input, or its outputs do not follow the batch's rows, each request runs on its own, so that only a
     * bad one fails and each gets exactly its own answer.
     */
    private void batch(List<Job.Inference> jobs, long started, List<Runnable> answers) {
        int[] rows = new int[jobs.size()];
        List<InferenceRequest> requests = new ArrayList<>(jobs.size());
        for (int j = 0; j < rows.length; j++) {
            requests.add(jobs.get(j).request());
            rows[j] = Batches.rows(requests.get(j));
        }
        List<List<Tensor>> parts = null;
        try {
            parts = Batches.split(jobs.get(0).generation().model.predict(Batches.join(requests)), rows);
        } catch (InvalidInputException e) {
            LOG.fine(() -> "Modelhost " + id + ": a batch of " + jobs.size() + " was refused (" + e.getMessage()
                    + "): its requests run one by one");
        } catch (RuntimeException | Error e) {
            failed.addAndGet(jobs.size());
            record(mx -> mx.counter("fractal_inference_failures_total", "model", requests.get(0).model(),
                    "modelhost", id).inc(jobs.size()));
            for (Job.Inference job : jobs) {
                answers.add(() -> job.future().completeExceptionally(e));
            }
            return;
        }
        if (parts == null) {
            for (Job.Inference job : jobs) {
                answers.add(single(job, System.nanoTime()));
            }
            return;
        }
        long inference = System.nanoTime() - started;
        int batchRows = 0;
        long elements = 0;
        for (int j = 0; j < rows.length; j++) {
            batchRows += Math.max(1, rows[j]);
            elements += Batches.elements(parts.get(j));
        }
        jobs.get(0).generation().timed(inference, batchRows, elements);
        for (int j = 0; j < rows.length; j++) {
            answers.add(succeeded(jobs.get(j), parts.get(j), started, inference));
        }
    }

    /** Counts and records a request that ran, and returns what answers it. */
    private Runnable succeeded(Job.Inference job, List<Tensor> outputs, long started, long inference) {
        InferenceRequest req = job.request();
        if (!req.outputs().isEmpty()) {
            outputs = outputs.stream().filter(t -> req.outputs().contains(t.name())).toList();
        }
        long queued = started - job.enqueuedNanos();
        served.incrementAndGet();
        meters(job, job.generation()).ifPresent(mt -> {
            mt.queue.record(queued);
            mt.inference.record(inference);
        });
        InferenceResponse response = new InferenceResponse(req.id(), req.model(), req.version(), outputs, id, queued,
                inference);
        return () -> job.future().complete(response);
    }

    /** The series of a job's version, looked up again when the metrics service changed; empty without one. */
    private java.util.Optional<ModelMeters> meters(Job.Inference job, Generation generation) {
        FractalMetrics mx = metrics;
        if (mx == null) {
            return java.util.Optional.empty();
        }
        HostedModel m = job.model();
        ModelMeters mt = m.meters;
        if (mt == null || mt.owner != mx) {
            try {
                mt = ModelMeters.of(mx, job.request().model(), job.request().version(), id);
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "metrics", e);
                return java.util.Optional.empty();
            }
            m.meters = mt;
        }
        return java.util.Optional.of(mt);
    }

    // ---- state ---------------------------------------------------------------------------------------------

    @Override
    public ModelState state(String model, int version) {
        HostedModel m = models.get(HostedModel.key(model, version));
        return m == null ? null : m.state();
    }

    @Override
    public ModelStatusDTO status(String model, int version) {
        HostedModel m = models.get(HostedModel.key(model, version));
        return m == null ? null : statusOf(m);
    }

    private ModelStatusDTO statusOf(HostedModel m) {
        ModelStatusDTO dto = m.toDTO();
        dto.batching = batching(m);
        return dto;
    }

    @Override
    public int capacity() {
        return workerCount;
    }

    @Override
    public int outstanding() {
        return inFlight.get() + workers.getQueue().size();
    }

    /** Stops taking new requests; the queued and running ones finish. */
    void drain() {
        accepting = false;
        LOG.info(() -> "Modelhost " + id + " draining: no new requests");
    }

    void resume() {
        if (running) {
            accepting = true;
            LOG.info(() -> "Modelhost " + id + " takes requests again");
        }
    }

    @Override
    public boolean accepting() {
        return accepting;
    }

    @Override
    public ModelHostDTO describe() {
        ModelHostDTO dto = new ModelHostDTO();
        dto.id = id;
        dto.state = accepting ? "RUNNING" : "DRAINING";
        dto.workers = workerCount;
        dto.queueCapacity = config.queue_capacity();
        dto.models = filter.toString();
        dto.inFlight = inFlight.get();
        dto.queued = workers.getQueue().size();
        dto.served = served.get();
        dto.failed = failed.get();
        dto.rejected = rejected.get();
        dto.invalid = invalid.get();
        dto.loaded = models.values().stream().map(this::statusOf)
                .sorted(Comparator.comparing((ModelStatusDTO s) -> s.model).thenComparingInt(s -> s.version))
                .toList();
        return dto;
    }

    /**
     * The service is already unregistered (the balancer no longer picks this host): refuse what still arrives,
     * run every request queued and running to its end (up to the drain timeout; what is still queued then is
     * refused with a 503), then close the models and stop every thread of this host.
     */
    @Deactivate
    void deactivate() {
        accepting = false;
        running = false;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.drain_timeout_seconds());
        workers.shutdown(); // what is queued still runs; what arrives from now on is refused
        loader.shutdownNow(); // loads not started are dropped; a running one is voided below
        if (!awaitTermination(workers, deadline)) {
            List<Runnable> left = new ArrayList<>();
            workers.getQueue().drainTo(left);
            for (Runnable r : left) {
                ((Queued) r).job.abandon(new CapacityExceededException("modelhost " + id + " stopped", 1));
            }
            LOG.warning(() -> "Modelhost " + id + ": drain timeout of " + config.drain_timeout_seconds() + " s: "
                    + left.size() + " queued request(s) refused, " + inFlight.get() + " still running");
        }
        List<Generation> open = new ArrayList<>();
        for (HostedModel m : models.values()) {
            Generation g = m.retire(ModelState.DRAINING);
            if (g != null) {
                open.add(g);
            }
        }
        awaitClosed(open, "modelhost " + id + " stopping");
        models.clear();
        awaitTermination(loader, System.nanoTime() + TimeUnit.SECONDS.toNanos(config.drain_timeout_seconds()));
        for (Listener l : listeners) {
            try {
                events.execute(l::release); // once they heard that the models went
            } catch (RejectedExecutionException stopped) {
                l.release();
            }
        }
        events.shutdown();
        awaitTermination(events, System.nanoTime() + TimeUnit.SECONDS.toNanos(2));
        FractalMetrics m = metrics;
        if (m != null) {
            m.removeAll("modelhost", id);
        }
        LOG.info(() -> "Modelhost " + id + " stopped after serving " + served.get() + " requests");
    }

    private boolean awaitTermination(ExecutorService executor, long deadline) {
        try {
            return executor.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void awaitClosed(List<Generation> generations, String why) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.drain_timeout_seconds());
        for (Generation g : generations) {
            try {
                if (g != null && !g.awaitClosed(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    LOG.warning(() -> "Modelhost " + id + ": " + why + ": " + g.users()
                            + " request(s) still running after the drain timeout");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void record(java.util.function.Consumer<FractalMetrics> action) {
        FractalMetrics m = metrics;
        if (m != null) {
            try {
                action.accept(m);
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "metrics", e);
            }
        }
    }
}
