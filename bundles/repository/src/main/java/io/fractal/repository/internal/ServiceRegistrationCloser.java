package io.fractal.repository.internal;

import org.osgi.framework.ServiceRegistration;

/** Unregisters a service that may already be gone (its bundle stopping). */
final class ServiceRegistrationCloser {

    private ServiceRegistrationCloser() {
    }

    static void close(ServiceRegistration<?> registration) {
        if (registration == null) {
            return;
        }
        try {
            registration.unregister();
        } catch (IllegalStateException alreadyGone) {
            // unregistered with the bundle
        }
    }
}
