package io.fractal.cluster.internal;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.fractal.api.host.ModelState;
import io.fractal.api.inference.ModelSignature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What a node publishes in the cluster's replicated map under its member UUID: its HTTP endpoint, its modelhosts
 * (what each has READY, by checksum) and the model versions its repository holds. Kept as JSON text so the map
 * holds only strings (no class of this bundle in Hazelcast's hands, nothing to break on an update).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
final class NodeState {

    static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    public String node;
    public String url;
    /** False once the node is leaving: its modelhosts are withdrawn, its models stay where they were copied. */
    public boolean serving = true;
    public List<HostState> hosts = new ArrayList<>();
    public List<VersionState> models = new ArrayList<>();
    /** Versions deleted on this node ("name sha256"), so that nodes holding a copy delete theirs. */
    public List<String> deleted = new ArrayList<>();
    /** The default version of each model as this node last saw it chosen: name to "sha256 time". */
    public java.util.Map<String, String> defaults = new java.util.TreeMap<>();
    /** The description of each version ("name sha256") as this node last saw it changed, so all nodes follow. */
    public java.util.Map<String, Described> descriptions = new java.util.TreeMap<>();

    /** One local modelhost. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    static final class HostState {
        public String id;
        public boolean accepting;
        public int workers;
        public int queueCapacity;
        public String models;
        public List<Loaded> loaded = new ArrayList<>();
    }

    /** One model version on a modelhost; {@code version} is the number on the publishing node. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    static final class Loaded {
        public String model;
        public int version;
        public String sha256;
        public ModelState state;
        public String reason;
        public String engine;
        public ModelSignature signature;
    }

    /** One model version in the publishing node's repository. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    static final class VersionState {
        public String name;
        public int version;
        public String sha256;
        public long size;
        public long created;
        public String fileName;
        public String engine;
        public String description;
        public boolean isDefault;
        /** The declared signature (the sidecar's), or null. */
        public ModelSignature signature;
        /**
         * Its whole metadata as a {@code model.json} sidecar ({@link io.fractal.api.repository.ModelRepository#metadata}:
         * signature, engine, description, batching...), or null from a repository that has none beyond the above.
         */
        public com.fasterxml.jackson.databind.JsonNode metadata;
    }

    /** A description as last changed on some node (epoch ms; 0: as found, never changed since). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    static final class Described {
        public String text;
        public long time;

        Described() {
        }

        Described(String text, long time) {
            this.text = text;
            this.time = time;
        }
    }

    String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static NodeState parse(String json) {
        try {
            return JSON.readValue(json, NodeState.class);
        } catch (IOException e) {
            throw new IllegalArgumentException("unreadable node state: " + e.getMessage(), e);
        }
    }
}
