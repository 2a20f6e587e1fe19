package io.fractal.balancer.internal;

import io.fractal.api.balancer.BalancerDTO;
import io.fractal.api.balancer.Strategy;
import io.fractal.api.host.ModelHost;
import io.fractal.api.metrics.FractalMetrics;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** A modelhost as the balancer tracks it: its health and what was sent to it. */
final class HostEntry {

    final ModelHost host;
    final String id;
    final int capacity;
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final AtomicLong routed = new AtomicLong();
    private volatile long ejectedUntilMillis;
    private volatile Decisions decisions;

    HostEntry(ModelHost host) {
        this.host = host;
        this.id = host.id();
        this.capacity = Math.max(1, host.capacity());
    }

    /** Not ejected, or ejected long enough ago to be probed with the next request. */
    boolean available(long nowMillis) {
        return ejectedUntilMillis <= nowMillis;
    }

    boolean ejected(long nowMillis) {
        return ejectedUntilMillis > nowMillis;
    }

    /**
     * Whether this host would serve one more request sooner than {@code other}. A host with an idle worker runs it at
     * once, as soon as any other with an idle worker (a tie: modelhosts run a request on its caller's thread when a
     * worker is free, so hosts that are not saturated mostly show nothing outstanding, and weighing them by size would
     * send all light traffic to the largest); one with an idle worker beats one without; between saturated hosts,
     * fewer outstanding requests per worker, counting the new one ({@code (outstanding + 1) / capacity}, compared
     * without division).
     */
    int compareLoad(int outstanding, HostEntry other, int otherOutstanding) {
        boolean idle = outstanding < capacity;
        boolean otherIdle = otherOutstanding < other.capacity;
        if (idle || otherIdle) {
            return idle == otherIdle ? 0 : idle ? -1 : 1;
        }
        return Long.compare((long) (outstanding + 1) * other.capacity, (long) (otherOutstanding + 1) * capacity);
    }

    void routed() {
        routed.incrementAndGet();
    }

    void succeeded() {
        consecutiveFailures.set(0);
        ejectedUntilMillis = 0;
    }

    /** Counts a failure; returns true if it ejects the host now. */
    boolean failed(int threshold, long ejectMillis, long nowMillis) {
        if (consecutiveFailures.incrementAndGet() >= threshold) {
            ejectedUntilMillis = nowMillis + ejectMillis;
            return true;
        }
        return false;
    }

    /** Epoch milliseconds until which the host is ejected, or 0 (or a past time) when it is not. */
    long ejectedUntil() {
        return ejectedUntilMillis;
    }

    int consecutiveFailures() {
        return consecutiveFailures.get();
    }

    /** Takes over an ejection saved by an earlier balancer instance (a bundle update). */
    void restore(long ejectedUntil, int failures) {
        consecutiveFailures.set(Math.max(0, failures));
        ejectedUntilMillis = ejectedUntil;
    }

    BalancerDTO.Candidate toDTO(long nowMillis) {
        BalancerDTO.Candidate c = new BalancerDTO.Candidate();
        c.id = id;
        c.ejected = ejected(nowMillis);
        c.ejectedUntil = c.ejected ? ejectedUntilMillis : 0;
        c.consecutiveFailures = consecutiveFailures.get();
        c.outstanding = host.outstanding();
        c.routed = routed.get();
        return c;
    }

    /**
     * The counter of the requests routed to this host under {@code strategy}, looked up once per metrics service and
     * strategy rather than per request (a lookup builds the series' key and searches the registry).
     */
    FractalMetrics.Counter decisions(FractalMetrics metrics, Strategy strategy) {
        Decisions d = decisions;
        if (d == null || d.owner != metrics || d.strategy != strategy) {
            d = new Decisions(metrics, strategy, metrics.counter("fractal_balancer_decisions_total", "modelhost", id,
                    "strategy", strategy.name()));
            decisions = d;
        }
        return d.counter;
    }

    private record Decisions(FractalMetrics owner, Strategy strategy, FractalMetrics.Counter counter) {
    }
}
