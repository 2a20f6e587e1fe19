package io.fractal.balancer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.balancer.Strategy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SelectorTest {

    private static final int PICKS = 3000;

    @Test
    void roundRobinCyclesThroughTheCandidates() {
        List<HostEntry> hosts = hosts(0, 0, 0);
        Selector s = Selector.of(Strategy.ROUND_ROBIN);
        List<String> picked = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            picked.add(s.pick(hosts).id);
        }
        assertEquals(List.of("h0", "h1", "h2", "h0", "h1", "h2", "h0"), picked);
    }

    @Test
    void roundRobinIgnoresLoad() {
        List<HostEntry> hosts = hosts(100, 0);
        Selector s = Selector.of(Strategy.ROUND_ROBIN);
        Map<String, Integer> counts = count(s, hosts, 10);
        assertEquals(Map.of("h0", 5, "h1", 5), counts);
    }

    @Test
    void roundRobinFollowsAChangingCandidateList() {
        List<HostEntry> three = hosts(0, 0, 0);
        Selector s = Selector.of(Strategy.ROUND_ROBIN);
        s.pick(three);
        s.pick(three);
        HostEntry only = three.get(1);
        assertSame(only, s.pick(List.of(only)));
    }

    @Test
    void leastOutstandingPicksTheLeastLoaded() {
        List<HostEntry> hosts = hosts(5, 1, 3);
        Selector s = Selector.of(Strategy.LEAST_OUTSTANDING);
        assertEquals(Map.of("h1", PICKS), count(s, hosts, PICKS));
    }

    @Test
    void theLeastLoadedStrategiesWeighLoadByWorkers() {
        // saturated hosts: six requests on four workers leave room sooner than two on one worker: (6+1)/4 < (2+1)/1
        FakeHost big = new FakeHost("big");
        big.capacity = 4;
        big.outstanding = 6;
        FakeHost small = new FakeHost("small");
        small.outstanding = 2;
        List<HostEntry> hosts = List.of(new HostEntry(big), new HostEntry(small));
        assertEquals(Map.of("big", PICKS), count(Selector.of(Strategy.LEAST_OUTSTANDING), hosts, PICKS));
        assertEquals(Map.of("big", PICKS), count(Selector.of(Strategy.POWER_OF_TWO), hosts, PICKS));
        big.outstanding = 12; // (12+1)/4 > (2+1)/1: now the small one
        assertEquals(Map.of("small", PICKS), count(Selector.of(Strategy.LEAST_OUTSTANDING), hosts, PICKS));
        // a host with an idle worker beats a saturated one, whatever their sizes
        small.outstanding = 0;
        big.outstanding = 4;
        assertEquals(Map.of("small", PICKS), count(Selector.of(Strategy.LEAST_OUTSTANDING), hosts, PICKS));
    }

    @Test
    void hostsWithAnIdleWorkerShareTheLoadWhateverTheirSizes() {
        // each runs the request at once: two requests on four workers and none on one worker tie
        FakeHost big = new FakeHost("big");
        big.capacity = 4;
        big.outstanding = 2;
        FakeHost small = new FakeHost("small");
        List<HostEntry> hosts = List.of(new HostEntry(big), new HostEntry(small));
        Map<String, Integer> counts = count(Selector.of(Strategy.LEAST_OUTSTANDING), hosts, PICKS);
        for (String id : List.of("big", "small")) {
            int n = counts.getOrDefault(id, 0);
            assertTrue(n > PICKS / 2 - 300 && n < PICKS / 2 + 300, () -> "uneven spread over idle hosts: " + counts);
        }
    }

    @Test
    void leastOutstandingSpreadsTies() {
        List<HostEntry> hosts = hosts(2, 0, 0, 0);
        Selector s = Selector.of(Strategy.LEAST_OUTSTANDING);
        Map<String, Integer> counts = count(s, hosts, PICKS);
        assertEquals(null, counts.get("h0"));
        for (String id : List.of("h1", "h2", "h3")) {
            int n = counts.getOrDefault(id, 0);
            assertTrue(n > PICKS / 3 - 200 && n < PICKS / 3 + 200, () -> "uneven spread over ties: " + counts);
        }
    }

    @Test
    void powerOfTwoNeverPicksTheMostLoadedOfThreeWhenTheOthersAreIdle() {
        List<HostEntry> hosts = hosts(10, 0, 0);
        Selector s = Selector.of(Strategy.POWER_OF_TWO);
        Map<String, Integer> counts = count(s, hosts, PICKS);
        assertEquals(null, counts.get("h0"), () -> "the busy host was picked: " + counts);
        assertEquals(PICKS, counts.get("h1") + counts.get("h2"));
        assertTrue(counts.get("h1") > PICKS / 2 - 250 && counts.get("h2") > PICKS / 2 - 250, counts::toString);
    }

    @Test
    void powerOfTwoSpreadsEvenlyOverEqualHosts() {
        List<HostEntry> hosts = hosts(0, 0, 0);
        Selector s = Selector.of(Strategy.POWER_OF_TWO);
        Map<String, Integer> counts = count(s, hosts, PICKS);
        for (String id : List.of("h0", "h1", "h2")) {
            int n = counts.getOrDefault(id, 0);
            assertTrue(n > PICKS / 3 - 200 && n < PICKS / 3 + 200, () -> "uneven spread: " + counts);
        }
    }

    @Test
    void everyStrategyTakesASingleCandidate() {
        List<HostEntry> one = hosts(7);
        for (Strategy strategy : Strategy.values()) {
            assertSame(one.get(0), Selector.of(strategy).pick(one), strategy.name());
        }
    }

    private static List<HostEntry> hosts(int... loads) {
        List<HostEntry> out = new ArrayList<>();
        for (int i = 0; i < loads.length; i++) {
            FakeHost h = new FakeHost("h" + i);
            h.outstanding = loads[i];
            out.add(new HostEntry(h));
        }
        return out;
    }

    private static Map<String, Integer> count(Selector s, List<HostEntry> hosts, int picks) {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < picks; i++) {
            counts.merge(s.pick(hosts).id, 1, Integer::sum);
        }
        return counts;
    }
}
