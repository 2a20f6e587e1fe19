package io.fractal.api.balancer;

import java.util.List;
import org.osgi.dto.DTO;

/** The balancer's state. */
public class BalancerDTO extends DTO {
    public Strategy strategy;
    public List<Candidate> modelhosts;
    public long decisions;
    public long retries;
    public long ejections;

    /** One modelhost as the balancer sees it. */
    public static class Candidate extends DTO {
        public String id;
        public boolean ejected;
        /** Epoch milliseconds when an ejected host is probed again, or 0. */
        public long ejectedUntil;
        public int consecutiveFailures;
        public int outstanding;
        public long routed;
    }
}
