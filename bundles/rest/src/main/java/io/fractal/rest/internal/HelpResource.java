package io.fractal.rest.internal;

import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import io.fractal.api.rest.Doc;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.glassfish.jersey.server.ExtendedResourceContext;
import org.glassfish.jersey.server.model.Resource;
import org.glassfish.jersey.server.model.ResourceMethod;

/** {@code GET /help}: every call the server answers now, read from Jersey's resource model. */
@Path("/help")
@Access(Level.OPEN)
@Produces(MediaType.APPLICATION_JSON)
public final class HelpResource {

    @GET
    @Doc("Lists the calls")
    public Map<String, Object> help(@Context ExtendedResourceContext context) {
        List<Map<String, String>> calls = new ArrayList<>();
        for (Resource r : context.getResourceModel().getRootResources()) {
            collect(r, "", calls);
        }
        calls.sort(Comparator.comparing((Map<String, String> c) -> c.get("path")).thenComparing(c -> c.get("method")));
        return Map.of("calls", calls);
    }

    private static void collect(Resource resource, String prefix, List<Map<String, String>> calls) {
        String path = join(prefix, resource.getPath());
        for (ResourceMethod m : resource.getResourceMethods()) {
            if ("OPTIONS".equals(m.getHttpMethod()) || "HEAD".equals(m.getHttpMethod())) {
                continue; // Jersey answers these for every path
            }
            Map<String, String> call = new LinkedHashMap<>();
            call.put("method", m.getHttpMethod());
            call.put("path", path);
            Method java = m.getInvocable().getDefinitionMethod();
            Doc doc = java == null ? null : java.getAnnotation(Doc.class);
            call.put("description", doc == null ? "" : doc.value());
            if (java != null) {
                call.put("access", AccessFilter.levelOf(java, java.getDeclaringClass(), m.getHttpMethod()).name()
                        .toLowerCase(Locale.ROOT));
            }
            if (!m.getConsumedTypes().isEmpty() && !"GET".equals(m.getHttpMethod())) {
                call.put("consumes", m.getConsumedTypes().get(0).toString());
            }
            calls.add(call);
        }
        for (Resource child : resource.getChildResources()) {
            collect(child, path, calls);
        }
    }

    private static String join(String prefix, String path) {
        if (path == null || path.isEmpty()) {
            return prefix.isEmpty() ? "/" : prefix;
        }
        String p = (prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix)
                + (path.startsWith("/") ? path : "/" + path);
        return p.length() > 1 && p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }
}
