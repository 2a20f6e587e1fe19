package io.fractal.engine.onnx.internal;

import ai.onnxruntime.MapInfo;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.SequenceInfo;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.TensorInfo.OnnxTensorType;
import ai.onnxruntime.ValueInfo;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The signature of an ONNX model as ONNX Runtime reports it: inputs and outputs in the model's order, their
 * datatypes, and their shapes with {@code -1} for every dimension the model leaves open. Output datatypes are
 * those the engine answers with (half floats come back as FP32, 16-bit integers as INT32).
 */
final class OnnxSignatures {

    private OnnxSignatures() {
    }

    /**
     * @param classes for each ZipMap output, its class keys in class order (see {@link ZipMapClasses}); a ZipMap
     *        output is described as the table the engine answers, [-1, classes] of the map's value type
     */
    static ModelSignature read(OrtSession session, Map<String, List<?>> classes) throws OrtException {
        List<TensorSpec> inputs = new ArrayList<>();
        for (NodeInfo node : session.getInputInfo().values()) {
            inputs.add(spec(node, false, classes));
        }
        List<TensorSpec> outputs = new ArrayList<>();
        List<String> labels = List.of();
        int zipMaps = 0;
        for (NodeInfo node : session.getOutputInfo().values()) {
            outputs.add(spec(node, true, classes));
            if (isSequenceOfMaps(node.getInfo())) {
                zipMaps++;
                List<?> keys = classes.get(node.getName());
                labels = keys == null ? List.of() : keys.stream().map(String::valueOf).toList();
            }
        }
        // Labels name the columns of one output; with several class tables they would be ambiguous.
        return new ModelSignature(inputs, outputs, zipMaps == 1 ? labels : List.of());
    }

    static boolean hasSequenceOfMaps(OrtSession session) throws OrtException {
        return session.getOutputInfo().values().stream().anyMatch(n -> isSequenceOfMaps(n.getInfo()));
    }

    static boolean isSequenceOfMaps(ValueInfo info) {
        return info instanceof SequenceInfo s && s.isSequenceOfMaps();
    }

    private static TensorSpec spec(NodeInfo node, boolean output, Map<String, List<?>> classes) {
        ValueInfo info = node.getInfo();
        if (info instanceof TensorInfo t) {
            return new TensorSpec(node.getName(), output ? outputType(t.onnxType) : inputType(t.onnxType),
                    t.getShape());
        }
        if (info instanceof SequenceInfo s && s.isSequenceOfMaps()) {
            List<?> keys = classes.get(node.getName());
            return new TensorSpec(node.getName(), valueType(s.mapInfo),
                    new long[] {-1, keys == null ? -1 : keys.size()});
        }
        if (info instanceof SequenceInfo s) {
            // A sequence of tensors comes back as one tensor per element, of a shape the model does not say.
            return new TensorSpec(node.getName(), javaType(s.sequenceType), null);
        }
        return new TensorSpec(node.getName(), info instanceof MapInfo m ? valueType(m) : null, null);
    }

    /** The type a request must send, or {@code null} where the Fractal API has none (the engine decides). */
    static DataType inputType(OnnxTensorType type) {
        return switch (type) {
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT -> DataType.FP32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE -> DataType.FP64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 -> DataType.FP16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 -> DataType.INT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 -> DataType.UINT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16 -> DataType.INT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 -> DataType.INT32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 -> DataType.INT64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL -> DataType.BOOL;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING -> DataType.BYTES;
            default -> null;
        };
    }

    /** The type the engine answers with. */
    static DataType outputType(OnnxTensorType type) {
        return switch (type) {
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 -> DataType.FP32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16, ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16 -> DataType.INT32;
            default -> inputType(type);
        };
    }

    private static DataType valueType(MapInfo map) {
        return javaType(map.valueType);
    }

    private static DataType javaType(OnnxJavaType type) {
        return switch (type) {
            case FLOAT -> DataType.FP32;
            case DOUBLE -> DataType.FP64;
            case INT64 -> DataType.INT64;
            case INT32 -> DataType.INT32;
            case STRING -> DataType.BYTES;
            case BOOL -> DataType.BOOL;
            default -> null;
        };
    }
}
