package io.fractal.inferrer.internal;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import io.fractal.api.rest.ClientConnection;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What the v1 and v2 APIs share: resolving the version, its signature, and routing through the balancer, within
 * the request's deadline. The repository and the balancer are dynamic: a prediction that arrives while one is
 * away (its bundle is updated) waits for it, without holding a thread.
 */
final class Serving {

    /** The header a client asks for a shorter deadline with, in milliseconds. */
    static final String TIMEOUT_HEADER = "X-Request-Timeout-Ms";
    /** More signatures than this and those of versions the repository no longer has are dropped. */
    static final int MAX_SIGNATURES = 512;

    private static final Logger LOG = Logger.getLogger(Serving.class.getName());

    private final DynamicService<ModelRepository> repository;
    private final DynamicService<LoadBalancer> balancer;
    private final Supplier<FractalMetrics> metrics;
    private volatile RequestTimers timers;
    private final Supplier<InferrerConfiguration> config;
    private final Deadlines deadlines;
    private final Map<String, Known> loaded = new ConcurrentHashMap<>();
    /** The versions whose signature, completed by a first call, the repository was told to keep. */
    private final Set<String> taught = ConcurrentHashMap.newKeySet();
    /** The versions whose signature was read again right after a call completed it. */
    private final Set<String> described = ConcurrentHashMap.newKeySet();
    /** Where the repository is told (never a request's thread); tests may run it in place. */
    volatile Executor learning = ForkJoinPool.commonPool();

    /** A signature, and until when ({@link System#nanoTime()}) it holds: for ever once complete. */
    private record Known(ModelSignature signature, long until, boolean complete) {
    }

    /** How long a signature still missing datatypes or shapes is kept before the modelhosts are asked again. */
    private static final long INCOMPLETE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
    private final ServingStats stats;

    Serving(DynamicService<ModelRepository> repository, DynamicService<LoadBalancer> balancer,
            Supplier<FractalMetrics> metrics, Supplier<InferrerConfiguration> config, Deadlines deadlines,
            ServingStats stats) {
        this.stats = stats;
        this.repository = repository;
        this.balancer = balancer;
        this.metrics = metrics;
        this.config = config;
        this.deadlines = deadlines;
    }

    /** The per-version inference counters (Triton's statistics extension). */
    ServingStats stats() {
        return stats;
    }

    // ---- deadlines -----------------------------------------------------------------------------------------

    /**
     * A prediction's deadline in milliseconds: the configured one, or less when the client asks for less with
     * {@value #TIMEOUT_HEADER} or (v2) {@code parameters.timeout} in microseconds (null when not given).
     */
    long timeoutMillis(String header, Long micros) {
        long timeout = Math.max(1, config.get().request_timeout_ms());
        if (header != null && !header.isBlank()) {
            long asked;
            try {
                asked = Long.parseLong(header.trim());
            } catch (NumberFormatException e) {
                asked = -1;
            }
            if (asked <= 0) {
                throw new InvalidInputException("header " + TIMEOUT_HEADER + " must be a positive number of "
                        + "milliseconds, not '" + header + "'");
            }
            timeout = Math.min(timeout, asked);
        }
        if (micros != null && micros > 0) {
            timeout = Math.min(timeout, Math.max(1, (micros + 999) / 1000));
        }
        return timeout;
    }

    // ---- signatures ----------------------------------------------------------------------------------------

    /** The signature a version is served with (waiting for the balancer if it is away). */
    ModelSignature signature(ModelVersionDTO version) {
        return signature(version, balancer.await());
    }

    /**
     * The signature a version is served with: the declared one, completed by what the engine read and (after its
     * first call) saw. While the modelhosts' is incomplete (after a restart, before any call), what the repository
     * learned from an earlier first call completes it. Only ever a description: engines enforce the declared one.
     */
    ModelSignature signature(ModelVersionDTO version, LoadBalancer lb) {
        // A version's files never change, so once an engine has said all of its signature it is kept: predictions
        // do not ask every modelhost for it again. One still incomplete (a TorchScript file without a sidecar,
        // before its first call) is asked again a second later.
        String key = key(version);
        Known known = loaded.get(key);
        if (known != null && (known.complete || known.until - System.nanoTime() > 0)) {
            if (known.complete) {
                teach(version, known.signature);
            }
            return known.signature;
        }
        ModelSignature declared = version.signature == null ? ModelSignature.UNKNOWN : version.signature;
        ModelSignature best = null;
        for (ModelStatusDTO s : lb.status(version.name, version.version).values()) {
            if (s.signature != null) {
                // the host's already merges the declared one with what the engine read and saw
                ModelSignature merged = s.signature.orElse(declared);
                if (best == null || (merged.complete() && !best.complete())) {
                    best = merged;
                }
            }
        }
        if (best == null) {
            return completedBy(declared, version.learned); // not loaded anywhere (yet): asked again next time
        }
        if (best.complete()) {
            teach(version, best);
        } else {
            best = completedBy(best, version.learned);
        }
        remember(key, new Known(best, System.nanoTime() + INCOMPLETE_NANOS, best.complete()));
        return best;
    }

