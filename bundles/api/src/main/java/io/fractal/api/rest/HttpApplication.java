package io.fractal.api.rest;

/**
 * How the HTTP listener and the application it serves meet. The listener (bundle {@code io.fractal.http}) owns the
 * socket and nothing else; the application registers a Grizzly {@code org.glassfish.grizzly.http.server.HttpHandler}
 * service with the property {@link #APPLICATION}{@code =true}. The listener sends each request to the registered
 * handler with the highest {@code service.ranking} (the newest, on a tie). A handler that is replaced or unregistered
 * finishes the requests it holds before its unregistration returns; requests that arrive while no handler is
 * registered wait for one for a bounded time.
 *
 * <p>A handler may decline a request it has not started to answer, so that the listener passes it to the handler
 * registered now (used while a resource is being replaced: the old application holds the request until the new
 * one is there). The listener puts a {@code java.util.concurrent.atomic.AtomicBoolean} under the request attribute
 * {@link #REDISPATCH}; the handler sets it to true, in the thread that called it, and returns without touching the
 * response. (The listener cannot look at the request once the handler returned: an asynchronous answer may have
 * completed and recycled it for another connection by then.)
 *
 * <p>The listener reads requests on I/O threads, each serving many connections, which must never wait. It runs a
 * request on the I/O thread that read it only when the handler says it can serve that request there without
 * waiting: the handler's Grizzly {@code RequestExecutorProvider} ({@code HttpHandler#getRequestExecutorProvider})
 * answers null for it on that thread (Grizzly's {@code Threads.isService()} is true there). Any other answer sends
 * the request to the listener's worker pool, where blocking (reading a slow body, waiting for a service) is fine.
 * Grizzly's default provider sends every request to the pool. A handler served on the I/O thread that answers later
 * (suspends the response) keeps the connection from being read until then, as the pool's threads have it.
 */
public final class HttpApplication {

    /** Service property marking the HTTP handler of an application. */
    public static final String APPLICATION = "fractal.http.application";

    /** The filter the listener tracks. */
    public static final String FILTER = "(" + APPLICATION + "=true)";

    /** Request attribute: an {@code AtomicBoolean} a handler sets to decline a request it did not answer. */
    public static final String REDISPATCH = "fractal.http.redispatch";

    private HttpApplication() {
    }
}
