package io.fractal.engine.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Fractal tensors in, Fractal tensors out. Arrays live in the predictor context's manager, so they are freed
 * when the call ends.
 */
final class TensorTranslator implements NoBatchifyTranslator<List<Tensor>, List<Tensor>> {

    private final List<String> outputNames;
    private final Set<DataType> accepted;
    private final String engine;

    TensorTranslator(List<String> outputNames, Set<DataType> accepted, String engine) {
        this.outputNames = outputNames;
        this.accepted = accepted;
        this.engine = engine;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, List<Tensor> input) {
        NDList list = new NDList(input.size());
        for (Tensor t : input) {
            list.add(TensorConversion.toNDArray(ctx.getNDManager(), t, accepted, engine));
        }
        return list;
    }

    @Override
    public List<Tensor> processOutput(TranslatorContext ctx, NDList list) {
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
