package io.fractal.api.host;

import io.fractal.api.inference.Batching;
import io.fractal.api.inference.ModelSignature;
import org.osgi.dto.DTO;

/** One model version on one modelhost. */
public class ModelStatusDTO extends DTO {
    public String model;
    public int version;
    public ModelState state;
    /** Why it FAILED, or null. */
    public String reason;
    public String engine;
    /** The signature the engine read (merged with the declared one), once READY; else null. */
    public ModelSignature signature;
    /**
     * How this host batches the version's requests (its metadata, or the host's configuration over it).
     *
     * @since 1.2
     */
    public Batching batching;
}
