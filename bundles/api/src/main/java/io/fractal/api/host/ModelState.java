package io.fractal.api.host;

/** The life of a model version on one modelhost. */
public enum ModelState {
    /** The engine is loading it. */
    LOADING,
    /** It serves requests. */
    READY,
    /** Loading failed; the reason is kept. */
    FAILED,
    /** The engine it needs is not there (yet, or any more); it loads as soon as the engine appears. */
    WAITING_FOR_ENGINE,
    /** It takes no new requests and is closed once those running finish. */
    DRAINING
}
