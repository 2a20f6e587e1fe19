package io.fractal.modelhost.internal;

import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.ModelLoadException;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.Tensor;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelArtifact;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
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
 */
@Component(service = ModelHost.class, configurationPid = ModelHostConfiguration.FACTORY_PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = ModelHostConfiguration.class, factory = true)
public class ModelHostImpl implements ModelHost {

    private static final Logger LOG = Logger.getLogger(ModelHostImpl.class.getName());

    private final String id;
    private final ModelHostConfiguration config;
    private final ModelFilter filter;
    private final BlockingQueue<Job> queue;
    private final List<Thread> workers = new ArrayList<>();
    private final ExecutorService loader;
    private final Map<String, HostedModel> models = new ConcurrentHashMap<>();
    private final Map<String, InferenceEngine> engines = new ConcurrentHashMap<>();
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
        this.id = config.id().isBlank() ? defaultId(properties) : config.id().trim();
        this.filter = new ModelFilter(config.models());
        this.queue = new ArrayBlockingQueue<>(Math.max(1, config.queue_capacity()));
        this.loader = Executors.newSingleThreadExecutor(r -> new Thread(r, "fractal-" + id + "-loader"));
        int n = Math.max(1, config.workers());
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(this::work, "fractal-" + id + "-worker-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
        LOG.info(() -> "Modelhost " + id + " started: " + n + " workers, queue " + config.queue_capacity()
                + ", models " + filter);
    }

    private static String defaultId(Map<String, Object> properties) {
        String pid = String.valueOf(properties.getOrDefault("service.pid", "modelhost"));
        int sep = Math.max(pid.lastIndexOf('~'), pid.lastIndexOf('.'));
        return sep >= 0 ? pid.substring(sep + 1) : pid;
    }

    // ---- references ----------------------------------------------------------------------------------------

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMetrics(FractalMetrics m) {
        metrics = m;
        m.gauge("fractal_modelhost_inflight", inFlight::get, "modelhost", id);
        m.gauge("fractal_modelhost_queued", queue::size, "modelhost", id);
        m.gauge("fractal_modelhost_queue_capacity", () -> config.queue_capacity(), "modelhost", id);
    }

