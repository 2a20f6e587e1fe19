package io.fractal.api.rest;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a {@code POST} resource method that the REST application may also call directly, without JAX-RS dispatch,
 * for plain requests: the hottest calls (predictions), where Jersey's per-request machinery costs more than the model.
 * The method stays a JAX-RS method, and Jersey serves every request the direct path leaves to it.
 *
 * <p>A direct method takes only {@code @PathParam} and {@code @HeaderParam} strings and an unannotated
 * {@link java.io.InputStream} (the body), and returns what JAX-RS would write: a value the JSON provider serializes,
 * a {@link jakarta.ws.rs.core.Response}, or a {@link java.util.concurrent.CompletionStage} of one of those. Its
 * {@link Access} level, the body limits, the request metrics and the JSON errors apply as for a JAX-RS call.
 *
 * @since 1.3
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Direct {
}
