package io.fractal.rest.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal REST server", description = "The HTTP listener of the API.")
@interface RestConfiguration {

    String PID = "io.fractal.rest";

    @AttributeDefinition(description = "Address to listen on; 0.0.0.0 for every interface.")
    String host() default "127.0.0.1";

    @AttributeDefinition(description = "TCP port.")
    int port() default 8001;

    @AttributeDefinition(description = "Largest request body in bytes (model uploads included); larger ones get 413.")
    long max_body_bytes() default 256L * 1024 * 1024;
}
