package io.fractal.cluster.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelNotReadyException;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Calls to other nodes over HTTP/1.1 keep-alive with {@code TCP_NODELAY}, each carrying the shared secret and a
 * deadline: predictions on a {@link ConnectionPool} per node, the rest (echo, model files) through the JDK client.
 * Its threads are {@link IsolatedThreads}.
 */
final class PeerClient implements AutoCloseable {

    /** The header that carries the shared secret. */
    static final String SECRET_HEADER = "X-Fractal-Cluster-Secret";
    /** The deadline the remote node bounds the call with, in ms. */
    static final String TIMEOUT_HEADER = "X-Request-Timeout-Ms";
    static final String SHA_HEADER = "X-Fractal-Sha256";
    static final String FILE_HEADER = "X-Fractal-File-Name";

    /** What the caller must do with a failed call. */
    enum Outcome {
        /** The node did not answer, or refused as a whole (draining, gone): take its hosts out for a moment. */
        NODE_DOWN,
        /** The call was refused before any work started (full queue, model not there): retry elsewhere. */
        REFUSED,
        /** The call ran and failed. */
        FAILED
    }

    /** How long past a request's deadline this side still waits for the remote node's own timeout answer. */
    static final long DEADLINE_GRACE_MILLIS = 250;

    /** Most calls to other nodes in flight at once (each holds a thread while it waits for its answer). */
    static final int MAX_CALLS = 1024;

    private final ExecutorService executor;
    private final ThreadPoolExecutor calls;
    private final Map<URI, ConnectionPool> pools = new ConcurrentHashMap<>();
    private final long connectTimeoutMillis;
    private final HttpClient http;
    private final Secret secret;
    private final long callTimeoutMillis;

