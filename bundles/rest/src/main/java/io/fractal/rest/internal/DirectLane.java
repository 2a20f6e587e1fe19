package io.fractal.rest.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.rest.Access;
import io.fractal.api.rest.Direct;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.glassfish.grizzly.filterchain.FilterChainContext;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.glassfish.grizzly.nio.NIOConnection;
import org.glassfish.grizzly.strategies.SameThreadIOStrategy;
import org.glassfish.grizzly.threadpool.Threads;

/**
 * The direct path of one application build: the resource methods marked {@link Direct}, called straight from the
 * listener's thread for plain requests, without JAX-RS dispatch (request and response contexts, routing stages,
 * parameter injection, provider negotiation, interceptors), which cost several times what the model does. What a
 * JAX-RS call gets, a direct call gets the same way: the method's {@code Access} level ({@link AccessFilter#refusal}),
 * the body limit and timeout ({@link BodyLimit#limited}), the answer's JSON through the API's one object mapper,
 * errors through {@link JsonErrors}, and the request metrics under the same route template.
 *
 * <p>Only plain requests take it: {@code POST} on a path of letters, digits and {@code . _ - ~ :} only (nothing
 * encoded, no matrix parameters), with no {@code Content-Type} or a usual one and no {@code Accept} or a JSON one.
 * Anything else is left to Jersey, which answers it as it always did.
 */
final class DirectLane {

    private static final Logger LOG = Logger.getLogger(DirectLane.class.getName());
    private static final Set<String> PLAIN_TYPES = Set.of("application/json", "application/json; charset=utf-8",
            "application/json;charset=utf-8", "application/octet-stream", "application/x-www-form-urlencoded",
            "text/plain");
    private static final Set<String> PLAIN_ACCEPTS = Set.of("*/*", "application/json");
    private static final String JSON = "application/json";
    /**
     * Request and answer bodies up to this size are read, parsed and written on the listener's I/O thread, when a
     * request is served there ({@link #servesAtOnce}): a larger answer is written from a worker thread, which may
     * wait for a slow client to take it where the I/O thread must not.
     */
    static final int AT_ONCE_BYTES = 64 * 1024;

    private final List<Route> routes;
    private final Tokens tokens;
    private final Supplier<FractalMetrics> metrics;
    private final ObjectMapper mapper;
    private final JsonErrors errors = new JsonErrors();
    private final long bodyLimit;
    private final long bodyTimeoutMillis;

    private DirectLane(List<Route> routes, Tokens tokens, Supplier<FractalMetrics> metrics, ObjectMapper mapper,
            long bodyLimit, long bodyTimeoutMillis) {
        this.routes = routes;
        this.tokens = tokens;
        this.metrics = metrics;
        this.mapper = mapper;
        this.bodyLimit = bodyLimit;
        this.bodyTimeoutMillis = bodyTimeoutMillis;
    }

    /** The direct routes of these resources; null when none has a {@link Direct} method. */
    static DirectLane of(List<Object> resources, Tokens tokens, Supplier<FractalMetrics> metrics,
            ObjectMapper mapper, long bodyLimit, long bodyTimeoutMillis) {
        List<Route> routes = new ArrayList<>();
        for (Object resource : resources) {
            Path root = resource.getClass().getAnnotation(Path.class);
            if (root == null) {
                continue;
            }
            for (Method m : resource.getClass().getMethods()) {
                if (m.isAnnotationPresent(Direct.class) && m.isAnnotationPresent(POST.class)
                        && !Modifier.isStatic(m.getModifiers())) {
                    Route r = Route.of(resource, root.value(), m);
                    if (r != null) {
                        routes.add(r);
                    } else {
                        LOG.warning(() -> "@Direct on " + m + " ignored: it takes parameters or has a path a direct "
                                + "call cannot serve");
                    }
                }
            }
        }
        return routes.isEmpty() ? null
                : new DirectLane(List.copyOf(routes), tokens, metrics, mapper, bodyLimit, bodyTimeoutMillis);
    }

