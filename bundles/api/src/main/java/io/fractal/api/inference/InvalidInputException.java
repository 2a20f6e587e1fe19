package io.fractal.api.inference;

/** The request is malformed: wrong shape, datatype, missing field (HTTP 400). The message names the field. */
public class InvalidInputException extends FractalException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
