package io.fractal.api.repository;

import io.fractal.api.inference.Batching;
import io.fractal.api.inference.ModelSignature;
import org.osgi.dto.DTO;

/** One version of a model as the repository keeps it. */
public class ModelVersionDTO extends DTO {
    public String name;
    public int version;
    public String engine;
    public String description;
    /** Where the model came from: a deploy file, a bundle, an upload. */
    public String source;
    public String sha256;
    public long size;
    /** Epoch milliseconds. */
    public long created;
    /** The declared signature, from the model's metadata; {@link ModelSignature#UNKNOWN} if none. */
    public ModelSignature signature;
    /**
     * What the version's first successful call showed of its signature ({@link ModelRepository#learnSignature}),
     * with the origin {@link ModelSignature#FIRST_CALL}; null when nothing was learned. Describes, never enforced.
     *
     * @since 1.2
     */
    public ModelSignature learned;
    /**
     * How its requests may be batched, as its metadata declares ({@link Batching#OFF} if it does not).
     *
     * @since 1.3
     */
    public Batching batching;
}