    /**
     * Serves a plain request of a direct route; false (having done nothing) for anything else, which JAX-RS then
     * serves.
     */
    boolean serve(Request request, Response response) {
        Matched m = matched(request);
        if (m == null) {
            return false;
        }
        call(m.route(), m.values(), request, response);
        return true;
    }

    /** A plain request's direct route and its path's values. */
    private record Matched(Route route, String[] values) {
    }

    /** The direct route of a plain request (see the class comment); null for anything else. */
    private Matched matched(Request request) {
        if (!org.glassfish.grizzly.http.Method.POST.equals(request.getMethod())) {
            return null;
        }
        String[] segments = plainSegments(request.getRequestURI());
        if (segments == null || !plainHeaders(request)) {
            return null;
        }
        for (Route route : routes) {
            String[] values = route.match(segments);
            if (values != null) {
                return new Matched(route, values);
            }
        }
        return null;
    }

    /**
     * Whether this request can be served on the listener's I/O thread, where nothing may wait (HttpApplication): a
     * plain request of a direct route whose whole body is in (declared by {@code Content-Length}, at most
     * {@value #AT_ONCE_BYTES} bytes, not compressed), on a connection with no earlier answer still being written.
     * The call itself does not wait: a model that takes long runs on its modelhost's workers, and the answer is
     * written when it comes.
     */
    boolean servesAtOnce(Request request) {
        if (request.getHeader(HttpHeaders.CONTENT_ENCODING) != null) {
            return false;
        }
        long length = request.getContentLengthLong();
        // An answer of up to AT_ONCE_BYTES is never held back by its connection's write queue (were it limited to
        // less, the I/O thread would wait for its own selector to write it).
        if (length < 0 || length > AT_ONCE_BYTES || request.getInputBuffer().readyData() < length
                || !(request.getContext().getConnection() instanceof NIOConnection c)
                || c.getAsyncWriteQueue().spaceInBytes() > 0
                || (c.getMaxAsyncWriteQueueSize() >= 0 && c.getMaxAsyncWriteQueueSize() < 2 * AT_ONCE_BYTES)) {
            return false;
        }
        return matched(request) != null;
    }

