package io.fractal.api.inference;

/** The base of the failures Fractal services report; the REST layer maps each subclass to one status. */
public abstract class FractalException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    protected FractalException(String message) {
        super(message);
    }

    protected FractalException(String message, Throwable cause) {
        super(message, cause);
    }
}
