package io.fractal.rest.internal;

import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import jakarta.annotation.Priority;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Bearer-token access control, after matching and before the body is read: each resource method has an
 * {@link Access} level (declared, or GET/HEAD/OPTIONS read and everything else management), and a request without
 * the token its level needs gets a JSON 401 with {@code WWW-Authenticate}. Browsers send no bearer token on their
 * own and the API grants no CORS, so a web page cannot change a server.
 */
@Priority(Priorities.AUTHENTICATION)
final class AccessFilter implements ContainerRequestFilter {

    private static final String REALM = "Bearer realm=\"fractal\"";

    private final Tokens tokens;
    private final Map<Method, Optional<Level>> declared = new ConcurrentHashMap<>();

    @Context
    private ResourceInfo resource;

    AccessFilter(Tokens tokens) {
        this.tokens = tokens;
    }

    @Override
    public void filter(ContainerRequestContext request) {
        Level level = level(resource.getResourceMethod(), resource.getResourceClass(), request.getMethod());
        Response refusal = refusal(tokens, level, request.getHeaderString(HttpHeaders.AUTHORIZATION));
        if (refusal != null) {
            request.abortWith(refusal);
        }
    }

    /**
     * The 401 for a call of this level with this {@code Authorization} header, or null when it may proceed (the
     * JAX-RS filter and the direct path share it).
     */
    static Response refusal(Tokens tokens, Level level, String authorization) {
        boolean needed = switch (level) {
            case OPEN -> false;
            case READ, INFERENCE -> tokens.inferenceRequired();
            case MANAGEMENT -> tokens.managementRequired();
        };
        if (!needed) {
            return null;
        }
        String token = bearer(authorization);
        Tokens.Grant grant = tokens.grant(token);
        boolean allowed = level == Level.MANAGEMENT ? grant == Tokens.Grant.MANAGEMENT : grant != Tokens.Grant.NONE;
        if (allowed) {
            return null;
        }
        String what = level == Level.MANAGEMENT ? "the management token (it is in " + tokens.where() + ")"
                : "the inference token";
        String message = token == null
                ? "this call needs " + what + ": send 'Authorization: Bearer <token>'"
                : "the bearer token is not valid for this call, which needs " + what;
        return Response.status(Response.Status.UNAUTHORIZED)
                .header(HttpHeaders.WWW_AUTHENTICATE, token == null ? REALM : REALM + ", error=\"invalid_token\"")
                .type(MediaType.APPLICATION_JSON_TYPE).entity(Map.of("error", message)).build();
    }

    private Level level(Method method, Class<?> type, String httpMethod) {
        if (method == null) {
            return "OPTIONS".equals(httpMethod) ? Level.OPEN : byMethod(httpMethod); // Jersey's own OPTIONS answers
        }
        return declared.computeIfAbsent(method, m -> declared(m, type)).orElse(byMethod(httpMethod));
    }

    /** The level of a resource method: its {@link Access}, else its class's, else by its HTTP method. */
    static Level levelOf(Method method, Class<?> type, String httpMethod) {
        return declared(method, type).orElse(byMethod(httpMethod));
    }

    private static Optional<Level> declared(Method method, Class<?> type) {
        Access a = method.getAnnotation(Access.class);
        if (a == null && type != null) {
            a = type.getAnnotation(Access.class);
        }
        return Optional.ofNullable(a == null ? null : a.value());
    }

    private static Level byMethod(String httpMethod) {
        return switch (httpMethod) {
            case "GET", "HEAD", "OPTIONS" -> Level.READ;
            default -> Level.MANAGEMENT;
        };
    }

    /** The token of an {@code Authorization: Bearer} header; null when there is none. */
    static String bearer(String header) {
        if (header == null) {
            return null;
        }
        String h = header.strip();
        if (h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        String token = h.substring(7).strip();
        return token.isEmpty() ? null : token;
    }
}
