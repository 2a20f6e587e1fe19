package io.fractal.api.rest;

/**
 * Lets code serving a request learn that its client went away: closed its connection before the answer was
 * written. The HTTP listener binds, to the thread on which it calls the application, the connection of the request
 * that thread serves, for the duration of the call; code running there (a resource method, or what it calls) may
 * register an action the listener runs once the client is gone, so that work nobody waits for any more (a queued
 * prediction) is dropped at once rather than at its deadline.
 *
 * <p>Only a request whose body has been read in full can be watched: until then the listener itself reads the
 * connection. A client that sends more bytes on the connection meanwhile (the next request, pipelined) is no longer
 * watched; one that shuts down its sending side counts as gone, as it does for the listener's own reads.
 *
 * @since 1.3
 */
public final class ClientConnection {

    /** What the listener binds to a thread: the watch of the request that thread serves. */
    public interface Watch {
        /**
         * Runs {@code action} once, on another thread, if the client closes its connection before the request is
         * answered; never once it is answered.
         *
         * @return whether the client is watched (false: nothing will tell, e.g. its body is not read in full)
         */
        boolean onClose(Runnable action);
    }

    private static final ThreadLocal<Watch> CURRENT = new ThreadLocal<>();

    private ClientConnection() {
    }

    /**
     * Registers {@code action} for the client of the request the calling thread serves (see {@link Watch#onClose}).
     *
     * @return false when no request is served on this thread, or its client cannot be watched
     */
    public static boolean onClose(Runnable action) {
        Watch watch = CURRENT.get();
        return watch != null && watch.onClose(action);
    }

    /** For the HTTP listener: binds the watch of the request the calling thread serves now; null unbinds it. */
    public static void bind(Watch watch) {
        CURRENT.set(watch);
    }
}
