package io.fractal.api.balancer;

/** How the balancer picks a modelhost among the candidates. */
public enum Strategy {
    /** Each candidate in turn. */
    ROUND_ROBIN,
    /** The candidate with the fewest requests queued and in flight. */
    LEAST_OUTSTANDING,
    /** Two candidates at random, the less loaded of the two. */
    POWER_OF_TWO
}
