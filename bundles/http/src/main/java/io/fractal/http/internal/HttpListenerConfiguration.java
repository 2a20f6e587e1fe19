package io.fractal.http.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The listener's part of the REST server's configuration: it shares the PID {@value #PID} with the application
 * ({@code io.fractal.rest}), which reads the rest, so one file configures the API.
 */
@ObjectClassDefinition(name = "Fractal HTTP listener", description = "The socket the API listens on.")
@interface HttpListenerConfiguration {

    String PID = "io.fractal.rest";

    @AttributeDefinition(description = "Address to listen on; 0.0.0.0 for every interface.")
    String host() default "127.0.0.1";

    @AttributeDefinition(description = "TCP port.")
    int port() default 8001;

    @AttributeDefinition(description = "Milliseconds a request waits for the HTTP application while it is being "
            + "replaced (a bundle update) before it is answered 503.")
    long hold_ms() default 5000;

    @AttributeDefinition(description = "Milliseconds a replaced application, or a listener moving to a new address, "
            + "has to finish the requests it holds.")
    long drain_ms() default 30000;

    @AttributeDefinition(description = "On SIGTERM (or Ctrl-C): milliseconds the server keeps serving with "
            + "/v2/health/ready answering 400 (not ready) and every answer saying Connection: close, so that load "
            + "balancers stop sending and clients leave their kept-alive connections before the listener closes; then "
            + "it stops taking connections, finishes what is in flight (drain.ms), stops the framework and exits 0. "
            + "Behind Kubernetes, a few seconds (5000).")
    long shutdown_delay_ms() default 1000;

    @AttributeDefinition(description = "How requests reach a thread: same-thread (the selector thread that read a "
            + "prediction whose body is in serves it, with no thread hand-off; everything else goes to the pool), "
            + "leader-follower (the thread the selector woke serves the request, another thread takes over the "
            + "selector) or worker (the selector hands each request to a pool thread).")
    String io_strategy() default "same-thread";

    @AttributeDefinition(description = "Most threads serving requests. The pool keeps twice the cores (at least "
            + "4) and grows towards this only while requests starve in its queue (threads stuck reading slow "
            + "clients' bodies): see worker.starvation.ms.")
    int worker_threads() default 128;

    @AttributeDefinition(description = "Milliseconds the oldest request waiting for a thread may wait before the "
            + "pool takes one more thread (one per 10 ms at most, up to worker.threads); back to its base size "
            + "after 2 s with nothing waiting.")
    long worker_starvation_ms() default 50;

    @AttributeDefinition(description = "Milliseconds a thread reading a request body waits for more bytes before the "
            + "request is answered 408 (the whole body is bounded by body.timeout.ms).")
    long read_timeout_ms() default 10000;

    @AttributeDefinition(description = "Requests a kept-alive connection serves before its answer says Connection: "
            + "close and it closes (the client opens a new one, which a load balancer in front may send elsewhere); "
            + "0: no keep-alive; -1 (any negative): no limit.")
    int keep_alive_max_requests() default 256;
}
