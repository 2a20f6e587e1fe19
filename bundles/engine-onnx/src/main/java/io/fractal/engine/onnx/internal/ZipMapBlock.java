package io.fractal.engine.onnx.internal;

import ai.djl.Model;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.onnxruntime.engine.OrtNDManager;
import ai.djl.onnxruntime.engine.OrtSymbolBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxMap;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a model with ZipMap outputs (skl2onnx's sequence of {label: probability} maps, one per row) and answers
 * each as a table [rows, classes] in class order. DJL's {@code OrtSymbolBlock} fills that table in the iteration
 * order of the {@code HashMap} ONNX Runtime's Java API returns, so columns of string labels come out shuffled
 * (for iris: setosa, virginica, versicolor), and it leaves the maps' native memory open.
 *
 * <p>Everything else stays DJL's: the model, its manager, predictors and translators; this block replaces only
 * the model's {@code OrtSymbolBlock} and converts each output itself. Tensor outputs (such as skl2onnx's
 * {@code output_label}) are copied into DJL arrays; string tensors stay strings.
 */
final class ZipMapBlock extends OrtSymbolBlock {

    private final OrtSession session;
    private final OrtNDManager manager;
    private final List<String> inputNames;
    private final Map<String, List<?>> classes;

    private ZipMapBlock(OrtSession session, OrtNDManager manager, Map<String, List<?>> classes) {
        super(session, manager); // registers with the model's manager: closing the model closes the session
        this.session = session;
        this.manager = manager;
        this.inputNames = List.copyOf(session.getInputNames());
        this.classes = Map.copyOf(classes);
    }

