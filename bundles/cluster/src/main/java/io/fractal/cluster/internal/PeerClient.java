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
import java.util.concurrent.TimeUnit;

/**
 * Calls to other nodes over HTTP/1.1 keep-alive (the JDK client keeps its connections and sets
 * {@code TCP_NODELAY}), each carrying the shared secret and a deadline. Its threads are {@link IsolatedThreads}.
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

    private final ExecutorService executor;
    private final HttpClient http;
    private final Secret secret;
    private final long callTimeoutMillis;

    PeerClient(Secret secret, long connectTimeoutMillis, long callTimeoutMillis) {
        this.secret = secret;
        this.callTimeoutMillis = callTimeoutMillis;
        this.executor = Executors.newCachedThreadPool(IsolatedThreads.factory("fractal-cluster-http"));
        this.http = IsolatedThreads.run(() -> HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(Math.max(1, connectTimeoutMillis))).executor(executor)
                .followRedirects(HttpClient.Redirect.NEVER).build());
    }

    /**
     * Runs {@code request} (carrying the remote node's version number) on modelhost {@code hostId} of the node at
     * {@code base}. A failure is a {@link PeerException} saying what the caller should do.
     */
    CompletableFuture<InferenceResponse> infer(URI base, String hostId, InferenceRequest request) {
        HttpRequest r = builder(base, "/internal/v1/modelhosts/" + encode(hostId) + "/infer")
                .header("Content-Type", Wire.CONTENT_TYPE)
                .POST(HttpRequest.BodyPublishers.ofByteArray(Wire.encode(request))).build();
        return send(r).thenApply(response -> {
            if (response.statusCode() == 200) {
                return Wire.decodeResponse(response.body());
            }
            throw failure(base, response.statusCode(), response.body());
        });
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
            case "failed", "timeout" -> new PeerException(Outcome.FAILED, new IllegalStateException(where));
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

        PeerException(Outcome outcome, RuntimeException cause) {
            super(cause.getMessage(), cause, false, false);
            this.outcome = outcome;
        }

        RuntimeException reported() {
            return (RuntimeException) getCause();
        }
    }
}
