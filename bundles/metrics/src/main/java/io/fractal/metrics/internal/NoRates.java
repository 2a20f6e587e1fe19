package io.fractal.metrics.internal;

import com.codahale.metrics.MovingAverages;

/**
 * The moving averages of a meter that keeps none: Fractal's counters and timers are exported to Prometheus as counts
 * (and sums), and Prometheus computes rates from them. Dropwizard's default meter updates four exponentially weighted
 * averages and checks its tick on every mark; without them a mark is one {@code LongAdder} add (42 ns against 6 ns per
 * mark on one thread in a tight loop; more on the request path, where the averages' cache lines are cold). A meter
 * with these rates reports 0 as its 1, 5 and 15 minute rates (its mean rate is still right).
 */
enum NoRates implements MovingAverages {
    INSTANCE;

    @Override
    public void tickIfNecessary() {
    }

    @Override
    public void update(long n) {
    }

    @Override
    public double getM1Rate() {
        return 0;
    }

    @Override
    public double getM5Rate() {
        return 0;
    }

    @Override
    public double getM15Rate() {
        return 0;
    }
}
