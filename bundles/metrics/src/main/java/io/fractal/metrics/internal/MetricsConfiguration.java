package io.fractal.metrics.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal metrics", description = "The Prometheus exposition of the server's metrics.")
@interface MetricsConfiguration {

    String PID = "io.fractal.metrics";

    @AttributeDefinition(description = "Address of the separate metrics listener.")
    String host() default "127.0.0.1";

    @AttributeDefinition(description = "Port of the separate metrics listener (GET /metrics); 0 or less: none. "
            + "/metrics is also served on the REST port.")
    int port() default 8002;
}
