package io.fractal.api.inference;

import java.util.List;

/**
 * What a model takes and gives: its inputs and outputs in order, and for classifiers the class labels in the
 * order of the output columns. Empty lists mean unknown: the request then says the shapes and datatypes; so does
 * a {@link TensorSpec} whose datatype or shape is null. {@code origin} says where the signature came from
 * ({@link #METADATA}, {@link #MODEL_FILE}, {@link #FIRST_CALL}, or two of them joined by {@code " + "}); null
 * when nobody said.
 */
public record ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs, List<String> labels, String origin) {

    /** Declared by whoever deployed the model (a sidecar, a model bundle's header, an upload). @since 1.2 */
    public static final String METADATA = "metadata";
    /** Read by the engine from the model file. @since 1.2 */
    public static final String MODEL_FILE = "model file";
    /** Completed from the first successful call (its datatypes, and its shapes with the first dimension as -1). @since 1.2 */
    public static final String FIRST_CALL = "first call";

    public static final ModelSignature UNKNOWN = new ModelSignature(List.of(), List.of(), List.of());

    public ModelSignature {
        inputs = inputs == null ? List.of() : List.copyOf(inputs);
        outputs = outputs == null ? List.of() : List.copyOf(outputs);
        labels = labels == null ? List.of() : List.copyOf(labels);
    }

    public ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs, List<String> labels) {
        this(inputs, outputs, labels, null);
    }

    /** Whether every input and output is known with its datatype and shape. @since 1.2 */
    public boolean complete() {
        return !inputs.isEmpty() && !outputs.isEmpty() && inputs.stream().allMatch(TensorSpec::known)
                && outputs.stream().allMatch(TensorSpec::known);
    }

    /** This signature, said to come from {@code origin}. @since 1.2 */
    public ModelSignature withOrigin(String origin) {
        return new ModelSignature(inputs, outputs, labels, origin);
    }

    public boolean hasInputs() {
        return !inputs.isEmpty();
    }

    /** This signature, with each empty part taken from {@code other}. */
    public ModelSignature orElse(ModelSignature other) {
        if (other == null) {
            return this;
        }
        return new ModelSignature(inputs.isEmpty() ? other.inputs : inputs,
                outputs.isEmpty() ? other.outputs : outputs, labels.isEmpty() ? other.labels : labels,
                origin != null ? origin : other.origin);
    }
}
