package io.fractal.cluster.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.host.ModelHost;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelNotReadyException;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import io.fractal.api.rest.Doc;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The calls other nodes make to this one: run a request on a named LOCAL modelhost (never through the balancer,
 * which could send it back), echo, and a model version's bytes. Only for holders of the shared secret: the access
 * level is {@link Level#OPEN} because nodes carry no API token; the secret header is checked here, first.
 * Refusals say their {@code kind} ({@code full}, {@code draining}, {@code not_ready}, {@code not_found},
 * {@code invalid}, {@code failed}, {@code timeout}, {@code deadline}) so the calling node knows whether to re-route.
 * A call is bounded by the deadline its request carries (the time its caller still waited when it sent it), by
 * the {@code X-Request-Timeout-Ms} header, and by {@code call.timeout.ms}, whichever is first: past it, the call is
 * cancelled (out of the modelhost's queue) and answered 504 {@code timeout}; one that arrives past it is refused
 * at once, 504 {@code deadline}.
 */
@Path("/internal/v1")
@Access(Level.OPEN)
public final class InternalResource {

    private final Secret secret;
    private final Function<String, ModelHost> localHosts;
    private final Supplier<ModelRepository> repository;
    private final ScheduledExecutorService timer;
    private final long maxTimeoutMillis;
    private final AtomicInteger inFlight = new AtomicInteger();

    InternalResource(Secret secret, Function<String, ModelHost> localHosts, Supplier<ModelRepository> repository,
            ScheduledExecutorService timer, long maxTimeoutMillis) {
        this.secret = secret;
        this.localHosts = localHosts;
        this.repository = repository;
        this.timer = timer;
        this.maxTimeoutMillis = maxTimeoutMillis;
    }

    /** Calls from other nodes being answered now. */
    int inFlight() {
        return inFlight.get();
    }

    @POST
    @Path("modelhosts/{id}/infer")
    @Doc("cluster: another node runs a request on this node's modelhost {id} (shared secret required)")
    public CompletionStage<Response> infer(@PathParam("id") String id,
            @HeaderParam(PeerClient.SECRET_HEADER) String presented,
            @HeaderParam(PeerClient.TIMEOUT_HEADER) String timeout, byte[] body) {
        Response refused = check(presented);
        if (refused != null) {
            return CompletableFuture.completedFuture(refused);
        }
        ModelHost host = localHosts.apply(id);
        if (host == null || !host.accepting()) {
            return CompletableFuture.completedFuture(error(503, "draining", "modelhost " + id
                    + (host == null ? " is not on this node" : " is draining")));
        }
        InferenceRequest request;
        try {
            request = Wire.decodeRequest(body == null ? new byte[0] : body);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(error(400, "invalid", "bad cluster request: " + e.getMessage()));
        }
        long millis = deadline(timeout);
        if (request.hasDeadline()) {
            long left = request.remainingNanos();
            if (left <= 0) {
                return CompletableFuture.completedFuture(error(504, "deadline", "the request's deadline passed "
                        + TimeUnit.NANOSECONDS.toMillis(-left) + " ms before it reached modelhost " + id));
            }
            millis = Math.min(millis, Math.max(1, TimeUnit.NANOSECONDS.toMillis(left + 999_999)));
        }
        long bound = millis;
        inFlight.incrementAndGet();
        CompletableFuture<Response> answer = new CompletableFuture<>();
        CompletableFuture<io.fractal.api.inference.InferenceResponse> sent;
        try {
            sent = host.infer(request);
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<io.fractal.api.inference.InferenceResponse> call = sent;
        ScheduledFuture<?> expiry = null;
        try {
            expiry = timer.schedule(() -> {
                call.cancel(false);
                answer.complete(error(504, "timeout", "not answered within the request's deadline (" + bound
                        + " ms)"));
            }, bound, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // stopping: the call is answered by the host
        }
        ScheduledFuture<?> timerTask = expiry;
        call.whenComplete((response, error) -> {
            if (timerTask != null) {
                timerTask.cancel(false);
            }
            if (error == null) {
                answer.complete(Response.ok(Wire.encode(response), Wire.CONTENT_TYPE).build());
            } else {
                answer.complete(failure(host, error));
            }
        });
        return answer.whenComplete((r, e) -> inFlight.decrementAndGet());
    }

    @GET
    @Path("ping")
    @Doc("cluster: whether this node's calls for other nodes are served (shared secret required)")
    public Response ping(@HeaderParam(PeerClient.SECRET_HEADER) String presented) {
        Response refused = check(presented);
        return refused != null ? refused : Response.ok(Map.of("cluster", "ready"), MediaType.APPLICATION_JSON_TYPE)
                .build();
    }

    @POST
    @Path("modelhosts/{id}/echo")
    @Doc("cluster: another node runs a test payload through this node's modelhost {id} (shared secret required)")
    public CompletionStage<Response> echo(@PathParam("id") String id,
            @HeaderParam(PeerClient.SECRET_HEADER) String presented, byte[] body) {
        Response refused = check(presented);
        if (refused != null) {
            return CompletableFuture.completedFuture(refused);
        }
        ModelHost host = localHosts.apply(id);
        if (host == null || !host.accepting()) {
            return CompletableFuture.completedFuture(error(503, "draining", "modelhost " + id + " is not taking "
                    + "requests on this node"));
        }
        Object payload;
        try {
            JsonNode json = NodeState.JSON.readTree(body == null ? new byte[0] : body);
            payload = NodeState.JSON.treeToValue(json.path("data"), Object.class);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.completedFuture(error(400, "invalid", "the body must be JSON {\"data\": ...}"));
        }
        return host.echo(payload).handle((echo, error) -> error == null
                ? Response.ok(echo, MediaType.APPLICATION_JSON_TYPE).build() : failure(host, error));
    }

    @GET
    @Path("models/{name}/versions/{version}/file")
    @Doc("cluster: the bytes of a model version, for a node that copies it (shared secret required)")
    public Response file(@PathParam("name") String name, @PathParam("version") String version,
            @HeaderParam(PeerClient.SECRET_HEADER) String presented) throws IOException {
        Response refused = check(presented);
        if (refused != null) {
            return refused;
        }
        ModelRepository repo = repository.get();
        if (repo == null) {
            return error(503, "draining", "the repository is not available");
        }
        int v;
        try {
            v = Integer.parseInt(version);
        } catch (NumberFormatException e) {
            return error(400, "invalid", "version must be a number");
        }
        ModelVersionDTO dto;
        InputStream in;
        String fileName;
        try {
            dto = repo.resolve(name, v);
            fileName = repo.fileName(name, v);
            in = repo.open(name, v);
        } catch (ModelNotFoundException e) {
            return error(404, "not_found", e.getMessage());
        }
        return Response.ok(in, MediaType.APPLICATION_OCTET_STREAM_TYPE).header(PeerClient.SHA_HEADER, dto.sha256)
                .header(PeerClient.FILE_HEADER, fileName).header("Content-Length", dto.size).build();
    }

    private Response check(String presented) {
        if (!secret.configured()) {
            return error(403, "forbidden", "this node has no cluster secret configured: it serves no cluster calls");
        }
        if (!secret.matches(presented)) {
            return error(403, "forbidden", "the cluster secret is missing or wrong");
        }
        return null;
    }

    private long deadline(String header) {
        long millis = maxTimeoutMillis;
        if (header != null) {
            try {
                long asked = Long.parseLong(header.trim());
                if (asked > 0) {
                    millis = Math.min(millis, asked);
                }
            } catch (NumberFormatException e) {
                // the configured one
            }
        }
        return millis;
    }

    private static Response failure(ModelHost host, Throwable error) {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof CapacityExceededException) {
            boolean accepting;
            try {
                accepting = host.accepting();
            } catch (RuntimeException e) {
                accepting = false;
            }
            return error(503, accepting ? "full" : "draining", cause.getMessage());
        }
        if (cause instanceof ModelNotReadyException) {
            return error(409, "not_ready", cause.getMessage());
        }
        if (cause instanceof ModelNotFoundException) {
            return error(404, "not_found", cause.getMessage());
        }
        if (cause instanceof InvalidInputException) {
            return error(400, "invalid", cause.getMessage());
        }
        if (cause instanceof TimeoutException || cause instanceof java.util.concurrent.CancellationException) {
            return error(504, "timeout", "not answered in time");
        }
        return error(500, "failed", cause.getMessage() == null ? "the modelhost failed" : cause.getMessage());
    }

    static Response error(int status, String kind, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", message);
        body.put("kind", kind);
        return Response.status(status).type(MediaType.APPLICATION_JSON_TYPE).entity(body).build();
    }
}
