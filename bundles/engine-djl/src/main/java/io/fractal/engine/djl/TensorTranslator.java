package io.fractal.engine.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Fractal tensors in, Fractal tensors out. The arrays live in the call's own manager, so they are freed when the
 * call ends.
 */
final class TensorTranslator {

    private final List<String> outputNames;
    private final Set<DataType> accepted;
    private final String engine;
    /**
     * Whether to name input arrays whose names are plain words: ONNX Runtime matches them to the model's inputs;
     * DJL's PyTorch engine treats them as no name (see {@link TensorConversion#plainWord}).
     */
    private final boolean plainNames;

    TensorTranslator(List<String> outputNames, Set<DataType> accepted, String engine) {
        this.outputNames = outputNames;
        this.accepted = accepted;
        this.engine = engine;
        this.plainNames = !"PyTorch".equals(engine);
    }

    /** The inputs as arrays in {@code manager}, their values in {@code memory} where their type allows. */
    NDList processInput(NDManager manager, List<Tensor> input, TensorConversion.InputMemory memory) {
        NDList list = new NDList(input.size());
        for (Tensor t : input) {
            list.add(TensorConversion.toNDArray(manager, t, accepted, engine, memory, plainNames));
        }
        return list;
    }

    List<Tensor> processOutput(NDList list) {
        List<Tensor> out = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            NDArray array = list.get(i);
            String name;
            if (outputNames.size() == list.size()) {
                name = outputNames.get(i);
            } else if (array.getName() != null && !array.getName().isEmpty()) {
                name = array.getName();
            } else {
                name = "output" + i;
            }
            out.add(TensorConversion.toTensor(name, array));
        }
        return out;
    }
}
