package io.fractal.api.inference;

/** The named model, or the named version of it, does not exist (HTTP 404). */
public class ModelNotFoundException extends FractalException {
    private static final long serialVersionUID = 1L;

    public ModelNotFoundException(String message) {
        super(message);
    }

    public ModelNotFoundException(String message, Throwable cause) {
        super(message, cause);
    }
}