    /**
     * {@code known}, with what it leaves unknown (names, datatypes, shapes; the inputs or outputs when it has none)
     * taken from what a first call showed before (kept by the repository), its origin then saying
     * {@link ModelSignature#FIRST_CALL}; {@code known} itself when that adds nothing.
     */
    static ModelSignature completedBy(ModelSignature known, ModelSignature learned) {
        if (learned == null || known.complete()) {
            return known;
        }
        List<TensorSpec> inputs = fill(known.inputs(), learned.inputs());
        List<TensorSpec> outputs = fill(known.outputs(), learned.outputs());
        if (inputs.equals(known.inputs()) && outputs.equals(known.outputs())) {
            return known;
        }
        String origin = known.origin();
        origin = origin == null ? ModelSignature.FIRST_CALL
                : origin.contains(ModelSignature.FIRST_CALL) ? origin : origin + " + " + ModelSignature.FIRST_CALL;
        return new ModelSignature(inputs, outputs, known.labels(), origin);
    }

    /** Each spec completed by the learned one of its name, else of its position; the learned ones if none. */
    private static List<TensorSpec> fill(List<TensorSpec> specs, List<TensorSpec> learned) {
        if (specs.isEmpty()) {
            return learned;
        }
        if (learned.size() != specs.size()) {
            return specs; // not the same model's tensors: nothing to take
        }
        List<TensorSpec> out = new ArrayList<>(specs.size());
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec spec = specs.get(i);
            TensorSpec l = learned.get(i);
            for (TensorSpec candidate : learned) {
                if (spec.name() != null && spec.name().equals(candidate.name())) {
                    l = candidate;
                }
            }
            out.add(new TensorSpec(spec.name() != null ? spec.name() : l.name(),
                    spec.datatype() != null ? spec.datatype() : l.datatype(),
                    spec.shape() != null ? spec.shape() : l.shape()));
        }
        return out;
    }

    /**
     * Tells the repository, once per version and off the caller's thread, a complete signature that a first call
     * completed, so that it describes the version after a restart before any call. The repository being away, or
     * failing, changes nothing for the request: the version is then described as before.
     */
    private void teach(ModelVersionDTO version, ModelSignature complete) {
        if (complete.origin() == null || !complete.origin().contains(ModelSignature.FIRST_CALL)
                || (version.learned != null && version.learned.complete())) {
            return;
        }
        ModelRepository r = repository.current();
        String key = key(version);
        if (r == null || !firstTime(taught, key)) {
            return; // away (told when a later request describes it), or told already (told twice, it ignores one)
        }
        try {
            learning.execute(() -> {
                try {
                    ModelVersionDTO now = r.resolve(version.name, version.version);
                    if (java.util.Objects.equals(now.sha256, version.sha256)) {
                        r.learnSignature(version.name, version.version, complete);
                    }
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "The repository did not keep the signature of " + key, e);
                }
            });
        } catch (RejectedExecutionException e) {
            LOG.log(Level.FINE, "The signature of " + key + " is not kept", e);
        }
    }

    /**
     * After a successful call on a version whose signature was incomplete, its host has completed it: it is read
     * once at once (off the response's thread), so that the repository keeps it even if no later request asks.
     */
    private void describeAfterCall(ModelVersionDTO version, LoadBalancer lb) {
        String key = key(version);
        if (!firstTime(described, key)) {
            return; // a later request reads it again anyway
        }
        try {
            learning.execute(() -> {
                try {
                    signature(version, lb);
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "The signature of " + key + " was not read after its first call", e);
                }
            });
        } catch (RejectedExecutionException e) {
            LOG.log(Level.FINE, "The signature of " + key + " was not read after its first call", e);
        }
    }

    /**
     * Whether {@code key} is new to {@code seen}, which it joins; past {@link #MAX_SIGNATURES} keys the set starts
     * over (doing the work once more is harmless).
     */
    private static boolean firstTime(Set<String> seen, String key) {
        if (!seen.add(key)) {
            return false;
        }
        if (seen.size() > MAX_SIGNATURES) {
            seen.retainAll(Set.of(key));
        }
        return true;
    }

    private static String key(ModelVersionDTO version) {
        return version.name + ":" + version.version + ":" + version.sha256;
    }

    private void forgetIncomplete(ModelVersionDTO version) {
        String key = key(version);
        loaded.computeIfPresent(key, (k, known) -> known.complete ? known : null);
    }

    /** Keeps a signature; past {@link #MAX_SIGNATURES}, drops those of versions that are gone first. */
    private void remember(String key, Known signature) {
        if (loaded.size() >= MAX_SIGNATURES) {
            ModelRepository r = repository.current();
            if (r != null) {
                try {
                    Set<String> live = new HashSet<>();
                    for (ModelDTO m : r.models()) {
                        for (ModelVersionDTO v : m.versions) {
                            live.add(v.name + ":" + v.version + ":" + v.sha256);
                        }
                    }
                    loaded.keySet().retainAll(live);
                } catch (RuntimeException e) {
                    loaded.clear();
                }
            }
            if (loaded.size() >= MAX_SIGNATURES) {
                loaded.clear(); // a cache: what is still used is read again
            }
        }
        loaded.put(key, signature);
    }

    /** How many signatures are kept (for tests). */
    int signaturesKept() {
        return loaded.size();
    }

    // ---- predictions ---------------------------------------------------------------------------------------

    /**
     * Runs a request on the version {@code ref} names, within {@code timeoutMillis} (then it fails with
     * {@link TimeoutException}). When it names no version and the default version went away between resolving
     * and routing (replaced or deleted), the request follows the new default once. Bad input and an unknown
     * model fail at once (thrown) while the services are there.
     */
    CompletableFuture<Served> infer(ModelRef ref, String id, Function<ModelSignature, List<Tensor>> inputs,
            Set<String> outputs, long timeoutMillis) {
        Call call = new Call(ref, id, inputs, outputs, System.nanoTime(), timeoutMillis);
        CompletableFuture<Served> result = call.result;
        // What the caller gets completes once the request is counted: a client that reads the statistics right
        // after its answer sees its request in them.
        CompletableFuture<Served> counted = result.whenComplete((served, error) -> {
            if (error instanceof TimeoutException || error instanceof CancellationException) {
                call.abandon(); // nobody waits any more: a request still waiting in the balancer stops there
            }
            count(call, served, error);
        });
        ModelRepository repo = repository.current();
        LoadBalancer lb = balancer.current();
        if (repo != null && lb != null) {
            try {
                call.run(repo, lb);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
                throw e;
            }
        }
        if (repo == null || lb == null) {
            repository.whenAvailable().thenCombine(balancer.whenAvailable(), (r, b) -> {
                call.run(r, b);
                return null;
            }).exceptionally(e -> {
                result.completeExceptionally(DynamicService.unwrap(e));
                return null;
            });
        }
        if (!result.isDone()) {
            // A request that ran on this thread (a free worker) is answered already: it needs no watch on its client
            // and its deadline no timer. One that waits: its client going away cancels it, its deadline fails it.
            ClientConnection.onClose(() -> result.cancel(false));
            long left = timeoutMillis - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - call.start);
            deadlines.bound(result, Math.max(0, left), TimeoutException::new);
        }
        return counted;
    }

    /** Counts a request in the statistics of the version it ran (or was resolved to); never fails it. */
    private void count(Call call, Served served, Throwable error) {
        try {
            long elapsed = System.nanoTime() - call.start;
            if (served != null) {
                InferenceResponse r = served.response();
                stats.success(r.model(), r.version(), elapsed, r.queueNanos(), r.inferenceNanos());
            } else {
                ModelVersionDTO v = call.resolved;
                if (v != null) {
                    stats.failure(v.name, v.version, elapsed);
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Request not counted", e);
        }
    }

    /** One prediction on its way. */
    private final class Call {
        final ModelRef ref;
        final String id;
        final Function<ModelSignature, List<Tensor>> inputs;
        final Set<String> outputs;
        final long start;
        /** {@link System#nanoTime()} past which the answer is a timeout. */
        final long deadline;
        final CompletableFuture<Served> result = new CompletableFuture<>();
        /** The balancer's future for the request, cancelled when the deadline passes. */
        volatile CompletableFuture<InferenceResponse> sent;
        /** The version the request was resolved to, once it is. */
        volatile ModelVersionDTO resolved;

        Call(ModelRef ref, String id, Function<ModelSignature, List<Tensor>> inputs, Set<String> outputs,
                long start, long timeoutMillis) {
            this.ref = ref;
            this.id = id;
            this.inputs = inputs;
            this.outputs = outputs;
            this.start = start;
            this.deadline = start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        }

        void run(ModelRepository repo, LoadBalancer lb) {
            ModelVersionDTO version = resolve(repo, ref.version());
            resolved = version;
            ModelSignature signature = signature(version, lb);
            InferenceRequest request = new InferenceRequest(id, version.name, version.version,
                    inputs.apply(signature), outputs, start, deadline);
            send(lb, request).handle((response, error) -> {
                if (error == null) {
                    return CompletableFuture.completedFuture(response);
                }
                Throwable cause = DynamicService.unwrap(error);
                if (ref.version() == null && cause instanceof ModelNotReadyException && !result.isDone()) {
                    return followDefault(version, request, cause);
                }
                return CompletableFuture.<InferenceResponse>failedFuture(cause);
            }).thenCompose(Function.identity()).whenComplete((response, error) -> {
                if (error != null) {
                    result.completeExceptionally(DynamicService.unwrap(error));
                } else {
                    record(response, start);
                    if (!signature.complete()) {
                        forgetIncomplete(version); // the host that answered has completed its signature now
                        describeAfterCall(version, lb);
                    }
                    if (System.nanoTime() - deadline > 0) {
                        // answered past its deadline (it ran on the caller's thread, with no timer to fail it
                        // meanwhile): the deadline holds as if the timer had fired
                        result.completeExceptionally(new TimeoutException());
                    } else {
                        result.complete(new Served(response, signature));
                    }
                }
            });
        }

        /** The default version went away between resolving and routing: the request follows the new one once. */
        private CompletableFuture<InferenceResponse> followDefault(ModelVersionDTO was, InferenceRequest request,
                Throwable cause) {
            return repository.whenAvailable().thenCompose(r -> {
                ModelVersionDTO now = resolve(r, null);
                if (now.version == was.version) {
                    return CompletableFuture.<InferenceResponse>failedFuture(cause);
                }
                return balancer.whenAvailable().thenCompose(b -> send(b, new InferenceRequest(id, now.name,
                        now.version, request.inputs(), outputs, start, deadline)));
            });
        }

        private ModelVersionDTO resolve(ModelRepository repo, Integer version) {
            try {
                return repo.resolve(ref.name(), version);
            } catch (RuntimeException e) {
                // a repository being deactivated may have emptied itself: its successor answers, if it is there
                ModelRepository next = repository.current();
                if (next == null || next == repo) {
                    throw e;
                }
                return next.resolve(ref.name(), version);
            }
        }

        /** Sends through {@code lb}; a balancer that was unbound meanwhile and refused it hands it to the next. */
        private CompletableFuture<InferenceResponse> send(LoadBalancer lb, InferenceRequest request) {
            return balancer.callAsync(lb, b -> {
                CompletableFuture<InferenceResponse> f = b.infer(request);
                sent = f;
                return f;
            }, e -> e instanceof CapacityExceededException);
        }

        void abandon() {
            CompletableFuture<InferenceResponse> f = sent;
            if (f != null) {
                f.cancel(false);
            }
        }
    }

    /** Records the request's latency; the metrics service may go away mid-call, which never fails a request. */
    private void record(InferenceResponse response, long start) {
        try {
            FractalMetrics m = metrics.get();
            if (m != null) {
                RequestTimers held = timers;
                if (held == null || held.owner != m) {
                    held = new RequestTimers(m);
                    timers = held;
                }
                held.of(response.model(), response.version()).record(System.nanoTime() - start);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Request latency not recorded", e);
        }
    }

    /**
     * The request latency series of each model version, looked up once per metrics service rather than per request
     * (a lookup builds the series' key and searches the registry). Model series are never removed from the registry,
     * so a held one stays the one exported; a new metrics service starts a new set.
     */
    private static final class RequestTimers {
        final FractalMetrics owner;
        private final Map<ModelVersionKey, FractalMetrics.Timer> timers = new ConcurrentHashMap<>();

        RequestTimers(FractalMetrics owner) {
            this.owner = owner;
        }

        FractalMetrics.Timer of(String model, int version) {
            FractalMetrics.Timer t = timers.get(new ModelVersionKey(model, version));
            return t != null ? t : timers.computeIfAbsent(new ModelVersionKey(model, version), k -> owner.timer(
                    "fractal_request_seconds", "model", k.model(), "version", Integer.toString(k.version())));
        }
    }

    private record ModelVersionKey(String model, int version) {
    }

    /** A response with the signature it was computed under (for labels and output names). */
    record Served(InferenceResponse response, ModelSignature signature) {
    }
}
