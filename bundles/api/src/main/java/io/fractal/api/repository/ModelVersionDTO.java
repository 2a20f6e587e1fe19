package io.fractal.api.repository;

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
    public ModelSignature signature;
}
