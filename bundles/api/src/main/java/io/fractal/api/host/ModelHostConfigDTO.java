package io.fractal.api.host;

import org.osgi.dto.DTO;

/** The configuration of one modelhost instance; null fields take the defaults. */
public class ModelHostConfigDTO extends DTO {
    public String id;
    public Integer workers;
    public Integer queueCapacity;
    /** A glob on model names, e.g. {@code *} or {@code iris*,digits}. */
    public String models;
}
