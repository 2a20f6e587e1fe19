package io.fractal.engine.djl;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A DJL model called by several threads at once. Each concurrent caller (a modelhost worker) borrows a
 * {@link Caller}: what a DJL {@code Predictor} holds (a manager under the model's, a parameter store), plus direct
 * memory reused for the inputs; the pool grows to the number of workers and no further. A call runs the model's
 * block itself, in a manager of its own under the caller's, closed when the call ends: what
 * {@code Predictor.predict} does, without its per-call context, metrics checks and translator plumbing (the block is
 * the one every predictor of the model shares, so calling it from several threads is what predictors did too).
 *
 * <p>Inputs are checked against the signature the model was loaded with (declared, or read from the file). A
 * signature that leaves datatypes, shapes or whole tensors unknown is completed from the first successful call,
 * for the clients that read it ({@code GET /v2/models/{m}}); that completion only describes, it is never
 * enforced, so a model whose dimensions vary keeps taking what it took before.
 *
 * <p>When the engine fails on an input, the model is run again on the first input it answered: if it still answers
 * that, the input was at fault (a 400 with the engine's words); if not, the model or the engine is broken (a failure
 * of the host, which the balancer counts towards ejecting it), not something the client can fix.
 */
final class DjlLoadedModel implements LoadedModel {

    /** How long a model that failed on an input it answered before counts as broken without being run again. */
    static final long RECHECK_MS = 1000;

    private final String name;
    private final Model model;
    private final ModelSignature signature;
    private volatile ModelSignature described;
    private volatile boolean observed;
    private final TensorTranslator translator;
    private final Consumer<DjlLoadedModel> onClose;
    private final ConcurrentLinkedQueue<Caller> idle = new ConcurrentLinkedQueue<>();
    private final List<Caller> all = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean closed;
    /** The first input the model answered (copied), to tell a bad input from a model that fails on every input. */
    private volatile List<Tensor> answered;
    /** When the model last failed on {@link #answered} (0: it answered a call since, or never failed on it). */
    private volatile long brokenAt;

    DjlLoadedModel(String name, Model model, ModelSignature signature, Consumer<DjlLoadedModel> onClose,
            TensorTranslator translator) {
        this.name = name;
        this.model = model;
        this.signature = signature;
        this.described = signature;
        this.translator = translator;
        this.onClose = onClose;
    }

    @Override
    public ModelSignature signature() {
        return described;
    }

    @Override
    public List<Tensor> predict(List<Tensor> inputs) {
        if (closed) {
            throw new IllegalStateException("model " + name + " is closed");
        }
        List<Tensor> ordered = checkInputs(inputs);
        Caller caller = idle.poll();
        if (caller == null) {
            caller = new Caller(model.getNDManager().newSubManager());
            all.add(caller);
        }
        try {
            List<Tensor> outputs = run(caller, ordered);
            if (answered == null) {
                answered = copy(ordered);
            }
            if (brokenAt != 0) {
                brokenAt = 0; // it answers again
            }
            return outputs;
        } catch (RuntimeException e) {
            if (!(e instanceof InvalidInputException) && !stillAnswers(caller)) {
                // Not the input's fault: the model fails on an input it answered before. A failure of the host (a
                // 500, counted, and the balancer ejects the host if it goes on), not a 400 the client cannot fix.
                throw new IllegalStateException("model " + name + " failed, and fails on an input it answered "
                        + "before: " + DjlEngine.rootMessage(e), e);
            }
            // The engine refused the input (shape, type, arity, values): the request's fault, in the engine's words.
            throw new InvalidInputException("model " + name + " rejected the input: " + DjlEngine.rootMessage(e), e);
        } finally {
            idle.offer(caller);
        }
    }

    /** One call of the model's block, in a manager of its own under the caller's. */
    private List<Tensor> run(Caller caller, List<Tensor> ordered) {
        List<Tensor> outputs;
        try (NDManager call = caller.manager.newSubManager()) {
            NDList in = translator.processInput(call, ordered, caller.memory);
            // as Predictor.predictInternal: no inputs, no outputs
            NDList out = in.isEmpty() ? new NDList() : model.getBlock().forward(caller.parameters, in, false);
            outputs = translator.processOutput(out);
        } finally {
            caller.memory.reset(); // the call's arrays are closed: its memory is free for the next call
        }
        if (!observed) {
            observed = true;
            if (!signature.complete()) {
                described = completed(signature, ordered, outputs);
            }
        }
        return outputs;
    }

    /**
     * Whether the model still answers the first input it answered, after it failed on another: then that other input
     * is at fault. Taken as true while the model has answered nothing yet. Once the model failed on that input too, it
     * counts as broken without being run again for {@value #RECHECK_MS} ms, or until it answers a call.
     */
    private boolean stillAnswers(Caller caller) {
        List<Tensor> known = answered;
        if (known == null) {
            return true;
        }
        long broken = brokenAt;
        if (broken != 0 && System.nanoTime() - broken < TimeUnit.MILLISECONDS.toNanos(RECHECK_MS)) {
            return false;
        }
        try {
            run(caller, known);
            return true;
        } catch (RuntimeException e) {
            long now = System.nanoTime();
            brokenAt = now == 0 ? 1 : now;
            return false;
        }
    }

    /** The tensors with arrays of their own: a request's arrays are not kept beyond its call. */
    private static List<Tensor> copy(List<Tensor> tensors) {
        List<Tensor> out = new ArrayList<>(tensors.size());
        for (Tensor t : tensors) {
            Object data = t.data();
            int n = Array.getLength(data);
            Object own = Array.newInstance(data.getClass().getComponentType(), n);
            System.arraycopy(data, 0, own, 0, n);
            out.add(Tensor.of(t.name(), t.datatype(), t.shape(), own));
        }
        return List.copyOf(out);
    }

    /** What one concurrent caller holds between calls (as a DJL predictor would). */
    private static final class Caller {

        final NDManager manager;
        final ParameterStore parameters;
        final TensorConversion.InputMemory memory = new TensorConversion.InputMemory();

        Caller(NDManager manager) {
            this.manager = manager;
            manager.setName("caller");
            this.parameters = new ParameterStore(manager, false);
        }
    }

    /**
     * {@code known}, with what it leaves unknown taken from a successful call: datatypes as they were, shapes with
     * the first dimension (taken as the batch) as -1.
     */
    static ModelSignature completed(ModelSignature known, List<Tensor> inputs, List<Tensor> outputs) {
        String origin = known.origin() == null ? ModelSignature.FIRST_CALL
                : known.origin() + " + " + ModelSignature.FIRST_CALL;
        return new ModelSignature(complete(known.inputs(), inputs), complete(known.outputs(), outputs),
                known.labels(), origin);
    }

    private static List<TensorSpec> complete(List<TensorSpec> specs, List<Tensor> seen) {
        if (!specs.isEmpty() && specs.size() != seen.size()) {
            return specs;
        }
        List<TensorSpec> out = new ArrayList<>(seen.size());
        for (int i = 0; i < seen.size(); i++) {
            Tensor t = seen.get(i);
            TensorSpec spec = specs.isEmpty() ? null : specs.get(i);
            long[] shape = t.shape().clone();
            if (shape.length > 0) {
                shape[0] = -1;
            }
            out.add(new TensorSpec(spec != null && spec.name() != null ? spec.name() : t.name(),
                    spec != null && spec.datatype() != null ? spec.datatype() : t.datatype(),
                    spec != null && spec.shape() != null ? spec.shape() : shape));
        }
        return out;
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
            if (byName.put(t.name(), t) != null) {
                throw new InvalidInputException("input '" + t.name() + "' is given twice");
            }
        }
        boolean named = specs.stream().allMatch(s -> byName.containsKey(s.name()));
        if (!named && !positional(inputs)) {
            List<String> unknown = inputs.stream().map(Tensor::name)
                    .filter(n -> specs.stream().noneMatch(s -> s.name().equals(n))).toList();
            throw new InvalidInputException("model " + name + " has no input named " + unknown + "; its inputs are "
                    + specs.stream().map(TensorSpec::name).toList());
        }
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

    /**
     * Inputs named by position rather than by name: Triton's PyTorch convention {@code INPUT__0}, {@code INPUT__1},
     * ..., or no names at all.
     */
    private static boolean positional(List<Tensor> inputs) {
        for (int i = 0; i < inputs.size(); i++) {
            String n = inputs.get(i).name();
            if (n != null && !n.equalsIgnoreCase("INPUT__" + i)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Caller c : all) {
            c.manager.close();
        }
        all.clear();
        idle.clear();
        model.close();
        onClose.accept(this);
    }
}
