package io.fractal.metrics.internal;

import io.prometheus.client.Collector;
import io.prometheus.client.dropwizard.samplebuilder.SampleBuilder;
import java.util.ArrayList;
import java.util.List;

/** Turns our {@code name|label=value} Dropwizard names into Prometheus samples with labels. */
final class LabelledSampleBuilder implements SampleBuilder {

    @Override
    public Collector.MetricFamilySamples.Sample createSample(String dropwizardName, String nameSuffix,
            List<String> additionalLabelNames, List<String> additionalLabelValues, double value) {
        MetricName name = MetricName.decode(dropwizardName);
        List<String> labelNames = new ArrayList<>(name.labelNames());
        List<String> labelValues = new ArrayList<>(name.labelValues());
        if (additionalLabelNames != null) {
            labelNames.addAll(additionalLabelNames);
            labelValues.addAll(additionalLabelValues);
        }
        String full = Collector.sanitizeMetricName(name.name() + (nameSuffix == null ? "" : nameSuffix));
        return new Collector.MetricFamilySamples.Sample(full, labelNames, labelValues, value);
    }
}
