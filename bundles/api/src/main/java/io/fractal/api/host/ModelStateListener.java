package io.fractal.api.host;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A whiteboard listener for the life of model versions on the modelhosts: register one as a service and every
 * modelhost tells it when a model version's state changes on it ({@code LOADING}, {@code READY}, {@code FAILED},
 * {@code WAITING_FOR_ENGINE}, {@code DRAINING} once it is being taken away). A modelhost that binds a listener
 * first tells it the current state of every version it holds, so a listener that comes late (or comes back after
 * an update) misses nothing. Events of one modelhost arrive in the order of its changes.
 *
 * <p>This replaces polling {@link ModelHost#status}: the repository promotes a new version once a modelhost reports
 * it READY, and the balancer can wake requests waiting for a version.
 *
 * <p>Modelhosts call listeners on a thread of their own, outside their locks, and ignore what a listener throws;
 * a listener should return quickly and hand any long work to a thread of its own.
 */
@ConsumerType
public interface ModelStateListener {

    /**
     * A model version changed state on a modelhost.
     *
     * @param modelhost the modelhost's id ({@link ModelHost#ID})
     * @param status    the version's status on that host after the change
     */
    void stateChanged(String modelhost, ModelStatusDTO status);
}
