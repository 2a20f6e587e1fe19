package io.fractal.cluster.internal;

import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.ModelNotReadyException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * A modelhost of another node, registered here as one more {@link ModelHost} service. Model versions are matched by
 * name and checksum, since the same bytes may have another version number on each node: a request for version 3
 * here goes out with the number the remote node gave those bytes, and its answer comes back with 3.
 *
 * <p>A node that does not answer (killed, cut off) makes every call fail as refused before work
 * ({@link CapacityExceededException}) and the host stops accepting for {@value #DOWN_MILLIS} ms, so the balancer
 * re-routes those calls at once without spending its retry budget; when the node leaves the cluster the host is
 * unregistered and whatever it still has in flight is refused the same way.
 */
final class RemoteModelHost implements ModelHost {

    private static final Logger LOG = Logger.getLogger(RemoteModelHost.class.getName());
    static final long DOWN_MILLIS = 1000;

    /** What this node knows of model versions: the checksum of a local version, the local version of a checksum. */
    interface Versions {
        /** The checksum of the local version, or null if the local repository does not have it. */
        String sha256(String model, int version);

        /** The local version number of these bytes of the model, or -1. */
        int localVersion(String model, String sha256);
    }

    private final String id;
    private final String remoteId;
    private final String node;
    private final URI base;
    private final PeerClient client;
    private final Versions versions;
    private volatile NodeState.HostState state;
    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
    private volatile long downUntil;
    private volatile boolean gone;

    RemoteModelHost(String node, URI base, NodeState.HostState state, PeerClient client, Versions versions) {
        this.remoteId = state.id;
        this.id = state.id + "@" + node;
        this.node = node;
        this.base = base;
        this.state = state;
        this.client = client;
        this.versions = versions;
    }

    static String idOf(String hostId, String node) {
        return hostId + "@" + node;
    }

    void update(NodeState.HostState newState) {
        this.state = newState;
    }

    NodeState.HostState state() {
        return state;
    }

    String node() {
        return node;
    }

    URI base() {
        return base;
    }

    /**
     * Nothing more is sent; with {@code abort} (the node left) what is in flight is refused too, so the balancer
     * re-routes it.
     */
    void gone(String why, boolean abort) {
        gone = true;
        if (!abort) {
            return;
        }
        for (CompletableFuture<?> f : List.copyOf(inFlight)) {
            f.completeExceptionally(new CapacityExceededException("modelhost " + id + " left: " + why, 1));
        }
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
        if (!accepting()) {
            rejected.incrementAndGet();
            return CompletableFuture.failedFuture(new CapacityExceededException("modelhost " + id
                    + " is not taking requests", 1));
        }
        NodeState.Loaded loaded = find(request.model(), request.version());
        if (loaded == null || loaded.state != ModelState.READY) {
            return CompletableFuture.failedFuture(new ModelNotReadyException("model " + request.model() + ":"
                    + request.version() + " is not ready on modelhost " + id));
        }
        InferenceRequest remote = request.withVersion(loaded.version); // its deadline too
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        inFlight.add(result);
        outstanding.incrementAndGet();
        result.whenComplete((r, e) -> {
            inFlight.remove(result);
            outstanding.decrementAndGet();
        });
        client.infer(base, remoteId, remote).whenComplete((response, error) -> {
            if (error == null) {
                served.incrementAndGet();
                result.complete(new InferenceResponse(response.id(), request.model(), request.version(),
                        response.outputs(), id, response.queueNanos(), response.inferenceNanos()));
            } else {
                result.completeExceptionally(reported(error));
            }
        });
        return result;
    }

    private Throwable reported(Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof PeerClient.PeerException p) {
            switch (p.outcome) {
                case NODE_DOWN -> {
                    down(p.getMessage());
                    rejected.incrementAndGet();
                }
                case REFUSED -> rejected.incrementAndGet();
                case FAILED -> failed.incrementAndGet();
            }
            return p.reported();
        }
        failed.incrementAndGet();
        return cause;
    }

    private void down(String why) {
        boolean wasUp = System.nanoTime() - downUntil >= 0;
        downUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DOWN_MILLIS);
        if (wasUp) {
            LOG.warning(() -> "Modelhost " + id + " takes no requests for " + DOWN_MILLIS + " ms: " + why);
        }
    }

    @Override
    public CompletableFuture<EchoDTO> echo(Object payload) {
        if (!accepting()) {
            return CompletableFuture.failedFuture(new CapacityExceededException("modelhost " + id
                    + " is not taking requests", 1));
        }
        return client.echo(base, remoteId, payload).handle((echo, error) -> {
            if (error != null) {
                Throwable t = reported(error);
                throw t instanceof RuntimeException r ? r : new CompletionException(t);
            }
            echo.modelhost = id; // as this node names it
            return echo;
        });
    }

    /** The remote entry for the local version (model, version), matched by checksum; null if it has none. */
    private NodeState.Loaded find(String model, int version) {
        String sha = versions.sha256(model, version);
        if (sha == null) {
            return null;
        }
        for (NodeState.Loaded l : state.loaded) {
            if (model.equals(l.model) && sha.equals(l.sha256)) {
                return l;
            }
        }
        return null;
    }

    @Override
    public ModelState state(String model, int version) {
        NodeState.Loaded l = find(model, version);
        return l == null ? null : l.state;
    }

    @Override
    public ModelStatusDTO status(String model, int version) {
        NodeState.Loaded l = find(model, version);
        return l == null ? null : status(l, version);
    }

    private static ModelStatusDTO status(NodeState.Loaded l, int localVersion) {
        ModelStatusDTO s = new ModelStatusDTO();
        s.model = l.model;
        s.version = localVersion;
        s.state = l.state;
        s.reason = l.reason;
        s.engine = l.engine;
        s.signature = l.signature;
        return s;
    }

    @Override
    public int outstanding() {
        return outstanding.get();
    }

    @Override
    public int capacity() {
        return Math.max(1, state.workers);
    }

    @Override
    public boolean accepting() {
        return !gone && state.accepting && System.nanoTime() - downUntil >= 0;
    }

    @Override
    public ModelHostDTO describe() {
        NodeState.HostState s = state;
        ModelHostDTO dto = new ModelHostDTO();
        dto.id = id;
        dto.state = accepting() ? "RUNNING" : "DRAINING";
        dto.workers = s.workers;
        dto.queueCapacity = s.queueCapacity;
        dto.models = s.models;
        dto.inFlight = outstanding.get();
        dto.served = served.get();
        dto.failed = failed.get();
        dto.rejected = rejected.get();
        List<ModelStatusDTO> loaded = new ArrayList<>();
        for (NodeState.Loaded l : s.loaded) {
            int local = versions.localVersion(l.model, l.sha256);
            if (local >= 0) {
                loaded.add(status(l, local));
            }
        }
        dto.loaded = loaded;
        return dto;
    }

    @Override
    public String toString() {
        return "RemoteModelHost[" + id + " at " + base + "]";
    }
}
