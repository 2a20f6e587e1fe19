package io.fractal.modelhost.internal;

import io.fractal.api.inference.Batching;
import java.util.HashMap;
import java.util.Map;
import java.util.logging.Logger;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Modified;

/**
 * Dynamic batching set by configuration, over what each model's metadata declares: PID {@value #PID}, with
 * {@code <model>.max_batch_size} and {@code <model>.max_queue_delay_us} per model name (for instance
 * {@code digits.max_batch_size=32} in {@code deploy/io.fractal.batching.cfg}). A change applies to the next batch
 * every modelhost forms: nothing is reloaded. {@code <model>.max_batch_size=0} turns batching off for a model whose
 * metadata asks for it.
 */
@Component(service = BatchingSettings.class, configurationPid = BatchingSettings.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL)
public class BatchingSettings {

    static final String PID = "io.fractal.batching";
    private static final String SIZE = ".max_batch_size";
    private static final String DELAY = ".max_queue_delay_us";
    private static final Logger LOG = Logger.getLogger(BatchingSettings.class.getName());

    private volatile Map<String, Batching> byModel = Map.of();

    @Activate
    public BatchingSettings(Map<String, Object> properties) {
        modified(properties);
    }

    @Modified
    void modified(Map<String, Object> properties) {
        Map<String, Long> sizes = new HashMap<>();
        Map<String, Long> delays = new HashMap<>();
        for (Map.Entry<String, Object> e : properties.entrySet()) {
            String key = e.getKey();
            Map<String, Long> into = key.endsWith(SIZE) ? sizes : key.endsWith(DELAY) ? delays : null;
            if (into == null) {
                continue;
            }
            String model = key.substring(0, key.length() - (into == sizes ? SIZE : DELAY).length());
            try {
                into.put(model, Long.parseLong(String.valueOf(e.getValue()).trim()));
            } catch (NumberFormatException nfe) {
                LOG.warning(() -> "Batching: " + key + " is not a number ('" + e.getValue() + "'): ignored");
            }
        }
        Map<String, Batching> next = new HashMap<>();
        for (String model : union(sizes, delays)) {
            long size = sizes.getOrDefault(model, 0L);
            long delay = delays.getOrDefault(model, 0L);
            try {
                next.put(model, new Batching((int) Math.min(Integer.MAX_VALUE, Math.max(-1, size)), delay));
            } catch (IllegalArgumentException bad) {
                LOG.warning(() -> "Batching of model " + model + " ignored: " + bad.getMessage());
            }
        }
        byModel = Map.copyOf(next);
        if (!next.isEmpty()) {
            LOG.info(() -> "Batching set by configuration: " + new java.util.TreeMap<>(next));
        }
    }

    private static java.util.Set<String> union(Map<String, Long> a, Map<String, Long> b) {
        java.util.Set<String> all = new java.util.HashSet<>(a.keySet());
        all.addAll(b.keySet());
        return all;
    }

    /** How a model is batched: the configuration's setting for it, else what its metadata declares. */
    Batching of(String model, Batching declared) {
        Batching set = byModel.get(model);
        return set != null ? set : declared == null ? Batching.OFF : declared;
    }
}
