package io.fractal.api.inference;

/**
 * A bounded queue is full, or no modelhost is live: the request was not started and may be retried (HTTP 503
 * with {@code Retry-After}).
 */
public class CapacityExceededException extends FractalException {
    private static final long serialVersionUID = 1L;
    private final int retryAfterSeconds;

    public CapacityExceededException(String message, int retryAfterSeconds) {
        super(message);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
