package io.fractal.rest.internal;

import java.io.IOException;

/** A request body took longer than allowed to arrive (a slow or stalled client). */
final class BodyTimeoutException extends IOException {
    private static final long serialVersionUID = 1L;

    BodyTimeoutException(String message) {
        super(message);
    }
}
