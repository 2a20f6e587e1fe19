package io.fractal.rest.internal;

import io.fractal.api.rest.HttpApplication;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.RequestExecutorProvider;
import org.glassfish.grizzly.http.server.Response;
import org.glassfish.jersey.grizzly2.httpserver.GrizzlyHttpContainer;
import org.osgi.framework.ServiceRegistration;

/**
 * One build of the Jersey application, registered as the listener's handler until the next build replaces it. A
 * request for a resource that left just before this build (its bundle is being updated) is held until a newer
 * build exists, then declined so that the listener passes it to that build.
 */
final class Generation extends HttpHandler {

    /** Waits for a newer generation than {@code number}, until the deadline; true if one came (or none will). */
    interface Successor {
        boolean awaitNewer(int number, long deadlineNanos) throws InterruptedException;
    }

    final int number;
    final GrizzlyHttpContainer container;
    private final ResourcePaths paths;
    private final Map<String, Long> holding;
    private final Successor successor;
    /** The {@link io.fractal.api.rest.Direct} methods of this build; null for none (or switched off). */
    private final DirectLane direct;
    volatile ServiceRegistration<HttpHandler> registration;
    /**
     * Where the listener runs a request it read on an I/O thread (HttpApplication): there, for a plain direct call
     * whose body is in; on a worker thread for everything else (Jersey's calls may wait: for a body, a service, a
     * model's load).
     */
    private final RequestExecutorProvider executors = new RequestExecutorProvider() {
        private final RequestExecutorProvider workers = new RequestExecutorProvider.WorkerThreadProvider();

        @Override
        public Executor getExecutor(Request request) {
            return direct != null && holding.isEmpty() && direct.servesAtOnce(request) ? null
                    : workers.getExecutor(request);
        }
    };

    /**
     * @param roots   the root paths of the resources in this build
     * @param holding the root paths of resources that left, with the {@link System#nanoTime()} until which a
     *                request for them waits for their return
     */
    Generation(int number, GrizzlyHttpContainer container, List<String> roots, Map<String, Long> holding,
            Successor successor, DirectLane direct) {
        super("fractal-rest-" + number);
        this.number = number;
        this.container = container;
        this.paths = new ResourcePaths(roots, holding.keySet());
        this.holding = Map.copyOf(holding);
        this.successor = successor;
        this.direct = direct;
    }

    @Override
    public RequestExecutorProvider getRequestExecutorProvider() {
        return executors;
    }

    @Override
    public void service(Request request, Response response) throws Exception {
        if (!holding.isEmpty()) {
            String root = paths.longestMatch(request.getRequestURI());
            Long deadline = root == null ? null : holding.get(root);
            if (deadline != null && System.nanoTime() < deadline
                    && request.getAttribute(HttpApplication.REDISPATCH) instanceof AtomicBoolean declined
                    && successor.awaitNewer(number, deadline)) {
                declined.set(true);
                return;
            }
        }
        if (direct != null && direct.serve(request, response)) {
            return; // a plain call of a direct method: answered (or suspended until its answer) without JAX-RS
        }
        ListenerThreadAnswers.bind(request.getContext().getConnection().getTransport().getWorkerThreadPool());
        try {
            container.service(request, response);
        } catch (IllegalArgumentException e) {
            // Jersey builds the request's URIs before anything else and throws this when it cannot; the listener
            // refuses malformed request lines and Host headers first, so this is a safety net for what it lets by
            if (response.isCommitted()) {
                throw e;
            }
            badRequest(response, "the request's URL (request target and Host) is not a valid URI");
        } finally {
            ListenerThreadAnswers.bind(null);
        }
    }

    private static void badRequest(Response response, String message) throws IOException {
        byte[] body = ("{\"error\":\"" + message + "\"}").getBytes(StandardCharsets.UTF_8);
        response.reset();
        response.setStatus(400);
        response.setContentType("application/json");
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }
}
