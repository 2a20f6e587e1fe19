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
    /**
     * What this load's calls typically cost, their answers written (a moving average of single calls), in ns; -1
     * until measured.
     */
    private volatile long callNanos = -1;
    /** The same per row of those calls, in ns; -1 until measured. */
    private volatile long rowNanos = -1;

    Generation(LoadedModel model, InferenceEngine engine) {
        this.model = model;
        this.engine = engine;
    }

    /**
     * What writing one output element into an answer typically costs the thread that answers (JSON, a float: about
     * 50 ns here); counted into a call's cost, as the thread that runs a call also writes its answer.
     */
    static final long ANSWER_NANOS_PER_ELEMENT = 50;

    /**
     * Counts one single call, on {@code rows} rows and giving {@code outputElements} output elements, into the typical
     * costs (exponentially weighted averages, 1/8 per call: a model that turns slow is seen within a few calls): its
     * duration plus what writing its answer typically costs. Races between threads lose an update, never the average.
     */
    void timed(long nanos, int rows, long outputElements) {
        long cost = nanos + outputElements * ANSWER_NANOS_PER_ELEMENT;
        callNanos = averaged(callNanos, cost);
        rowNanos = averaged(rowNanos, cost / Math.max(1, rows));
    }

    /** The moving average after one more sample (the sample itself when there was none, -1). */
    private static long averaged(long average, long sample) {
        return average < 0 ? sample : average + (sample - average) / 8;
    }

    /**
     * Whether a call on {@code rows} rows typically takes at most {@code nanos}: this load's calls do on average, and
     * so do that many rows at their average cost per row (a request of many more rows than usual costs more than a
     * usual call). Rows share a call's fixed cost, so the estimate errs towards more, never less. False until
     * measured.
     */
    boolean quickerThan(long nanos, int rows) {
        long call = callNanos;
        long row = rowNanos;
        return call >= 0 && row >= 0 && call <= nanos && row <= nanos / Math.max(1, rows);
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
