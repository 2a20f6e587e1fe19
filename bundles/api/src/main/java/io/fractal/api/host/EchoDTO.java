package io.fractal.api.host;

import org.osgi.dto.DTO;

/** The answer of {@link ModelHost#echo}: the payload, and the host and worker that handled it. */
public class EchoDTO extends DTO {
    public Object data;
    public String modelhost;
    public String worker;
}
