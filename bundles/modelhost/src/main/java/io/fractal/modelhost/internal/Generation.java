package io.fractal.modelhost.internal;

import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One load of a model version, counted while requests use it. Retiring it takes it out of service; it is closed
 * (its native memory freed) when the last request using it ends, never under a running request.
 */
final class Generation {

    final LoadedModel model;
    final InferenceEngine engine;
    private final AtomicInteger users = new AtomicInteger();
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile boolean retiring;
    /** How long this load's calls typically take (a moving average of single calls), in ns; -1 until measured. */
    private volatile long callNanos = -1;

    Generation(LoadedModel model, InferenceEngine engine) {
        this.model = model;
        this.engine = engine;
    }

    /**
     * Counts one single call's duration into the typical one (an exponentially weighted average, 1/8 per call: a
     * model that turns slow is seen within a few calls). Races between threads lose an update, never the average.
     */
    void timed(long nanos) {
        long before = callNanos;
        callNanos = before < 0 ? nanos : before + (nanos - before) / 8;
    }

    /** Whether this load's calls typically take at most {@code nanos}; false until one was measured. */
    boolean quickerThan(long nanos) {
        long typical = callNanos;
        return typical >= 0 && typical <= nanos;
    }

    /** Takes a use; false once retiring. */
    boolean acquire() {
        users.incrementAndGet();
        if (retiring) {
            release();
            return false;
        }
        return true;
    }

    void release() {
        if (users.decrementAndGet() == 0 && retiring) {
            closeOnce();
        }
    }

    /** Stops new uses; closes now if idle, else when the last user releases. */
    void retire() {
        retiring = true;
        if (users.get() == 0) {
            closeOnce();
        }
    }

    boolean awaitClosed(long timeout, TimeUnit unit) throws InterruptedException {
        return closed.await(timeout, unit);
    }

    int users() {
        return users.get();
    }

    private void closeOnce() {
        synchronized (this) {
            if (closed.getCount() == 0) {
                return;
            }
            try {
                model.close();
            } finally {
                closed.countDown();
            }
        }
    }
}
