package io.fractal.engine.djl;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.translate.TranslateException;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * A DJL model with a pool of predictors: DJL predictors are not thread-safe, so each concurrent caller (a
 * modelhost worker) borrows one; the pool grows to the number of workers and no further.
 */
final class DjlLoadedModel implements LoadedModel {

    private final String name;
    private final Model model;
    private final ModelSignature signature;
    private final List<String> outputNames;
    private final Consumer<DjlLoadedModel> onClose;
    private final ConcurrentLinkedQueue<Predictor<List<Tensor>, List<Tensor>>> idle = new ConcurrentLinkedQueue<>();
    private final List<Predictor<List<Tensor>, List<Tensor>>> all = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean closed;

    DjlLoadedModel(String name, Model model, ModelSignature signature, Consumer<DjlLoadedModel> onClose) {
        this.name = name;
        this.model = model;
        this.signature = signature;
        this.outputNames = signature.outputs().stream().map(TensorSpec::name).toList();
        this.onClose = onClose;
    }

    @Override
    public ModelSignature signature() {
        return signature;
    }

    @Override
    public List<Tensor> predict(List<Tensor> inputs) {
        if (closed) {
            throw new IllegalStateException("model " + name + " is closed");
        }
        List<Tensor> ordered = checkInputs(inputs);
        Predictor<List<Tensor>, List<Tensor>> predictor = idle.poll();
        if (predictor == null) {
            predictor = model.newPredictor(new TensorTranslator(outputNames));
            all.add(predictor);
        }
        try {
            return predictor.predict(ordered);
        } catch (TranslateException e) {
            // The engine refused the input (shape, type, arity): the request's fault, reported in the engine's words.
            throw new InvalidInputException("model " + name + " rejected the input: " + DjlEngine.rootMessage(e), e);
        } catch (RuntimeException e) {
            throw new InvalidInputException("model " + name + " rejected the input: " + DjlEngine.rootMessage(e), e);
        } finally {
            idle.offer(predictor);
        }
    }

    /** Checks the inputs against the declared signature and puts them in its order. */
    private List<Tensor> checkInputs(List<Tensor> inputs) {
        List<TensorSpec> specs = signature.inputs();
        if (specs.isEmpty()) {
            return inputs;
        }
        if (inputs.size() != specs.size()) {
            throw new InvalidInputException("model " + name + " takes " + specs.size() + " input(s) " + specs
                    + " but the request has " + inputs.size());
        }
        Map<String, Tensor> byName = new HashMap<>();
        for (Tensor t : inputs) {
            byName.put(t.name(), t);
        }
        boolean named = specs.stream().allMatch(s -> byName.containsKey(s.name()));
        List<Tensor> ordered = new ArrayList<>(specs.size());
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec spec = specs.get(i);
            Tensor t = named ? byName.get(spec.name()) : inputs.get(i);
            if (spec.datatype() != null && t.datatype() != spec.datatype()) {
                throw new InvalidInputException("input '" + spec.name() + "' must be " + spec.datatype() + ", not "
                        + t.datatype());
            }
            if (!spec.accepts(t.shape())) {
                throw new InvalidInputException("input '" + spec.name() + "' must have shape "
                        + Arrays.toString(spec.shape()) + " (-1: any size), not " + Arrays.toString(t.shape()));
            }
            ordered.add(t.withName(spec.name()));
        }
        return ordered;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Predictor<?, ?> p : all) {
            p.close();
        }
        all.clear();
        idle.clear();
        model.close();
        onClose.accept(this);
    }
}
