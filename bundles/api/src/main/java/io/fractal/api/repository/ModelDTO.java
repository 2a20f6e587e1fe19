package io.fractal.api.repository;

import java.util.List;
import org.osgi.dto.DTO;

/** A model and its versions. */
public class ModelDTO extends DTO {
    public String name;
    public int defaultVersion;
    public List<ModelVersionDTO> versions;
}
