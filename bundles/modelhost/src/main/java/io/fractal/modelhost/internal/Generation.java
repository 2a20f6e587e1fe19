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
    /** What this load's calls typically cost, their answers written; null until measured (see {@link #timed}). */
    private volatile Costs costs;

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
     * Counts one engine call, on {@code rows} rows (a request's, or a batch's) and giving {@code outputElements}
     * output elements, into the typical costs: its duration plus what writing its answer typically costs.
     * Exponentially weighted, 1/8 per call, so a model that turns slow is seen within a few calls. Races between
     * threads lose an update, never the estimate.
     */
    void timed(long nanos, int rows, long outputElements) {
        double cost = nanos + (double) outputElements * ANSWER_NANOS_PER_ELEMENT;
        Costs c = costs;
        costs = c == null ? Costs.first(Math.max(1, rows), cost) : c.next(Math.max(1, rows), cost);
    }

    /**
     * Whether a call on {@code rows} rows typically takes at most {@code nanos} (see {@link Costs#estimate}). False
     * until measured.
     */
    boolean quickerThan(long nanos, int rows) {
        Costs c = costs;
        return c != null && c.estimate(Math.max(1, rows)) <= nanos;
    }

    /**
     * A call's typical cost as a fixed part plus a part per row, fitted to recent calls by an exponentially weighted
     * linear regression of cost on rows (means, variance of rows, covariance); beside it, the typical cost per row
     * (each call's cost over its rows), which assumes nothing about how rows share the fixed part.
     *
     * @param maxRows the most rows of recent calls (it decays towards the mean): the fit is not taken far beyond
     */
    record Costs(double rows, double cost, double rowsVariance, double covariance, double perRow, double maxRows) {

        private static final double WEIGHT = 1.0 / 8;
        /** Below this variance of rows (calls of nearly always the same rows), no fit: the cost per row is used. */
        private static final double FIT_VARIANCE = 0.1;

        static Costs first(int rows, double cost) {
            return new Costs(rows, cost, 0, 0, cost / rows, rows);
        }

        Costs next(int r, double c) {
            double dr = r - rows;
            double dc = c - cost;
            double mean = rows + WEIGHT * dr;
            return new Costs(mean, cost + WEIGHT * dc, (1 - WEIGHT) * (rowsVariance + WEIGHT * dr * dr),
                    (1 - WEIGHT) * (covariance + WEIGHT * dr * dc), perRow + WEIGHT * (c / r - perRow),
                    Math.max(r, maxRows - WEIGHT * (maxRows - mean)));
        }

        /**
         * What a call on {@code r} rows typically costs, in ns. Once recent calls had different rows and cost more
         * with more rows, and for up to twice the most rows of recent calls: the fitted fixed part (not below 0) plus
         * {@code r} times the fitted part per row. Otherwise (a fit that says nothing, or says more rows cost less:
         * noise, a pause) the typical call's cost, or {@code r} times the typical cost per row when more: that errs
         * towards more (rows share a call's fixed part; fewer rows than usual cost no more), never less.
         */
        double estimate(int r) {
            if (rowsVariance >= FIT_VARIANCE && covariance > 0 && r <= 2 * maxRows) {
                double slope = covariance / rowsVariance;
                return Math.max(0, cost - slope * rows) + slope * r;
            }
            return Math.max(cost, r * perRow);
        }
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
