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

    @AttributeDefinition(description = "Milliseconds a request waits for its model while it loads or its engine "
            + "is away (an engine update), before it answers 503.")
    long grace_ms() default 5000;

    @AttributeDefinition(description = "How often a request refused before any work started (full queue, "
            + "draining host) is tried on another modelhost.")
    int retries() default 1;
}