    void unbindMetrics(FractalMetrics m) {
        if (metrics == m) {
            metrics = null;
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindEngine(InferenceEngine engine) {
        engines.put(engine.name(), engine);
        for (HostedModel m : models.values()) {
            if (engine.name().equals(m.artifact.engine()) && m.state() == ModelState.WAITING_FOR_ENGINE) {
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
            } else if (engine.name().equals(m.artifact.engine()) && m.state() == ModelState.LOADING) {
                m.retire(ModelState.WAITING_FOR_ENGINE);
            }
        }
        awaitClosed(retiring, "engine " + engine.name() + " stopping");
        InferenceEngine replacement = engines.get(engine.name());
        if (replacement != null) {
            bindEngine(replacement);
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindArtifact(ModelArtifact artifact) {
        if (!filter.matches(artifact.name())) {
            return;
        }
        HostedModel m = new HostedModel(artifact);
        models.put(m.key(), m);
        scheduleLoad(m);
    }

    /** A version was removed: new requests no longer find it; it closes once the running ones end. */
    void unbindArtifact(ModelArtifact artifact) {
        HostedModel m = models.remove(HostedModel.key(artifact.name(), artifact.version()));
        if (m != null) {
            m.retire(ModelState.DRAINING);
        }
    }

    private void scheduleLoad(HostedModel m) {
        if (running && m.startLoading()) {
            loader.execute(() -> load(m));
        }
    }

    private void load(HostedModel m) {
        InferenceEngine engine = engines.get(m.artifact.engine());
        if (models.get(m.key()) != m || m.state() != ModelState.LOADING) {
            return; // removed or retired while queued
        }
        if (engine == null) {
            m.retire(ModelState.WAITING_FOR_ENGINE);
            // bindEngine puts the engine in the map before it looks for waiting models: if it looked while this
            // model was still LOADING, the engine is in the map by now.
            if (engines.containsKey(m.artifact.engine())) {
                scheduleLoad(m);
            }
            return;
        }
        long start = System.nanoTime();
        try {
            Generation g = new Generation(engine.load(m.artifact, config.workers()), engine);
            synchronized (m) {
                if (models.get(m.key()) == m && m.state() == ModelState.LOADING && engines.get(engine.name()) == engine) {
                    m.ready(g);
                } else {
                    g.retire(); // the version or its engine went while it loaded
                    return;
                }
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            LOG.info(() -> "Modelhost " + id + ": model " + m.key() + " READY on " + engine.name() + " in " + ms + " ms");
            record(mx -> mx.timer("fractal_model_load_seconds", "model", m.artifact.name(), "modelhost", id)
                    .record(System.nanoTime() - start));
        } catch (ModelLoadException | RuntimeException e) {
            m.failed(e.getMessage());
            LOG.warning(() -> "Modelhost " + id + ": model " + m.key() + " FAILED: " + e.getMessage());
            record(mx -> mx.counter("fractal_model_load_failures_total", "model", m.artifact.name(), "modelhost", id).inc());
        }
    }

    // ---- serving -------------------------------------------------------------------------------------------

    @Override
    public String id() {
        return id;
    }

    @Override
    public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
        HostedModel m = models.get(HostedModel.key(request.model(), request.version()));
        Generation g = m == null ? null : m.acquire();
        if (g == null) {
            return CompletableFuture.failedFuture(new ModelNotReadyException("model " + request.model() + ":"
                    + request.version() + " is not ready on modelhost " + id));
        }
        CompletableFuture<InferenceResponse> future = new CompletableFuture<>();
        enqueue(new Job.Inference(request, m, g, future, System.nanoTime())); // a refused job releases its generation
        return future;
    }

    @Override
    public CompletableFuture<EchoDTO> echo(Object payload) {
        CompletableFuture<EchoDTO> future = new CompletableFuture<>();
        enqueue(new Job.Echo(payload, future, System.nanoTime()));
        return future;
    }

    private boolean enqueue(Job job) {
        if (!accepting) {
            job.abandon(new CapacityExceededException("modelhost " + id + " is draining", 1));
            return false;
        }
        if (!queue.offer(job)) {
            rejected.incrementAndGet();
            job.abandon(new CapacityExceededException("modelhost " + id + " queue is full ("
                    + queue.size() + " requests waiting)", 1));
            record(mx -> mx.counter("fractal_modelhost_rejected_total", "modelhost", id).inc());
            return false;
        }
        return true;
    }

    private void work() {
        while (running || !queue.isEmpty()) {
            Job job;
            try {
                job = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (job == null) {
                continue;
            }
            inFlight.incrementAndGet();
            try {
                if (job instanceof Job.Inference inference) {
                    run(inference);
                } else if (job instanceof Job.Echo echo) {
                    EchoDTO dto = new EchoDTO();
                    dto.data = echo.payload();
                    dto.modelhost = id;
                    dto.worker = Thread.currentThread().getName();
                    served.incrementAndGet();
                    echo.future().complete(dto);
                }
            } finally {
                inFlight.decrementAndGet();
            }
        }
    }

    private void run(Job.Inference job) {
        long started = System.nanoTime();
        long queued = started - job.enqueuedNanos();
        InferenceRequest req = job.request();
        try {
            List<Tensor> outputs = job.generation().model.predict(req.inputs());
            if (!req.outputs().isEmpty()) {
                outputs = outputs.stream().filter(t -> req.outputs().contains(t.name())).toList();
            }
            long inference = System.nanoTime() - started;
            served.incrementAndGet();
            String version = Integer.toString(req.version());
            record(mx -> {
                mx.timer("fractal_queue_seconds", "model", req.model(), "version", version, "modelhost", id).record(queued);
                mx.timer("fractal_inference_seconds", "model", req.model(), "version", version, "modelhost", id)
                        .record(inference);
            });
            job.future().complete(new InferenceResponse(req.id(), req.model(), req.version(), outputs, id, queued,
                    inference));
        } catch (InvalidInputException e) {
            invalid.incrementAndGet(); // the request's fault, not the host's
            job.future().completeExceptionally(e);
        } catch (RuntimeException | Error e) {
            failed.incrementAndGet();
            record(mx -> mx.counter("fractal_inference_failures_total", "model", req.model(), "modelhost", id).inc());
            job.future().completeExceptionally(e);
        } finally {
            job.generation().release();
        }
    }

    // ---- state ---------------------------------------------------------------------------------------------

    @Override
    public ModelState state(String model, int version) {
        HostedModel m = models.get(HostedModel.key(model, version));
        return m == null ? null : m.state();
    }

    @Override
    public io.fractal.api.host.ModelStatusDTO status(String model, int version) {
        HostedModel m = models.get(HostedModel.key(model, version));
        return m == null ? null : m.toDTO();
    }

    @Override
    public int capacity() {
        return workers.size();
    }

    @Override
    public int outstanding() {
        return inFlight.get() + queue.size();
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
        dto.workers = workers.size();
        dto.queueCapacity = config.queue_capacity();
        dto.models = filter.toString();
        dto.inFlight = inFlight.get();
        dto.queued = queue.size();
        dto.served = served.get();
        dto.failed = failed.get();
        dto.rejected = rejected.get();
        dto.invalid = invalid.get();
        dto.loaded = models.values().stream().map(HostedModel::toDTO)
                .sorted(Comparator.comparing((io.fractal.api.host.ModelStatusDTO s) -> s.model)
                        .thenComparingInt(s -> s.version))
                .toList();
        return dto;
    }

    /**
     * The service is already unregistered (the balancer no longer picks this host): refuse what still arrives,
     * finish what is queued and running, then stop the workers and close the models.
     */
    @Deactivate
    void deactivate() {
        accepting = false;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.drain_timeout_seconds());
        running = false;
        for (Thread t : workers) {
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        Job left;
        while ((left = queue.poll()) != null) {
            left.abandon(new CapacityExceededException("modelhost " + id + " stopped", 1));
        }
        loader.shutdownNow();
        List<Generation> open = new ArrayList<>();
        for (HostedModel m : models.values()) {
            Generation g = m.retire(ModelState.DRAINING);
            if (g != null) {
                open.add(g);
            }
        }
        awaitClosed(open, "modelhost " + id + " stopping");
        models.clear();
        FractalMetrics m = metrics;
        if (m != null) {
            m.removeAll("modelhost", id);
        }
        LOG.info(() -> "Modelhost " + id + " stopped after serving " + served.get() + " requests");
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
