package io.fractal.repository.internal;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The metadata that travels with a model: the sidecar {@code model.json} of a model folder, and the
 * {@code version.json} the repository keeps beside each stored version (a superset of the sidecar).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelMetadata {

    /** The sidecar file name in a model folder. */
    static final String SIDECAR = "model.json";

    public String engine;
    /** The model file inside the folder. */
    public String file;
    public String description;
    public List<Spec> inputs;
    public List<Spec> outputs;
    public List<String> labels;

    // Kept by the repository for each version.
    public String source;
    public String sha256;
    public Long size;
    public Long created;
    /** What the deployed source was (model file and sidecar digests): the same source again is a no-op. */
    public String sourceDigest;
    /** The deploy/ file or folder a version came from (absolute path), or null. */
    public String origin;

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class Spec {
        public String name;
        public String datatype;
        public long[] shape;
    }

    static ModelMetadata read(ObjectMapper mapper, Path file) throws IOException {
        try {
            return mapper.readValue(file.toFile(), ModelMetadata.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(file.getFileName() + " is not valid model metadata: " + e.getOriginalMessage(), e);
        }
    }

    /** The signature this metadata declares; throws IllegalArgumentException for an unknown datatype. */
    ModelSignature signature() {
        return new ModelSignature(specs(inputs, "input"), specs(outputs, "output"), labels);
    }

    private static List<TensorSpec> specs(List<Spec> specs, String kind) {
        List<TensorSpec> out = new ArrayList<>();
        if (specs != null) {
            for (int i = 0; i < specs.size(); i++) {
                Spec s = specs.get(i);
                String name = s.name == null ? kind + i : s.name;
                out.add(new TensorSpec(name, s.datatype == null ? null : DataType.parse(s.datatype), s.shape));
            }
        }
        return out;
    }
}
