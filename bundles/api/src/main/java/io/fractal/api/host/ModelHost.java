package io.fractal.api.host;

import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import java.util.concurrent.CompletableFuture;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A modelhost instance as the balancer sees it: something that holds models and runs requests. Every instance
 * is a service; a modelhost on another machine can be registered as one more service of this type.
 *
 * <p>Futures complete exceptionally with {@link io.fractal.api.inference.CapacityExceededException} when the
 * request was refused before any work started (full queue, draining host): the balancer may retry those
 * elsewhere. Other failures mean the request ran.
 */
@ConsumerType
public interface ModelHost {

    /** Service property: the instance id (String). */
    String ID = "fractal.modelhost.id";

    String id();

    /** Queues a request for a model version this host has READY. */
    CompletableFuture<InferenceResponse> infer(InferenceRequest request);

    /**
     * Runs a test payload through this host's queue and a worker, as the seed's {@code sendtomodelhost} did,
     * answering which host and worker handled it.
     */
    CompletableFuture<EchoDTO> echo(Object payload);

    /** The state of a model version on this host, or null if the host does not hold it. */
    ModelState state(String model, int version);

    /** The status of a model version on this host (state, failure reason, signature), or null. */
    ModelStatusDTO status(String model, int version);

    /** Requests in flight plus queued: the load the least-outstanding strategies compare. */
    int outstanding();

    /**
     * How many requests it runs at once (its workers). The least-loaded strategies treat hosts with an idle worker
     * alike and compare saturated hosts per unit of capacity, so under load a host with more workers takes more of
     * the traffic.
     */
    default int capacity() {
        return 1;
    }

    /** Whether the host takes new requests (false once it drains). */
    boolean accepting();

    /** A snapshot of the host's state and counters. */
    ModelHostDTO describe();
}