    PeerClient(Secret secret, long connectTimeoutMillis, long callTimeoutMillis) {
        this.secret = secret;
        this.callTimeoutMillis = callTimeoutMillis;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.calls = new ThreadPoolExecutor(0, MAX_CALLS, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                IsolatedThreads.factory("fractal-cluster-call"));
        this.executor = Executors.newCachedThreadPool(IsolatedThreads.factory("fractal-cluster-http"));
        this.http = IsolatedThreads.run(() -> HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(Math.max(1, connectTimeoutMillis))).executor(executor)
                .followRedirects(HttpClient.Redirect.NEVER).build());
    }

    /**
     * Runs {@code request} (carrying the remote node's version number) on modelhost {@code hostId} of the node at
     * {@code base}, on a kept-alive connection of that node's {@link ConnectionPool}. A failure is a
     * {@link PeerException} saying what the caller should do.
     *
     * <p>The call is bounded by the request's deadline when it has one (else by {@code call.timeout.ms}): the time
     * left is sent with it, the remote node answers a timeout once it passes, and this side stops waiting
     * {@value #DEADLINE_GRACE_MILLIS} ms later. A request already past its deadline is not sent. Neither case says
     * anything about the node: the call failed ({@link TimeoutException}), the node is not taken out.
     */
    CompletableFuture<InferenceResponse> infer(URI base, String hostId, InferenceRequest request) {
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        long remaining = request.remainingNanos();
        if (remaining <= 0) {
            result.completeExceptionally(new PeerException(Outcome.FAILED, new TimeoutException("the request's "
                    + "deadline passed before it was sent to node " + base.getAuthority())));
            return result;
        }
        boolean byDeadline = remaining < TimeUnit.MILLISECONDS.toNanos(callTimeoutMillis);
        long timeoutMillis = byDeadline ? Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining + 999_999))
                : callTimeoutMillis;
        long waitMillis = byDeadline ? timeoutMillis + DEADLINE_GRACE_MILLIS : callTimeoutMillis;
        byte[] body = Wire.encode(request, byDeadline ? remaining : TimeUnit.MILLISECONDS.toNanos(callTimeoutMillis));
        String path = "/internal/v1/modelhosts/" + encode(hostId) + "/infer";
        try {
            calls.execute(() -> {
                ConnectionPool.Answer a;
                try {
                    a = pool(base).post(path, Map.of(SECRET_HEADER, secret.value(), TIMEOUT_HEADER,
                            Long.toString(timeoutMillis)), Wire.CONTENT_TYPE, body, waitMillis);
                } catch (SocketTimeoutException e) {
                    result.completeExceptionally(byDeadline ? new PeerException(Outcome.FAILED, new TimeoutException(
                            "node " + base.getAuthority() + " did not answer within the request's deadline ("
                                    + timeoutMillis + " ms)"))
                            : new PeerException(Outcome.NODE_DOWN, new CapacityExceededException("node "
                                    + base.getAuthority() + " did not answer: " + e, 1)));
                    return;
                } catch (IOException e) {
                    result.completeExceptionally(new PeerException(Outcome.NODE_DOWN, new CapacityExceededException(
                            "node " + base.getAuthority() + " did not answer: " + e, 1)));
                    return;
                }
                try {
                    if (a.status() == 200) {
                        result.complete(Wire.decodeResponse(a.body()));
                    } else {
                        result.completeExceptionally(failure(base, a.status(), a.body()));
                    }
                } catch (RuntimeException e) {
                    result.completeExceptionally(new PeerException(Outcome.FAILED,
                            new IllegalStateException("node " + base.getAuthority() + " answered garbage: " + e)));
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new PeerException(Outcome.REFUSED, new CapacityExceededException(
                    "too many calls to other nodes in flight (" + MAX_CALLS + ")", 1)));
        }
        return result;
    }

    private ConnectionPool pool(URI base) {
        return pools.computeIfAbsent(base, b -> new ConnectionPool(b, (int) Math.min(Integer.MAX_VALUE,
                connectTimeoutMillis)));
    }

    /** Closes the connections to a node that left, those in use too: calls blocked on it end at once. */
    void forget(URI base) {
        ConnectionPool p = pools.remove(base);
        if (p != null) {
            p.close();
        }
    }

    CompletableFuture<EchoDTO> echo(URI base, String hostId, Object payload) {
        byte[] body;
        try {
            body = NodeState.JSON.writeValueAsBytes(Map.of("data", payload == null ? "" : payload));
        } catch (IOException e) {
            return CompletableFuture.failedFuture(new InvalidInputException("payload is not JSON: " + e.getMessage()));
        }
        HttpRequest r = builder(base, "/internal/v1/modelhosts/" + encode(hostId) + "/echo")
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        return send(r).thenApply(response -> {
            if (response.statusCode() != 200) {
                throw failure(base, response.statusCode(), response.body());
            }
            try {
                return NodeState.JSON.readValue(response.body(), EchoDTO.class);
            } catch (IOException e) {
                throw new PeerException(Outcome.FAILED, new IllegalStateException("unreadable echo: " + e));
            }
        });
    }

    /** Whether the node at {@code base} serves the cluster's calls (its resource is in its HTTP API). */
    boolean ping(URI base) {
        try {
            return http.send(builder(base, "/internal/v1/ping").timeout(Duration.ofSeconds(2)).GET().build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The bytes of a model version on the node at {@code base} (blocking; the caller checks the checksum). */
    HttpResponse<InputStream> modelFile(URI base, String name, int version) throws IOException, InterruptedException {
        HttpRequest r = builder(base, "/internal/v1/models/" + encode(name) + "/versions/" + version + "/file")
                .timeout(Duration.ofMinutes(10)).GET().build();
        return http.send(r, HttpResponse.BodyHandlers.ofInputStream());
    }

    private HttpRequest.Builder builder(URI base, String path) {
        return HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofMillis(callTimeoutMillis))
                .header(SECRET_HEADER, secret.value()).header(TIMEOUT_HEADER, Long.toString(callTimeoutMillis));
    }

    private CompletableFuture<HttpResponse<byte[]>> send(HttpRequest r) {
        return http.sendAsync(r, HttpResponse.BodyHandlers.ofByteArray()).exceptionally(e -> {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            throw new PeerException(Outcome.NODE_DOWN, new CapacityExceededException(
                    "node " + r.uri().getAuthority() + " did not answer: " + cause, 1));
        });
    }

    /** The exception a non-200 answer stands for, from its status and JSON {@code kind}. */
    static PeerException failure(URI base, int status, byte[] body) {
        String kind = "";
        String message = "HTTP " + status;
        try {
            JsonNode json = NodeState.JSON.readTree(body);
            kind = json.path("kind").asText("");
            message = json.path("error").asText(message);
        } catch (IOException | RuntimeException e) {
            // not our JSON (a proxy, an old node): decided by the status alone
        }
        String where = "node " + base.getAuthority() + ": " + message;
        if (status == 401 || status == 403) {
            return new PeerException(Outcome.NODE_DOWN, new CapacityExceededException(where, 1));
        }
        return switch (kind) {
            case "full" -> new PeerException(Outcome.REFUSED, new CapacityExceededException(where, 1));
            case "not_ready" -> new PeerException(Outcome.REFUSED, new ModelNotReadyException(where));
            case "not_found" -> new PeerException(Outcome.REFUSED, new ModelNotFoundException(where));
            case "invalid" -> new PeerException(Outcome.FAILED, new InvalidInputException(message));
            case "timeout", "deadline" -> new PeerException(Outcome.FAILED, new TimeoutException(where));
            case "failed" -> new PeerException(Outcome.FAILED, new IllegalStateException(where));
            default -> status == 503 || status == 404
                    ? new PeerException(Outcome.NODE_DOWN, new CapacityExceededException(where, 1))
                    : new PeerException(Outcome.FAILED, new IllegalStateException(where));
        };
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public void close() {
        pools.values().forEach(ConnectionPool::close);
        pools.clear();
        calls.shutdown();
        executor.shutdown();
        try {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.shutdownNow();
    }

    /** A failed call: what to do about the node, and the exception the caller gets. */
    static final class PeerException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final Outcome outcome;

        /** @param cause a {@link RuntimeException}, or a {@link TimeoutException} for a deadline */
        PeerException(Outcome outcome, Exception cause) {
            super(cause.getMessage(), cause, false, false);
            this.outcome = outcome;
        }

        /** What the caller's future fails with. */
        Throwable reported() {
            return getCause();
        }
    }
}
