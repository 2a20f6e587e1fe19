package io.fractal.api.balancer;

import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import java.util.concurrent.CompletableFuture;
import org.osgi.annotation.versioning.ProviderType;

/** Spreads requests over the live {@link io.fractal.api.host.ModelHost} services that can serve them. */
@ProviderType
public interface LoadBalancer {

    /**
     * Routes a request to a modelhost where the model version is READY. Fails with
     * {@link io.fractal.api.inference.ModelNotReadyException} when none is (after a short grace for models that
     * are loading), and with {@link io.fractal.api.inference.CapacityExceededException} when all are full.
     */
    CompletableFuture<InferenceResponse> infer(InferenceRequest request);

    /** Sends a test payload to one modelhost, chosen as a request would be. */
    CompletableFuture<EchoDTO> echo(Object payload);

    /**
     * The state of a model version on each live modelhost that holds it, by modelhost id; empty if none does.
     */
    java.util.Map<String, ModelStatusDTO> status(String model, int version);

    /** Each live modelhost's state and counters, sorted by id. */
    java.util.List<io.fractal.api.host.ModelHostDTO> modelHosts();

    /** The strategy in use and the modelhosts as the balancer sees them. */
    BalancerDTO describe();

    /** Switches the strategy live; the choice is kept in the balancer's configuration. */
    void setStrategy(Strategy strategy);
}
