package io.fractal.inferrer.internal;

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

    /** Inputs or outputs as Triton's {@code input} / {@code output}: name, data_type, dims. */
    static List<Object> tensors(List<TensorSpec> specs) {
        List<Object> out = new ArrayList<>();
        for (TensorSpec s : specs) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", s.name());
            t.put("data_type", dataType(s.datatype()));
            t.put("dims", s.shape() == null ? List.of(-1) : s.shape());
            out.add(t);
        }
        return out;
    }
}
