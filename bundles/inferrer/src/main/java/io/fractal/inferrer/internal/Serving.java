package io.fractal.inferrer.internal;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;

/** What the v1 and v2 APIs share: resolving the version, its signature, and routing through the balancer. */
final class Serving {

    private final ModelRepository repository;
    private final LoadBalancer balancer;
    private final Supplier<FractalMetrics> metrics;
    private final Map<String, ModelSignature> loaded = new ConcurrentHashMap<>();

    Serving(ModelRepository repository, LoadBalancer balancer, Supplier<FractalMetrics> metrics) {
        this.repository = repository;
        this.balancer = balancer;
        this.metrics = metrics;
    }

    ModelRepository repository() {
        return repository;
    }

    LoadBalancer balancer() {
        return balancer;
    }

    /** The signature a version is served with: the declared one, completed by what the engine read. */
    ModelSignature signature(ModelVersionDTO version) {
        // A version's files never change, so once an engine has read its signature it is kept: predictions do not
        // ask every modelhost for it again.
        String key = version.name + ":" + version.version + ":" + version.sha256;
        ModelSignature known = loaded.get(key);
        if (known != null) {
            return known;
        }
        ModelSignature declared = version.signature == null ? ModelSignature.UNKNOWN : version.signature;
        for (ModelStatusDTO s : balancer.status(version.name, version.version).values()) {
            if (s.signature != null) {
                ModelSignature merged = declared.orElse(s.signature);
                loaded.put(key, merged);
                return merged;
            }
        }
        return declared;
    }

    /**
     * Runs a request on the version {@code ref} names. When it names no version and the default version went
     * away between resolving and routing (replaced or deleted), the request follows the new default once.
     */
    CompletableFuture<Served> infer(ModelRef ref, String id, Function<ModelSignature, List<Tensor>> inputs,
            Set<String> outputs) {
        long start = System.nanoTime();
        ModelVersionDTO version = repository.resolve(ref.name(), ref.version());
        ModelSignature signature = signature(version);
        InferenceRequest request = new InferenceRequest(id, version.name, version.version, inputs.apply(signature),
                outputs, start);
        return balancer.infer(request).handle((response, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(response);
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (ref.version() == null && cause instanceof ModelNotReadyException) {
                ModelVersionDTO now = repository.resolve(ref.name(), null);
                if (now.version != version.version) {
                    return balancer.infer(new InferenceRequest(id, now.name, now.version, request.inputs(), outputs,
                            start));
                }
            }
            return CompletableFuture.<InferenceResponse>failedFuture(cause);
        }).thenCompose(Function.identity()).thenApply(response -> {
            FractalMetrics m = metrics.get();
            if (m != null) {
                m.timer("fractal_request_seconds", "model", response.model(), "version",
                        Integer.toString(response.version())).record(System.nanoTime() - start);
            }
            return new Served(response, signature);
        });
    }

    /** A response with the signature it was computed under (for labels and output names). */
    record Served(InferenceResponse response, ModelSignature signature) {
    }
}
