package io.fractal.inferrer.internal;

import io.fractal.api.inference.Batching;
import java.util.Arrays;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.TensorSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Triton's model configuration names for what Fractal knows of a model (the model configuration extension). */
final class ModelConfig {

    private ModelConfig() {
    }

    /** Triton's {@code data_type}: TYPE_FP32 etc., TYPE_STRING for BYTES. */
    static String dataType(DataType type) {
        if (type == null) {
            return "TYPE_INVALID";
        }
        return switch (type) {
            case BYTES -> "TYPE_STRING";
            default -> "TYPE_" + type.name();
        };
    }

    /** Triton's platform name for an engine's platform. */
    static String tritonPlatform(String platform) {
        if (platform == null) {
            return "";
        }
        return switch (platform) {
            case "pytorch_torchscript" -> "pytorch_libtorch";
            default -> platform;
        };
    }

    /** Triton's backend name for an engine's platform. */
    static String tritonBackend(String platform) {
        if (platform == null) {
            return "";
        }
        return switch (platform) {
            case "pytorch_torchscript", "pytorch_libtorch" -> "pytorch";
            case "onnxruntime_onnx" -> "onnxruntime";
            default -> platform;
        };
    }

    /**
     * Inputs or outputs as Triton's {@code input} / {@code output}: name, data_type, dims. For a model that batches
     * ({@code batched}), dims leave out the first (batch) dimension, as Triton's do when {@code max_batch_size > 0}.
     */
    static List<Object> tensors(List<TensorSpec> specs, boolean batched) {
        List<Object> out = new ArrayList<>();
        for (TensorSpec s : specs) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", s.name());
            t.put("data_type", dataType(s.datatype()));
            long[] shape = s.shape();
            if (shape == null) {
                t.put("dims", List.of(-1));
            } else {
                t.put("dims", batched && shape.length > 1 ? Arrays.copyOfRange(shape, 1, shape.length) : shape);
            }
            out.add(t);
        }
        return out;
    }

    /**
     * Triton's {@code max_batch_size} and {@code dynamic_batching} for a model's batching: 0 and nothing for one that
     * is not batched.
     */
    static void batching(Map<String, Object> config, Batching batching) {
        Batching b = batching == null ? Batching.OFF : batching;
        config.put("max_batch_size", b.maxBatchSize());
        if (b.enabled()) {
            config.put("dynamic_batching", Map.of("max_queue_delay_microseconds", b.maxQueueDelayMicros()));
        }
    }
}
