package io.fractal.balancer.internal;

import io.fractal.api.balancer.Strategy;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** Picks one of the candidates; one implementation per {@link Strategy}. */
interface Selector {

    HostEntry pick(List<HostEntry> candidates);

    static Selector of(Strategy strategy) {
        return switch (strategy) {
            case ROUND_ROBIN -> new RoundRobin();
            case LEAST_OUTSTANDING -> new LeastOutstanding();
            case POWER_OF_TWO -> new PowerOfTwo();
        };
    }

    /** Each candidate in turn. */
    final class RoundRobin implements Selector {
        private final AtomicLong next = new AtomicLong();

        @Override
        public HostEntry pick(List<HostEntry> candidates) {
            return candidates.get((int) Math.floorMod(next.getAndIncrement(), (long) candidates.size()));
        }
    }

    /**
     * The fewest queued plus running requests per worker; ties broken at random so equal hosts share the load.
     */
    final class LeastOutstanding implements Selector {
        @Override
        public HostEntry pick(List<HostEntry> candidates) {
            HostEntry best = null;
            int bestLoad = 0;
            int ties = 0;
            ThreadLocalRandom random = ThreadLocalRandom.current();
            for (HostEntry c : candidates) {
                int load = c.host.outstanding();
                int cmp = best == null ? -1 : c.compareLoad(load, best, bestLoad);
                if (cmp < 0) {
                    best = c;
                    bestLoad = load;
                    ties = 1;
                } else if (cmp == 0 && random.nextInt(++ties) == 0) {
                    best = c;
                    bestLoad = load;
                }
            }
            return best;
        }
    }

    /**
     * Two distinct candidates at random, the less loaded of the two per worker (Mitzenmacher's power of two
     * choices).
     */
    final class PowerOfTwo implements Selector {
        @Override
        public HostEntry pick(List<HostEntry> candidates) {
            int n = candidates.size();
            if (n == 1) {
                return candidates.get(0);
            }
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int a = random.nextInt(n);
            int b = random.nextInt(n - 1);
            if (b >= a) {
                b++;
            }
            HostEntry x = candidates.get(a);
            HostEntry y = candidates.get(b);
            int cmp = x.compareLoad(x.host.outstanding(), y, y.host.outstanding());
            return cmp < 0 || (cmp == 0 && random.nextBoolean()) ? x : y;
        }
    }
}
