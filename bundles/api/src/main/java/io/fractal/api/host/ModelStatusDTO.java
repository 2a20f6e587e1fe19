package io.fractal.api.host;

import org.osgi.dto.DTO;

/** One model version on one modelhost. */
public class ModelStatusDTO extends DTO {
    public String model;
    public int version;
    public ModelState state;
    /** Why it FAILED, or null. */
    public String reason;
    public String engine;
}