    /**
     * Makes {@code session} serve {@code model} in place of the block DJL loaded, which is closed. The model owns
     * the session from then on; should this fail before, the session is closed.
     *
     * @param classes by ZipMap output, the class keys in class order; an output not listed is ordered by its keys
     */
    static void install(Model model, OrtSession session, Map<String, List<?>> classes) throws OrtException {
        ZipMapBlock block;
        try {
            block = new ZipMapBlock(session, (OrtNDManager) model.getNDManager(), classes);
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
        Block loaded = model.getBlock();
        model.setBlock(block);
        if (loaded instanceof OrtSymbolBlock djlBlock) {
            djlBlock.close();
        }
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
            PairList<String, Object> params) {
        if (inputs.size() != inputNames.size()) {
            throw new IllegalArgumentException("Input mismatch, looking for: " + inputNames);
        }
        boolean named = inputs.stream().allMatch(a -> a.getName() != null && inputNames.contains(a.getName()));
        Map<String, OnnxTensor> feed = new HashMap<>();
        try (OrtNDManager sub = (OrtNDManager) manager.newSubManager()) {
            for (int i = 0; i < inputs.size(); i++) {
                NDArray input = inputs.get(i);
                feed.put(named ? input.getName() : inputNames.get(i), sub.from(input).getTensor());
            }
            NDList out = new NDList();
            try (OrtSession.Result result = session.run(feed)) {
                for (Map.Entry<String, OnnxValue> output : result) {
                    convert(output.getKey(), output.getValue(), out);
                }
            } catch (RuntimeException | OrtException e) {
                out.close();
                throw e;
            }
            out.attach(inputs.head().getManager());
            return out;
        } catch (OrtException e) {
            throw new EngineException(e);
        }
    }

    private void convert(String name, OnnxValue value, NDList out) throws OrtException {
        if (value instanceof OnnxTensor tensor) {
            out.add(copy(name, tensor));
        } else if (value instanceof OnnxSequence sequence && sequence.getInfo().isSequenceOfMaps()) {
            out.add(classTable(name, sequence));
        } else if (value instanceof OnnxSequence sequence) {
            List<? extends OnnxValue> elements = sequence.getValue();
            try {
                for (int i = 0; i < elements.size(); i++) {
                    out.add(copy(name + "." + i, (OnnxTensor) elements.get(i)));
                }
            } finally {
                elements.forEach(OnnxValue::close);
            }
        } else {
            throw new UnsupportedOperationException("output '" + name + "' is a " + value.getType()
                    + ", which the engine cannot answer");
        }
    }

    private NDArray copy(String name, OnnxTensor tensor) throws OrtException {
        TensorInfo info = tensor.getInfo();
        Shape shape = new Shape(info.getShape());
        NDArray array = info.type == OnnxJavaType.STRING
                ? manager.create(strings(tensor.getValue()), StandardCharsets.UTF_8, shape)
                : manager.create(tensor.getByteBuffer(), shape, djlType(name, info.type));
        array.setName(name);
        return array;
    }

    /** The maps of a ZipMap output as rows of a table, the columns in class order. */
    private NDArray classTable(String name, OnnxSequence sequence) throws OrtException {
        @SuppressWarnings("unchecked")
        List<OnnxMap> maps = (List<OnnxMap>) sequence.getValue();
        try {
            List<Map<?, ?>> rows = new ArrayList<>(maps.size());
            for (OnnxMap map : maps) {
                rows.add(map.getValue());
            }
            List<?> keys = classes.get(name);
            if (keys == null) {
                keys = rows.isEmpty() ? List.of() : sortedKeys(rows.get(0));
            }
            int n = rows.size();
            int c = keys.size();
            double[] values = new double[n * c];
            for (int r = 0; r < n; r++) {
                Map<?, ?> row = rows.get(r);
                if (row.size() != c) {
                    throw new IllegalStateException("ZipMap output '" + name + "' has " + row.size()
                            + " classes in row " + r + ", expected " + keys);
                }
                for (int j = 0; j < c; j++) {
                    Object v = row.get(keys.get(j));
                    if (!(v instanceof Number number)) {
                        throw new IllegalStateException("ZipMap output '" + name + "' has no class '" + keys.get(j)
                                + "' in row " + r);
                    }
                    values[r * c + j] = number.doubleValue();
                }
            }
            Shape shape = new Shape(n, c);
            NDArray table = switch (sequence.getInfo().mapInfo.valueType) {
                case DOUBLE -> manager.create(values, shape);
                case FLOAT -> manager.create(toFloats(values), shape);
                default -> throw new UnsupportedOperationException("ZipMap output '" + name + "' holds "
                        + sequence.getInfo().mapInfo.valueType + " values");
            };
            table.setName(name);
            return table;
        } finally {
            maps.forEach(OnnxMap::close); // not closed with the sequence
        }
    }

    /** Without the labels from the file: the keys in their natural order, which is sklearn's classes_ order. */
    private static List<?> sortedKeys(Map<?, ?> row) {
        Object[] keys = row.keySet().toArray();
        Arrays.sort(keys);
        return Arrays.asList(keys);
    }

    private static float[] toFloats(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return f;
    }

    private static String[] strings(Object value) {
        if (value instanceof String s) {
            return new String[] {s};
        }
        if (value instanceof String[] s) {
            return s;
        }
        List<String> flat = new ArrayList<>();
        for (Object element : (Object[]) value) {
            flat.addAll(Arrays.asList(strings(element)));
        }
        return flat.toArray(new String[0]);
    }

    private static DataType djlType(String name, OnnxJavaType type) {
        return switch (type) {
            case FLOAT -> DataType.FLOAT32;
            case DOUBLE -> DataType.FLOAT64;
            case FLOAT16 -> DataType.FLOAT16;
            case BFLOAT16 -> DataType.BFLOAT16;
            case INT8 -> DataType.INT8;
            case UINT8 -> DataType.UINT8;
            case INT32 -> DataType.INT32;
            case INT64 -> DataType.INT64;
            case BOOL -> DataType.BOOLEAN;
            default -> throw new UnsupportedOperationException("output '" + name + "' has type " + type
                    + ", which the engine cannot answer");
        };
    }
}
