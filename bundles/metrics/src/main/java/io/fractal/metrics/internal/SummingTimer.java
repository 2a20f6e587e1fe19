package io.fractal.metrics.internal;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Histogram;
import com.codahale.metrics.LockFreeExponentiallyDecayingReservoir;
import com.codahale.metrics.Meter;
import com.codahale.metrics.Timer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * A Dropwizard timer that also keeps the exact sum of all durations. Its quantiles come from a lock-free, exponentially
 * decaying sample of 1028 values that favours the last five minutes (Dropwizard's default): recording takes no lock
 * and allocates nothing for most values, where a sliding time window locked and grew with every request. Its meter
 * keeps no moving averages ({@link NoRates}): the exposition has no rates, Prometheus computes them from the count.
 */
final class SummingTimer extends Timer {

    private final LongAdder sum = new LongAdder();

    SummingTimer() {
        super(new Meter(NoRates.INSTANCE), new Histogram(LockFreeExponentiallyDecayingReservoir.builder().build()),
                Clock.defaultClock());
    }

    @Override
    public void update(long duration, TimeUnit unit) {
        super.update(duration, unit);
        if (duration >= 0) {
            sum.add(unit.toNanos(duration));
        }
    }

    long sumNanos() {
        return sum.sum();
    }
}
