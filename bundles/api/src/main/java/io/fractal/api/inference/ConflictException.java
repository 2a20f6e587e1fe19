package io.fractal.api.inference;

/** The request contradicts the current state, e.g. a modelhost id that is already taken (HTTP 409). */
public class ConflictException extends FractalException {
    private static final long serialVersionUID = 1L;

    public ConflictException(String message) {
        super(message);
    }

    public ConflictException(String message, Throwable cause) {
        super(message, cause);
    }
}
