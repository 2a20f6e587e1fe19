package io.fractal.metrics.internal;

import com.codahale.metrics.SlidingTimeWindowArrayReservoir;
import com.codahale.metrics.Timer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/** A Dropwizard timer over a one-minute window that also keeps the exact sum of all durations. */
final class SummingTimer extends Timer {

    private final LongAdder sum = new LongAdder();

    SummingTimer() {
        super(new SlidingTimeWindowArrayReservoir(60, TimeUnit.SECONDS));
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
