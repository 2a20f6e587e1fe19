package io.fractal.repository.internal;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.Batching;
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
    /** Dynamic batching: the most rows one engine call takes (absent or 0: not batched). */
    @JsonProperty("max_batch_size")
    public Integer maxBatchSize;
    /** Dynamic batching: how long a worker may wait for a batch to fill, in microseconds (absent: 0). */
    @JsonProperty("max_queue_delay_us")
    public Long maxQueueDelayMicros;

    // Kept by the repository for each version.
    public String source;
    public String sha256;
    public Long size;
    public Long created;
    /** What the deployed source was (model file and sidecar digests): the same source again is a no-op. */
    public String sourceDigest;
    /** The deploy/ file or folder a version came from (absolute path), or null. */
    public String origin;
    /**
     * What the version's first successful call showed of its inputs and outputs (a model file that declares no
     * datatypes or shapes), kept apart from {@link #inputs} and {@link #outputs}: those are declared, and engines
     * enforce them; these only describe. Null when nothing was learned; never read from a sidecar.
     */
    public List<Spec> learnedInputs;
    public List<Spec> learnedOutputs;

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

    /**
     * The signature learned from the first call ({@link ModelSignature#FIRST_CALL}), or null when none was learned
     * or what was kept cannot be read (it only describes: a version never fails to load for it).
     */
    ModelSignature learnedSignature() {
        if (learnedInputs == null || learnedOutputs == null) {
            return null;
        }
        try {
            return new ModelSignature(specs(learnedInputs, "input"), specs(learnedOutputs, "output"), null,
                    ModelSignature.FIRST_CALL);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The batching this metadata declares; throws IllegalArgumentException for a size or delay out of range. */
    Batching batching() {
        if (maxBatchSize == null && maxQueueDelayMicros == null) {
            return Batching.OFF;
        }
        return new Batching(maxBatchSize == null ? 0 : maxBatchSize,
                maxQueueDelayMicros == null ? 0 : maxQueueDelayMicros);
    }

    /** Keeps a learned signature's inputs and outputs. */
    void learn(ModelSignature learned) {
        learnedInputs = toSpecs(learned.inputs());
        learnedOutputs = toSpecs(learned.outputs());
    }

    /** What a sidecar may declare, as it is now (the description may have changed since): none of the rest. */
    ModelMetadata sidecar() {
        ModelMetadata m = new ModelMetadata();
        m.engine = engine;
        m.description = description;
        m.inputs = inputs;
        m.outputs = outputs;
        m.labels = labels;
        m.maxBatchSize = maxBatchSize;
        m.maxQueueDelayMicros = maxQueueDelayMicros;
        return m;
    }

    /** Drops what only the repository may write (a sidecar cannot declare a learned signature). */
    void forgetLearned() {
        learnedInputs = null;
        learnedOutputs = null;
    }

    private static List<Spec> toSpecs(List<TensorSpec> specs) {
        List<Spec> out = new ArrayList<>(specs.size());
        for (TensorSpec t : specs) {
            Spec s = new Spec();
            s.name = t.name();
            s.datatype = t.datatype() == null ? null : t.datatype().name();
            s.shape = t.shape();
            out.add(s);
        }
        return out;
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
