package io.fractal.api.concurrent;

/**
 * How many other clients' requests wait for the calling thread. A thread that serves many clients one after another
 * (the HTTP listener's selector thread, which reads and serves the requests of every connection it watches) says so
 * for the duration of each request it serves. Code that may either run work at once on the calling thread or queue it
 * for threads of its own (a modelhost) can then queue it while others wait: the calling thread goes on to read them,
 * and a model that batches gets them together instead of one engine call each.
 *
 * @since 1.1
 */
public final class ThreadBacklog {

    /** What a serving thread binds: how many other requests wait for it now. */
    @FunctionalInterface
    public interface Source {
        /**
         * Other clients' requests waiting for this thread (ready to be read after this one), or -1 if unknown. An
         * estimate: a selector thread can tell how many connections were ready in its round, not how many of them it
         * has served already.
         */
        int waiting();
    }

    private static final ThreadLocal<Source> CURRENT = new ThreadLocal<>();

    private ThreadBacklog() {
    }

    /**
     * Other clients' requests waiting for the calling thread: 0 when it is free to run work at once, more when running
     * it here would hold them back; -1 when the thread says nothing (it serves no request, or cannot tell).
     */
    public static int waiting() {
        Source source = CURRENT.get();
        return source == null ? -1 : source.waiting();
    }

    /** For a thread that serves requests: binds the source of its backlog while it serves one; null unbinds it. */
    public static void bind(Source source) {
        CURRENT.set(source);
    }
}
