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
    /** Requests that failed on this host (engine errors), not counting bad input. */
    public long failed;
    /** Requests refused because the queue was full. */
    public long rejected;
    /** Requests the model rejected as bad input (wrong shape, datatype). */
    public long invalid;
    public List<ModelStatusDTO> loaded;
}
