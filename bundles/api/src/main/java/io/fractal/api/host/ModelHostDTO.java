package io.fractal.api.host;

import java.util.List;
import org.osgi.dto.DTO;

/** A modelhost instance and its counters. */
public class ModelHostDTO extends DTO {
    public String id;
    /** RUNNING or DRAINING. */
    public String state;
    public int workers;
    public int queueCapacity;
    /** The filter on model names this host serves ({@code *} for all). */
    public String models;
    public int inFlight;
    public int queued;
    public long served;
    public long failed;
    public long rejected;
    public List<ModelStatusDTO> loaded;
}
