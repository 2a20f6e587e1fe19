package io.fractal.rest.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The application's part of the REST server's configuration. The PID is shared with the listener
 * ({@code io.fractal.http}), which reads {@code host} and {@code port}: one file configures the API.
 */
@ObjectClassDefinition(name = "Fractal REST server", description = "The HTTP API: Jersey and the resources of the "
        + "REST whiteboard.")
@interface RestConfiguration {

    String PID = "io.fractal.rest";

    @AttributeDefinition(description = "Largest request body in bytes (model uploads included); larger ones get 413.")
    long max_body_bytes() default 256L * 1024 * 1024;

    @AttributeDefinition(description = "Milliseconds a request for a resource that just left (its bundle is being "
            + "updated) waits for it to come back, before the API answers without it.")
    long hold_ms() default 5000;

    @AttributeDefinition(description = "Milliseconds a request body may take to arrive, from its headers to its "
            + "last byte; slower gets 408 and the connection closes. 0: no limit.")
    long body_timeout_ms() default 30000;

    @AttributeDefinition(name = "Direct calls", description = "Plain requests of the calls marked direct (the "
            + "predictions) are served without JAX-RS dispatch, with the same access control, limits, metrics and "
            + "errors; false: every request through Jersey.")
    boolean direct_calls() default true;
}
