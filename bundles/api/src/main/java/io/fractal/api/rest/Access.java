package io.fractal.api.rest;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Who may call a resource method (or every method of a resource class). Without it, a method is
 * {@link Level#READ} when its HTTP method is GET, HEAD or OPTIONS and {@link Level#MANAGEMENT} otherwise: a new
 * call that changes something is protected until someone decides otherwise.
 *
 * @since 1.2
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface Access {

    Level value();

    /** The levels, from the least protected. */
    enum Level {
        /** Always open: health, the API's own description. */
        OPEN,
        /** Metadata: open unless an inference token is configured, then that token or the management token. */
        READ,
        /** Predictions: as {@link #READ}. */
        INFERENCE,
        /** Everything that changes the server: the management token only. */
        MANAGEMENT
    }
}
