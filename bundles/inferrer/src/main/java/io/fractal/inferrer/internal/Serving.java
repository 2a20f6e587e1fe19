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
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
    private final Supplier<InferrerConfiguration> config;
    private final Deadlines deadlines;
    private final Map<String, Known> loaded = new ConcurrentHashMap<>();

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

    /** The signature a version is served with: the declared one, completed by what the engine read. */
    ModelSignature signature(ModelVersionDTO version, LoadBalancer lb) {
        // A version's files never change, so once an engine has said all of its signature it is kept: predictions
        // do not ask every modelhost for it again. One still incomplete (a TorchScript file without a sidecar,
        // before its first call) is asked again a second later.
        String key = version.name + ":" + version.version + ":" + version.sha256;
        Known known = loaded.get(key);
        if (known != null && (known.complete || known.until - System.nanoTime() > 0)) {
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
            return declared;
        }
        remember(key, new Known(best, System.nanoTime() + INCOMPLETE_NANOS, best.complete()));
        return best;
    }

    private void forgetIncomplete(ModelVersionDTO version) {
        String key = version.name + ":" + version.version + ":" + version.sha256;
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
        Call call = new Call(ref, id, inputs, outputs, System.nanoTime());
        CompletableFuture<Served> result = deadlines.bound(call.result, timeoutMillis, TimeoutException::new);
        // What the caller gets completes once the request is counted: a client that reads the statistics right
        // after its answer sees its request in them.
        CompletableFuture<Served> counted = result.whenComplete((served, error) -> {
            if (error instanceof TimeoutException) {
                call.abandon(); // the client has its answer: a request still waiting in the balancer stops there
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
        } else {
            repository.whenAvailable().thenCombine(balancer.whenAvailable(), (r, b) -> {
                call.run(r, b);
                return null;
            }).exceptionally(e -> {
                result.completeExceptionally(DynamicService.unwrap(e));
                return null;
            });
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
        final CompletableFuture<Served> result = new CompletableFuture<>();
        /** The balancer's future for the request, cancelled when the deadline passes. */
        volatile CompletableFuture<InferenceResponse> sent;
        /** The version the request was resolved to, once it is. */
        volatile ModelVersionDTO resolved;

        Call(ModelRef ref, String id, Function<ModelSignature, List<Tensor>> inputs, Set<String> outputs,
                long start) {
            this.ref = ref;
            this.id = id;
            this.inputs = inputs;
            this.outputs = outputs;
            this.start = start;
        }

        void run(ModelRepository repo, LoadBalancer lb) {
            ModelVersionDTO version = resolve(repo, ref.version());
            resolved = version;
            ModelSignature signature = signature(version, lb);
            InferenceRequest request = new InferenceRequest(id, version.name, version.version,
                    inputs.apply(signature), outputs, start);
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
                    }
                    result.complete(new Served(response, signature));
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
                        now.version, request.inputs(), outputs, start)));
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
                m.timer("fractal_request_seconds", "model", response.model(), "version",
                        Integer.toString(response.version())).record(System.nanoTime() - start);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Request latency not recorded", e);
        }
    }

    /** A response with the signature it was computed under (for labels and output names). */
    record Served(InferenceResponse response, ModelSignature signature) {
    }
}
