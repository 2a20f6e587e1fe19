package io.fractal.benchmark.sleep.internal;

import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.engine.ModelLoadException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.repository.ModelArtifact;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.osgi.service.component.annotations.Component;

/**
 * A benchmark engine with a known, fixed service time: a {@code .sleep} model file holds a number of
 * milliseconds (e.g. {@code 10}, or {@code 2.5}); each prediction waits that long without using the CPU and
 * returns its inputs renamed {@code output0}, {@code output1}, ... A modelhost with W workers then serves at most
 * W * 1000 / ms requests per second, whatever the machine.
 */
@Component(service = InferenceEngine.class, property = InferenceEngine.NAME + "=" + SleepEngine.NAME)
public class SleepEngine implements InferenceEngine {

    static final String NAME = "Sleep";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String platform() {
        return "sleep";
    }

    @Override
    public Set<String> fileExtensions() {
        return Set.of("sleep");
    }

    @Override
    public LoadedModel load(ModelArtifact artifact, int workers) throws ModelLoadException {
        String text;
        try {
            text = Files.readString(artifact.file(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + artifact.file() + ": " + e.getMessage(), e);
        }
        double millis;
        try {
            millis = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new ModelLoadException("a .sleep model holds a number of milliseconds, not '" + text + "'", e);
        }
        if (!(millis >= 0) || millis > TimeUnit.HOURS.toMillis(1)) {
            throw new ModelLoadException("sleep time out of range: " + text + " ms");
        }
        return new SleepingModel((long) (millis * 1_000_000), artifact.signature());
    }

    /** Sleeps, then echoes. Stateless, so any number of workers may call it at once. */
    static final class SleepingModel implements LoadedModel {
        private final long nanos;
        private final ModelSignature signature;

        SleepingModel(long nanos, ModelSignature signature) {
            this.nanos = nanos;
            this.signature = signature == null ? ModelSignature.UNKNOWN : signature;
        }

        @Override
        public ModelSignature signature() {
            return signature;
        }

        @Override
        public List<Tensor> predict(List<Tensor> inputs) {
            long deadline = System.nanoTime() + nanos;
            for (long left = nanos; left > 0; left = deadline - System.nanoTime()) {
                LockSupport.parkNanos(left);
                if (Thread.currentThread().isInterrupted()) {
                    throw new IllegalStateException("interrupted while sleeping");
                }
            }
            List<Tensor> outputs = new ArrayList<>(inputs.size());
            for (int i = 0; i < inputs.size(); i++) {
                outputs.add(inputs.get(i).withName("output" + i));
            }
            return outputs;
        }

        @Override
        public void close() {
            // nothing held
        }
    }
}
