package io.fractal.api.inference;

/** The model exists but no modelhost can serve it now: loading, failed, or its engine is away (HTTP 503). */
public class ModelNotReadyException extends FractalException {
    private static final long serialVersionUID = 1L;

    public ModelNotReadyException(String message) {
        super(message);
    }

    public ModelNotReadyException(String message, Throwable cause) {
        super(message, cause);
    }
}