    /** The path's segments, or null unless it is made of plain characters only (see the class comment). */
    private static String[] plainSegments(String uri) {
        if (uri == null || uri.length() < 2 || uri.charAt(0) != '/' || uri.charAt(uri.length() - 1) == '/') {
            return null;
        }
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            boolean plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/'
                    || c == '.' || c == '_' || c == '-' || c == '~' || c == ':';
            if (!plain || (c == '/' && i > 0 && uri.charAt(i - 1) == '/')) {
                return null;
            }
        }
        return uri.substring(1).split("/");
    }

    private static boolean plainHeaders(Request request) {
        String type = request.getHeader(HttpHeaders.CONTENT_TYPE);
        if (type != null && !PLAIN_TYPES.contains(type.trim().toLowerCase(Locale.ROOT))) {
            return false;
        }
        String accept = request.getHeader(HttpHeaders.ACCEPT);
        if (accept != null && !PLAIN_ACCEPTS.contains(accept.trim().toLowerCase(Locale.ROOT))) {
            return false;
        }
        int lengths = 0;
        for (String ignored : request.getHeaders(HttpHeaders.CONTENT_LENGTH)) {
            lengths++;
        }
        return lengths <= 1;
    }

    private void call(Route route, String[] values, Request request, Response response) {
        long start = System.nanoTime();
        jakarta.ws.rs.core.Response refusal = AccessFilter.refusal(tokens, route.level,
                request.getHeader(HttpHeaders.AUTHORIZATION));
        if (refusal != null) {
            answer(route, start, request, response, refusal, null);
            return;
        }
        if (request.getContentLengthLong() > bodyLimit) {
            answer(route, start, request, response,
                    JsonErrors.error(413, new BodyTooLargeException(bodyLimit).getMessage()), null);
            return;
        }
        Object result;
        try {
            result = route.invoke(values, request, BodyLimit.limited(request.getInputStream(), bodyLimit,
                    bodyTimeoutMillis));
        } catch (Throwable t) {
            answer(route, start, request, response, null, t);
            return;
        }
        if (result instanceof CompletionStage<?> stage) {
            CompletableFuture<?> f = stage.toCompletableFuture();
            if (!f.isDone()) {
                suspend(request, response);
                f.whenComplete((value, error) -> {
                    Runnable finish = () -> {
                        try {
                            answer(route, start, request, response, value, error);
                        } finally {
                            response.resume();
                        }
                    };
                    // Written from the listener's worker pool, whichever thread completed the answer: resuming
                    // recycles the request into the current thread's Grizzly cache, and a thread of another bundle
                    // (a modelhost worker, the balancer's) keeps that cache, with the listener's revision behind it,
                    // for its life: an old io.fractal.http revision kept per update. (Completed before whenComplete
                    // was called, this is still the I/O thread, which must not wait for a slow client either.)
                    if (!onWorker(request, finish)) {
                        finish.run();
                    }
                });
                return;
            }
            try {
                result = f.join();
            } catch (RuntimeException e) {
                answer(route, start, request, response, null, e);
                return;
            }
        }
        answer(route, start, request, response, result, null);
    }

    /**
     * Suspends the answer. On a same-thread listener, an answer suspended on the thread that read its request also
     * suspends the request's I/O context, as Grizzly does itself for a request it hands to a worker thread: the
     * strategy then stops reading the connection until the context completes, once the answer is written (and any
     * request pipelined behind it answered in turn). Otherwise Grizzly would go on reading the connection, and a
     * request the client sent meanwhile would meet this one still unanswered. A request Grizzly handed to a worker
     * has its context suspended already: Grizzly stops and resumes reading its connection itself.
     */
    private static void suspend(Request request, Response response) {
        response.suspend();
        FilterChainContext ctx = request.getContext();
        if (ctx.getConnection().getTransport().getIOStrategy() instanceof SameThreadIOStrategy
                && !ctx.getInternalContext().wasSuspended()) {
            try {
                ctx.suspend();
            } catch (RuntimeException e) { // the connection closed meanwhile (a cancelled key): nothing to read
                LOG.log(Level.FINE, "Connection closed while its answer was suspended", e);
            }
        }
    }

    /** Runs the task on the listener's worker pool; false if the pool refused it (stopping). */
    private static boolean onWorker(Request request, Runnable task) {
        try {
            request.getContext().getConnection().getTransport().getWorkerThreadPool().execute(task);
            return true;
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Worker pool refused a task: run here", e);
            return false;
        }
    }

    /**
     * Writes a value, a JAX-RS response or an error as JAX-RS would, then counts the request. On the listener's I/O
     * thread an answer larger than {@value #AT_ONCE_BYTES} bytes is written from a worker thread instead.
     */
    private void answer(Route route, long start, Request request, Response response, Object value, Throwable error) {
        int status;
        String type;
        Map<String, List<String>> headers;
        byte[] body;
        try {
            jakarta.ws.rs.core.Response r = error != null ? errors.toResponse(error)
                    : value instanceof jakarta.ws.rs.core.Response given ? given : null;
            if (r == null) {
                status = 200;
                type = JSON;
                headers = Map.of();
                body = body(value);
            } else {
                status = r.getStatus();
                MediaType media = r.getMediaType();
                type = media == null || MediaType.APPLICATION_JSON_TYPE.equals(media) ? JSON : media.toString();
                headers = headers(r);
                body = body(r.getEntity());
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Direct answer could not be encoded", e);
            status = 500;
            type = JSON;
            headers = Map.of();
            body = "{\"error\":\"internal error: the answer could not be encoded\"}".getBytes(StandardCharsets.UTF_8);
        }
        if (body != null && body.length > AT_ONCE_BYTES && Threads.isService() && !response.isSuspended()) {
            int s = status;
            String t = type;
            Map<String, List<String>> h = headers;
            byte[] b = body;
            suspend(request, response);
            Runnable write = () -> {
                try {
                    send(route, start, response, s, t, h, b);
                } finally {
                    response.resume();
                }
            };
            if (!onWorker(request, write)) {
                write.run(); // the pool is stopping: written here rather than not at all
            }
            return;
        }
        send(route, start, response, status, type, headers, body);
    }

    private void send(Route route, long start, Response response, int status, String type,
            Map<String, List<String>> headers, byte[] body) {
        int counted = status;
        try {
            write(response, status, type, headers, body);
        } catch (IOException | RuntimeException e) {
            // The client went away (the listener may have seen its connection close first): 499, client closed
            // request, as whatever it was going to be told.
            LOG.log(Level.FINE, "Direct answer not written", e);
            counted = 499;
        }
        count(route, counted, System.nanoTime() - start);
    }

    /**
     * The response's headers as text: its own map when every value already is text (what the resources set), without
     * the converted copy {@code getStringHeaders()} builds (Content-Type and Content-Length aside: they are written
     * from the media type and the body); otherwise that copy (dates and the like, written by their JAX-RS header
     * delegates).
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Map<String, List<String>> headers(jakarta.ws.rs.core.Response r) {
        Map<String, List<Object>> raw = r.getHeaders();
        for (Map.Entry<String, List<Object>> h : raw.entrySet()) {
            if (skipped(h.getKey())) {
                continue; // written from the media type and the body
            }
            for (Object v : h.getValue()) {
                if (!(v instanceof String)) {
                    return r.getStringHeaders();
                }
            }
        }
        return (Map) raw;
    }

    private static boolean skipped(String header) {
        return HttpHeaders.CONTENT_TYPE.equalsIgnoreCase(header) || HttpHeaders.CONTENT_LENGTH.equalsIgnoreCase(header);
    }

    /** An answer's entity as bytes; null for none. */
    private byte[] body(Object entity) throws IOException {
        if (entity == null) {
            return null;
        } else if (entity instanceof byte[] bytes) {
            return bytes;
        } else if (entity instanceof String text) {
            return text.getBytes(StandardCharsets.UTF_8);
        } else if (entity instanceof StreamingOutput streaming) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            streaming.write(out);
            return out.toByteArray();
        }
        return mapper.writeValueAsBytes(entity);
    }

    private static void write(Response response, int status, String type, Map<String, List<String>> headers,
            byte[] body) throws IOException {
        response.setStatus(status);
        for (Map.Entry<String, List<String>> h : headers.entrySet()) {
            if (skipped(h.getKey())) {
                continue;
            }
            for (String v : h.getValue()) {
                response.addHeader(h.getKey(), v);
            }
        }
        if (body == null) {
            response.setContentLength(0);
            return;
        }
        response.setContentType(type);
        response.setContentLength(body.length);
        OutputStream out = response.getOutputStream();
        out.write(body);
    }

    private void count(Route route, int status, long nanos) {
        FractalMetrics m = metrics.get();
        if (m == null) {
            return;
        }
        try {
            Route.Meters meters = route.meters(m);
            meters.counter(status).inc();
            meters.timer.record(nanos);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Request not counted", e);
        }
    }

    /** One direct method: its path template, parameters and access level. */
    private static final class Route {
        final Object resource;
        final Method method;
        /** The template's segments: a literal, or null where a path parameter goes. */
        final String[] segments;
        /** Per method parameter: a path parameter's segment index, -1 for a header, -2 for the body. */
        final int[] kinds;
        final String[] headers;
        final Access.Level level;
        /** The route label of the request metrics, as Jersey's matched templates make it. */
        final String label;
        private volatile Meters meters;

        private Route(Object resource, Method method, String[] segments, int[] kinds, String[] headers,
                Access.Level level, String label) {
            this.resource = resource;
            this.method = method;
            this.segments = segments;
            this.kinds = kinds;
            this.headers = headers;
            this.level = level;
            this.label = label;
        }

        static Route of(Object resource, String root, Method m) {
            Path sub = m.getAnnotation(Path.class);
            String label = join(root, sub == null ? "" : sub.value());
            String[] template = label.substring(1).split("/");
            String[] segments = new String[template.length];
            List<String> params = new ArrayList<>();
            for (int i = 0; i < template.length; i++) {
                String t = template[i];
                if (t.startsWith("{") && t.endsWith("}")) {
                    String name = t.substring(1, t.length() - 1);
                    if (name.contains(":") || name.isBlank()) {
                        return null; // a regular expression: Jersey's matching only
                    }
                    params.add(name);
                    segments[i] = null;
                } else if (t.isEmpty() || t.contains("{")) {
                    return null;
                } else {
                    segments[i] = t;
                }
            }
            Parameter[] ps = m.getParameters();
            int[] kinds = new int[ps.length];
            String[] headers = new String[ps.length];
            boolean body = false;
            for (int i = 0; i < ps.length; i++) {
                PathParam path = ps[i].getAnnotation(PathParam.class);
                HeaderParam header = ps[i].getAnnotation(HeaderParam.class);
                if (path != null && ps[i].getType() == String.class) {
                    int index = indexOf(template, "{" + path.value() + "}");
                    if (index < 0) {
                        return null;
                    }
                    kinds[i] = index;
                } else if (header != null && ps[i].getType() == String.class) {
                    kinds[i] = -1;
                    headers[i] = header.value();
                } else if (ps[i].getType() == InputStream.class && ps[i].getAnnotations().length == 0 && !body) {
                    kinds[i] = -2;
                    body = true;
                } else {
                    return null;
                }
            }
            Access.Level level = AccessFilter.levelOf(m, resource.getClass(), "POST");
            return new Route(resource, m, segments, kinds, headers, level, label);
        }

        private static int indexOf(String[] template, String segment) {
            for (int i = 0; i < template.length; i++) {
                if (template[i].equals(segment)) {
                    return i;
                }
            }
            return -1;
        }

        /** The full template, as {@link RequestMetrics#route} joins Jersey's matched templates. */
        private static String join(String root, String sub) {
            String a = root.startsWith("/") ? root : "/" + root;
            if (a.endsWith("/")) {
                a = a.substring(0, a.length() - 1);
            }
            String b = sub.startsWith("/") ? sub.substring(1) : sub;
            return b.isEmpty() ? a : a + "/" + b;
        }

        /** The path parameters' values by segment, or null when the path is not this route's. */
        String[] match(String[] path) {
            if (path.length != segments.length) {
                return null;
            }
            for (int i = 0; i < path.length; i++) {
                if (segments[i] != null ? !segments[i].equals(path[i]) : path[i].isEmpty()) {
                    return null;
                }
            }
            return path;
        }

        Object invoke(String[] path, Request request, InputStream body) throws Throwable {
            Object[] args = new Object[kinds.length];
            for (int i = 0; i < kinds.length; i++) {
                args[i] = kinds[i] >= 0 ? path[kinds[i]] : kinds[i] == -1 ? request.getHeader(headers[i]) : body;
            }
            try {
                return method.invoke(resource, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        Meters meters(FractalMetrics m) {
            Meters held = meters;
            if (held == null || held.owner != m) {
                held = new Meters(m, label);
                meters = held;
            }
            return held;
        }

        /** The route's request series, looked up once per status rather than per request. */
        static final class Meters {
            final FractalMetrics owner;
            final FractalMetrics.Timer timer;
            private final String label;
            private final Map<Integer, FractalMetrics.Counter> counters = new ConcurrentHashMap<>();

            Meters(FractalMetrics owner, String label) {
                this.owner = owner;
                this.label = label;
                this.timer = owner.timer("fractal_http_request_seconds", "method", "POST", "route", label);
            }

            FractalMetrics.Counter counter(int status) {
                return counters.computeIfAbsent(status, s -> owner.counter("fractal_http_requests_total",
                        "method", "POST", "route", label, "status", Integer.toString(s)));
            }
        }
    }
}
