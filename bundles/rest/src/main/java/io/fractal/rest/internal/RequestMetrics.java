package io.fractal.rest.internal;

import io.fractal.api.metrics.FractalMetrics;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.container.PreMatching;
import java.util.List;
import java.util.function.Supplier;
import org.glassfish.jersey.server.ExtendedUriInfo;
import org.glassfish.jersey.uri.UriTemplate;

/**
 * Counts every request by method, route template (e.g. {@code /api/v1/models/{model}/prediction}, so model names
 * do not explode the label set) and status, and times it end to end. Every label comes from a fixed set: the methods
 * HTTP defines (else "other"), the routes the application serves (else "unmatched"), and the status codes it
 * answers.
 */
@PreMatching
final class RequestMetrics implements ContainerRequestFilter, ContainerResponseFilter {

    private static final String START = RequestMetrics.class.getName() + ".start";
    private final Supplier<FractalMetrics> metrics;

    RequestMetrics(Supplier<FractalMetrics> metrics) {
        this.metrics = metrics;
    }

    @Override
    public void filter(ContainerRequestContext request) {
        request.setProperty(START, System.nanoTime());
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        FractalMetrics m = metrics.get();
        Object start = request.getProperty(START);
        if (m == null || !(start instanceof Long)) {
            return;
        }
        String route = route(request);
        String method = method(request.getMethod());
        m.counter("fractal_http_requests_total", "method", method, "route", route, "status",
                Integer.toString(response.getStatus())).inc();
        m.timer("fractal_http_request_seconds", "method", method, "route", route)
                .record(System.nanoTime() - (Long) start);
    }

    /** The methods HTTP defines; anything else a client invents is counted as "other", so labels stay bounded. */
    private static final java.util.Set<String> METHODS = java.util.Set.of("GET", "HEAD", "POST", "PUT", "DELETE",
            "OPTIONS", "PATCH", "TRACE", "CONNECT");

    static String method(String method) {
        return method != null && METHODS.contains(method) ? method : "other";
    }

    /**
     * The route template of the resource method that served the request; "unmatched" when none did (an unknown
     * path, or a method the path does not take): such requests are counted together, so that a client trying every
     * method on every path adds no series.
     */
    static String route(ContainerRequestContext request) {
        if (!(request.getUriInfo() instanceof ExtendedUriInfo info) || info.getMatchedResourceMethod() == null) {
            return "unmatched";
        }
        List<UriTemplate> templates = info.getMatchedTemplates();
        if (templates.isEmpty()) {
            return "unmatched";
        }
        StringBuilder b = new StringBuilder();
        for (int i = templates.size() - 1; i >= 0; i--) {
            String t = templates.get(i).getTemplate();
            if (!t.startsWith("/") && b.length() > 0 && b.charAt(b.length() - 1) != '/') {
                b.append('/');
            }
            if (t.startsWith("/") && b.length() > 0 && b.charAt(b.length() - 1) == '/') {
                t = t.substring(1);
            }
            b.append(t);
        }
        return b.length() == 0 ? "/" : b.toString();
    }
}
