package io.fractal.modelhost.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal modelhost", description = "One modelhost instance: a worker pool with a "
        + "bounded queue that loads models through the engines. Each factory configuration is one instance.")
@interface ModelHostConfiguration {

    String FACTORY_PID = "io.fractal.modelhost";

    @AttributeDefinition(name = "Id", description = "Stable instance id; empty: the configuration's name.")
    String id() default "";

    @AttributeDefinition(name = "Workers", description = "Worker threads, each with its own engine predictor.")
    int workers() default 2;

    @AttributeDefinition(name = "Queue capacity", description = "Requests waiting for a worker; beyond it the "
            + "host refuses with 503.")
    int queue_capacity() default 64;

    @AttributeDefinition(name = "Models", description = "Which models this host serves: comma-separated globs "
            + "on model names, '*' for all.")
    String models() default "*";

    @AttributeDefinition(name = "Drain timeout", description = "Seconds a removed host (or an engine going "
            + "away) waits for queued and running requests to finish.")
    int drain_timeout_seconds() default 30;

    @AttributeDefinition(name = "Linger", description = "Seconds a loaded model keeps serving after its artifact "
            + "goes without being withdrawn (the repository stopping for an update): offered again with the same "
            + "name, version and SHA-256 within that time, it is kept rather than loaded again. 0: no lingering.")
    int linger_seconds() default 30;

    @AttributeDefinition(name = "Run on caller", description = "A request that finds one of the workers' shares "
            + "free and nobody queued runs at once on the thread that received it, skipping the hand-off to a "
            + "worker thread and back (at most 'workers' requests still run at once). false: always on the "
            + "host's worker threads.")
    boolean run_on_caller() default true;

    @AttributeDefinition(name = "Run on caller up to", description = "Microseconds a model's call may typically "
            + "take (its recent calls on this host, or its warm-up calls at first) for its requests to run on the "
            + "caller's thread: the thread that read the request may be serving other connections too. A slower "
            + "model, or one not measured yet, runs on the host's workers, where waiting costs no connection "
            + "anything. 0: never on the caller.")
    long run_on_caller_max_us() default 1000;

    @AttributeDefinition(name = "Warm-up calls", description = "Calls with zeros of the declared input shapes (one "
            + "row) a model gets after it loads and before it is READY, so that its first requests do not pay for the "
            + "engine's first-call optimisation (TorchScript's profiling executor, ONNX Runtime's allocations). "
            + "Skipped for a model whose input shapes or datatypes are unknown; 0: none.")
    int warmup_calls() default 10;
}
