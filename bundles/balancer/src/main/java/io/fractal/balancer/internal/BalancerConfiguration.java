package io.fractal.balancer.internal;

import io.fractal.api.balancer.Strategy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal balancer", description = "How requests are spread over the modelhosts.")
@interface BalancerConfiguration {

    String PID = "io.fractal.balancer";

    /** The default measured best (benchmark/README.md): exact load counts are at hand in one process. */
    @AttributeDefinition(description = "ROUND_ROBIN, LEAST_OUTSTANDING or POWER_OF_TWO.")
    Strategy strategy() default Strategy.LEAST_OUTSTANDING;

    @AttributeDefinition(description = "Consecutive failures after which a modelhost is ejected.")
    int ejection_failures() default 3;

    @AttributeDefinition(description = "Seconds an ejected modelhost sits out before it is probed again.")
    int ejection_seconds() default 10;

    @AttributeDefinition(description = "Milliseconds a request waits for a modelhost that can serve it (none "
            + "live, none holding the model yet, the model loading or its engine away, every holder draining), "
            + "before it answers 503. Deactivation waits up to this plus 2 s for the requests it holds.")
    long grace_ms() default 5000;

    @AttributeDefinition(description = "How often a request refused by a full queue is tried on another "
            + "modelhost. Refusals by a draining or stopping modelhost, or one without the model ready, are "
            + "re-routed within the grace without counting here.")
    int retries() default 1;
}
