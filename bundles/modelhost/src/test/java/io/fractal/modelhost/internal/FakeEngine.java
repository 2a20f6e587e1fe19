package io.fractal.modelhost.internal;

import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.engine.ModelLoadException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelArtifact;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An engine for the modelhost's tests. Its models double their input and answer it as "doubled" (plus its
 * sum as "sum"); a model can be told to block each prediction until {@link #release()}, so tests see requests
 * running and queued.
 */
final class FakeEngine implements InferenceEngine {

    static final String NAME = "Fake";
    static final ModelSignature SIGNATURE = new ModelSignature(
            List.of(new TensorSpec("x", DataType.FP32, new long[] {-1})),
            List.of(new TensorSpec("doubled", DataType.FP32, new long[] {-1})), List.of());

    final List<FakeModel> loaded = new CopyOnWriteArrayList<>();
    final AtomicInteger loads = new AtomicInteger();
    /** Counts the loads that returned or threw. */
    final AtomicInteger loadsEnded = new AtomicInteger();
    /** Milliseconds each prediction takes (sleeping), beyond its work; 0: none. */
    volatile long predictMillis;
    /** The thread each prediction ran on, in order. */
    final List<Thread> predictionThreads = new CopyOnWriteArrayList<>();
    /** Each prediction waits for this latch when set. */
    volatile CountDownLatch gate;
    /** The first dimension of every prediction's first input, in order. */
    final List<Long> rowsSeen = new CopyOnWriteArrayList<>();
    /** Counts the predictions that reached the model. */
    final AtomicInteger entered = new AtomicInteger();
    /** A load waits for this latch when set. */
    volatile CountDownLatch loadGate;
    /** Loads fail with this message when set. */
    volatile String loadFailure;
    /** Predictions throw this when set. */
    volatile RuntimeException predictFailure;

    void blockPredictions() {
        gate = new CountDownLatch(1);
    }

    void release() {
        CountDownLatch g = gate;
        if (g != null) {
            g.countDown();
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String platform() {
        return "fake";
    }

    @Override
    public Set<String> fileExtensions() {
        return Set.of("fake");
    }

    @Override
    public LoadedModel load(ModelArtifact artifact, int workers) throws ModelLoadException {
        loads.incrementAndGet();
        try {
            await(loadGate);
            if (loadFailure != null) {
                throw new ModelLoadException(loadFailure);
            }
            FakeModel m = new FakeModel(artifact.signature().orElse(SIGNATURE));
            loaded.add(m);
            return m;
        } finally {
            loadsEnded.incrementAndGet();
        }
    }

    private static void await(CountDownLatch latch) {
        if (latch == null) {
            return;
        }
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("test latch never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    final class FakeModel implements LoadedModel {
        private final ModelSignature signature;
        final AtomicInteger closes = new AtomicInteger();
        final AtomicInteger running = new AtomicInteger();
        final AtomicInteger completed = new AtomicInteger();
        /** Predictions still running when the model was closed. */
        volatile int runningAtClose = -1;
        volatile int completedAtClose = -1;

        FakeModel(ModelSignature signature) {
            this.signature = signature;
        }

        @Override
        public ModelSignature signature() {
            return signature;
        }

        @Override
        public List<Tensor> predict(List<Tensor> inputs) {
            if (closes.get() > 0) {
                throw new IllegalStateException("closed");
            }
            running.incrementAndGet();
            try {
                entered.incrementAndGet();
                predictionThreads.add(Thread.currentThread());
                await(gate);
                if (predictMillis > 0) {
                    try {
                        Thread.sleep(predictMillis); // the slow model a test asks for
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                if (predictFailure != null) {
                    throw predictFailure;
                }
                float[] x = inputs.get(0).toFloats();
                float[] y = new float[x.length];
                float sum = 0;
                for (int i = 0; i < x.length; i++) {
                    y[i] = 2 * x[i];
                    sum += x[i];
                }
                long[] shape = inputs.get(0).shape();
                rowsSeen.add(shape[0]);
                if (shape.length == 2) { // rows of features: "sum" is per row, so a batch splits back
                    int rows = (int) shape[0];
                    int k = (int) shape[1];
                    float[] sums = new float[rows];
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < k; c++) {
                            sums[r] += x[r * k + c];
                        }
                    }
                    return List.of(Tensor.of("doubled", DataType.FP32, shape, y),
                            Tensor.of("sum", DataType.FP32, new long[] {rows}, sums));
                }
                return List.of(Tensor.of("doubled", DataType.FP32, new long[] {y.length}, y),
                        Tensor.of("sum", DataType.FP32, new long[] {1}, new float[] {sum}));
            } finally {
                completed.incrementAndGet();
                running.decrementAndGet();
            }
        }

        @Override
        public void close() {
            runningAtClose = running.get();
            completedAtClose = completed.get();
            closes.incrementAndGet();
        }
    }

    /** A deployed model version, as the repository publishes it. */
    record Artifact(String name, int version, String engine, Path file, ModelSignature signature)
            implements ModelArtifact {
        static Artifact of(String name, int version) {
            return new Artifact(name, version, NAME, Path.of(name + ".fake"), ModelSignature.UNKNOWN);
        }

        /** The service properties the repository registers it with; its file's checksum is {@code sha256}. */
        Map<String, Object> properties(String sha256) {
            Map<String, Object> p = new HashMap<>();
            p.put(MODEL_NAME, name);
            p.put(MODEL_VERSION, version);
            p.put(ENGINE, engine);
            p.put(SHA256, sha256);
            return p;
        }

        /** The properties with a checksum of its name and version. */
        Map<String, Object> properties() {
            return properties("sha-" + name + "-" + version);
        }

        /** The properties as the repository sets them just before it withdraws the version. */
        Map<String, Object> withdrawnProperties() {
            Map<String, Object> p = properties();
            p.put(WITHDRAWN, Boolean.TRUE);
            return p;
        }
    }
}
