package io.fractal.rest.internal;

import jakarta.ws.rs.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** The root paths of REST resources, and which one a request path falls under (the longest that matches). */
final class ResourcePaths {

    private final List<String> roots;

    ResourcePaths(Collection<String> present, Collection<String> departed) {
        List<String> all = new ArrayList<>(present);
        all.addAll(departed);
        all.sort(Comparator.comparingInt(String::length).reversed());
        this.roots = List.copyOf(all);
    }

    /** The root path a resource (an object or a class) declares with {@code @Path}, normalised; null if none. */
    static String rootOf(Object resource) {
        Class<?> type = resource instanceof Class<?> c ? c : resource.getClass();
        Path path = type.getAnnotation(Path.class);
        return path == null ? null : normalise(path.value());
    }

    /** Leading slash, no trailing slash, and only the literal part before the first template variable. */
    static String normalise(String path) {
        String p = path;
        int variable = p.indexOf('{');
        if (variable >= 0) {
            p = p.substring(0, variable);
        }
        p = p.replaceAll("/+", "/");
        if (!p.startsWith("/")) {
            p = "/" + p;
        }
        while (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p;
    }

    /** The longest root {@code uri} falls under, or null. */
    String longestMatch(String uri) {
        for (String root : roots) {
            if (root.equals("/") || uri.equals(root) || (uri.startsWith(root) && uri.charAt(root.length()) == '/')) {
                return root;
            }
        }
        return null;
    }
}
