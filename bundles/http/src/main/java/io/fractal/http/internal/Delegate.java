package io.fractal.http.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.glassfish.grizzly.http.server.HttpHandler;

/**
 * One registered application handler and the requests it is serving. Once retired it takes no new request, and
 * {@link #awaitIdle} returns when the last one it took has been answered. Taking and releasing a request costs an
 * atomic increment each: this is on every request's path.
 */
final class Delegate {

    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    final HttpHandler handler;
    final int ranking;
    final long serviceId;
    private final AtomicInteger users = new AtomicInteger();
    private volatile boolean retired;

    Delegate(HttpHandler handler, int ranking, long serviceId) {
        this.handler = handler;
        this.ranking = ranking;
        this.serviceId = serviceId;
    }

    /** Higher ranking first; on a tie the newer registration (higher service id). */
    static int order(Delegate a, Delegate b) {
        int r = Integer.compare(b.ranking, a.ranking);
        return r != 0 ? r : Long.compare(b.serviceId, a.serviceId);
    }

    /** Takes a request; false once retired. */
    boolean acquire() {
        users.incrementAndGet();
        if (retired) {
            release();
            return false;
        }
        return true;
    }

    /** The request taken by {@link #acquire} has been answered. */
    void release() {
        if (users.decrementAndGet() == 0 && retired) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    void retire() {
        retired = true;
    }

    /** Waits until no request is being served; false if some still were after the timeout. */
    boolean awaitIdle(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            while (users.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, POLL_NANOS));
            }
        }
        return true;
    }

    int users() {
        return users.get();
    }
}
