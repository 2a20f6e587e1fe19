package io.fractal.inferrer.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * How long the REST API waits: for a service that is briefly away (the repository, the balancer or the modelhost
 * administration being updated), and for an answer to a prediction. {@link InferrerServices} takes it (and its
 * changes, without restarting anything) for every resource of the bundle.
 */
@ObjectClassDefinition(name = "Fractal inferrer", description = "How long the REST API waits for services and "
        + "predictions.")
@interface InferrerConfiguration {

    String PID = "io.fractal.inferrer";

    @AttributeDefinition(description = "Milliseconds a request waits for the model repository, the balancer or "
            + "the modelhost administration while it is away (its bundle is being updated), before it answers 503 "
            + "with Retry-After.")
    long grace_ms() default 5000;

    @AttributeDefinition(description = "Milliseconds a prediction may take in all (waiting included) before it "
            + "answers 504. A client may ask for less: header X-Request-Timeout-Ms (v1 and v2), or the v2 request's "
            + "parameters.timeout (microseconds, as Triton).")
    long request_timeout_ms() default 30000;

    @AttributeDefinition(description = "Largest request body in bytes once decompressed (v1 predictions and v2 "
            + "inferences sent with Content-Encoding gzip or deflate); larger ones get 413.")
    long max_decompressed_bytes() default 256L * 1024 * 1024;

    @AttributeDefinition(description = "Bytes that request bodies in flight may take while parsed (JSON counts six "
            + "times its size, binary tensors three times); beyond it 503, and 413 for a body that could never fit. "
            + "0: a quarter of the heap.")
    long body_memory_bytes() default 0;

    @AttributeDefinition(description = "Least milliseconds for which, at the first start of the JVM and once the "
            + "models present are loaded, the server sends itself v1 and v2 requests on one row of sample values "
            + "for every READY model through its own listener (the JIT compiles the request path), before "
            + "/v2/health/ready says ready; it goes on while the JIT compiler is busy (see warmup.max.ms). These "
            + "requests count in the metrics. "
            + "0: no warm-up.")
    long warmup_ms() default 2000;

    @AttributeDefinition(description = "Most milliseconds the warm-up runs: past warmup.ms it ends as soon as the "
            + "JIT compiler worked less than 15% of the last second (on 2 cores it needs about 8 s of traffic "
            + "to compile the request path; served before that, the first seconds run at a third of the rate).")
    long warmup_max_ms() default 20000;
}
