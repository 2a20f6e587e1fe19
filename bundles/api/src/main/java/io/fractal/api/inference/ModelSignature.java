package io.fractal.api.inference;

import java.util.List;

/**
 * What a model takes and gives: its inputs and outputs in order, and for classifiers the class labels in the
 * order of the output columns. Empty lists mean unknown: the request then says the shapes and datatypes.
 */
public record ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs, List<String> labels) {

    public static final ModelSignature UNKNOWN = new ModelSignature(List.of(), List.of(), List.of());

    public ModelSignature {
        inputs = inputs == null ? List.of() : List.copyOf(inputs);
        outputs = outputs == null ? List.of() : List.copyOf(outputs);
        labels = labels == null ? List.of() : List.copyOf(labels);
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
                outputs.isEmpty() ? other.outputs : outputs, labels.isEmpty() ? other.labels : labels);
    }
}
