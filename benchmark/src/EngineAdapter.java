import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelArtifact;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine adapter (bundles/engine-djl under engine-pytorch and engine-onnx) in process, two builds side by side
 * in one JVM (issue 11, "lean hot path"): each build's three engine jars in a class loader of their own over one DJL
 * and one io.fractal.api (the launcher's class path, as in the server, where the system bundle exports DJL), models
 * loaded through {@code InferenceEngine.load} and called through {@code LoadedModel.predict} exactly as a modelhost
 * worker does: one batched tensor in, Fractal tensors out.
 *
 * <p>First every build's outputs are compared on the same inputs (batches of 1 and 7 rows, 200 random inputs per
 * model): the largest difference is printed, and the run fails if any exceeds 1e-6. Then, per model, per thread count
 * (1 and 2 threads calling one loaded model) and per round, each build runs for SECONDS, interleaved (A B A B ...)
 * so that the shared machine's noise hits both alike; every call's output is checked against the single-threaded
 * answer for its input (a mixed-up answer under concurrency fails the run). Prints calls/s, wall microseconds per
 * call per thread and CPU microseconds per call, per round and as the median over the rounds.
 *
 * <pre>
 * java -cp 'runtime/target/fractal-server/lib/*:bundles/api/target/io.fractal.api-0.1.0-SNAPSHOT.jar' \
 *     benchmark/src/EngineAdapter.java before=DIR_WITH_ENGINE_JARS after=DIR_WITH_ENGINE_JARS [SECONDS [ROUNDS]]
 * </pre>
 *
 * A DIR holds io.fractal.engine.djl-*.jar, io.fractal.engine.pytorch-*.jar and io.fractal.engine.onnx-*.jar
 * (benchmark/engine-adapter.sh builds the current ones and takes a baseline from a git revision). Run with the
 * launcher's settings: DJL_OFFLINE=true, ENGINE_CACHE_DIR, -Dai.djl.pytorch.num_threads=1,
 * -Dai.djl.pytorch.num_interop_threads=1. Environment FRACTAL_REPO: the repository (default: the working folder).
 */
public final class EngineAdapter {

    record Case(String name, String engineClass, Path file, ModelSignature declared, String input, long[] row, float max) {
    }

    record Build(String label, InferenceEngine pytorch, InferenceEngine onnx) {
        InferenceEngine engine(Case c) {
            return c.engineClass.contains("onnx") ? onnx : pytorch;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, Path> dirs = new LinkedHashMap<>();
        List<String> rest = new ArrayList<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq > 0) {
                dirs.put(a.substring(0, eq), Path.of(a.substring(eq + 1)));
            } else {
                rest.add(a);
            }
        }
        double seconds = rest.size() > 0 ? Double.parseDouble(rest.get(0)) : 3;
        int rounds = rest.size() > 1 ? Integer.parseInt(rest.get(1)) : 3;
        Path repo = Path.of(System.getenv().getOrDefault("FRACTAL_REPO", "."));
        List<Case> cases = List.of(
                new Case("iris.pt", "PyTorch", repo.resolve("deploy/iris/model.pt"),
                        declared("input", new long[] {-1, 4}, 3), "input", new long[] {4}, 8),
                new Case("digits.pt", "PyTorch", repo.resolve("deploy/digits/model.pt"),
                        declared("image", new long[] {-1, 1, 8, 8}, 10), "image", new long[] {1, 8, 8}, 16),
                new Case("iris.onnx", "onnx", repo.resolve("it-tests/src/test/resources/models/iris.onnx"),
                        ModelSignature.UNKNOWN, "input", new long[] {4}, 8),
                new Case("digits.onnx", "onnx", repo.resolve("it-tests/src/test/resources/models/digits.onnx"),
                        ModelSignature.UNKNOWN, "image", new long[] {1, 8, 8}, 16));
        String only = System.getenv("MODELS");
        List<Case> selected = cases.stream().filter(c -> only == null || only.contains(c.name)).toList();

        List<Build> builds = new ArrayList<>();
        for (Map.Entry<String, Path> d : dirs.entrySet()) {
            URLClassLoader loader = new URLClassLoader("engines-" + d.getKey(), jars(d.getValue()),
                    EngineAdapter.class.getClassLoader());
            InferenceEngine pt = (InferenceEngine) loader.loadClass("io.fractal.engine.pytorch.internal.PyTorchEngine")
                    .getConstructor().newInstance();
            InferenceEngine ort = (InferenceEngine) loader.loadClass("io.fractal.engine.onnx.internal.OnnxRuntimeEngine")
                    .getConstructor().newInstance();
            builds.add(new Build(d.getKey(), pt, ort));
        }

        for (Case c : selected) {
            List<LoadedModel> models = new ArrayList<>();
            for (Build b : builds) {
                models.add(b.engine(c).load(artifact(c), 2));
            }
            // Identical outputs: the same 200 inputs (100 of one row, 100 of seven rows) through every build.
            Random random = new Random(11);
            double worst = 0;
            for (int i = 0; i < 200; i++) {
                Tensor in = input(c, i < 100 ? 1 : 7, random);
                List<Tensor> first = null;
                for (LoadedModel m : models) {
                    List<Tensor> out = m.predict(List.of(in));
                    if (first == null) {
                        first = out;
                        continue;
                    }
                    worst = Math.max(worst, difference(first, out));
                }
            }
            System.out.printf("%s: largest output difference between builds over 200 inputs: %.3g%n", c.name, worst);
            if (worst > 1e-6) {
                throw new AssertionError(c.name + ": outputs differ by " + worst);
            }
            for (int b = 0; b < builds.size(); b++) {
                System.out.printf("%s: %s signature %s%n", c.name, builds.get(b).label, models.get(b).signature());
            }
            for (int threads = 1; threads <= 2; threads++) {
                double[][] perCall = new double[builds.size()][rounds];
                double[][] rate = new double[builds.size()][rounds];
                double[][] cpu = new double[builds.size()][rounds];
                for (int r = -1; r < rounds; r++) { // round -1: warm-up, not reported
                    for (int b = 0; b < builds.size(); b++) {
                        double[] res = run(models.get(b), c, threads, r < 0 ? Math.max(seconds, 3) : seconds);
                        if (r >= 0) {
                            rate[b][r] = res[0];
                            perCall[b][r] = res[1];
                            cpu[b][r] = res[2];
                            System.out.printf("  %-11s %d thread(s) %-7s round %d: %8.0f calls/s %7.2f us/call %7.2f us CPU/call%n",
                                    c.name, threads, builds.get(b).label, r + 1, res[0], res[1], res[2]);
                        }
                    }
                }
                for (int b = 0; b < builds.size(); b++) {
                    System.out.printf("RESULT model=%s threads=%d build=%s calls_per_s=%.0f us_per_call=%.2f cpu_us_per_call=%.2f%n",
                            c.name, threads, builds.get(b).label, median(rate[b]), median(perCall[b]), median(cpu[b]));
                }
            }
            for (LoadedModel m : models) {
                m.close();
            }
        }
        for (Build b : builds) {
            ((AutoCloseable) b.pytorch).close();
            ((AutoCloseable) b.onnx).close();
        }
    }

    /** {calls/s over all threads, wall us per call per thread, CPU us per call}. */
    private static double[] run(LoadedModel model, Case c, int threads, double seconds) throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        AtomicLong calls = new AtomicLong();
        AtomicLong cpuNanos = new AtomicLong();
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Thread> workers = new ArrayList<>();
        long[] window = new long[2];
        for (int t = 0; t < threads; t++) {
            int seed = t;
            Thread w = new Thread(() -> {
                try {
                    // Four inputs per thread, different across threads, with their single-threaded answers.
                    Random random = new Random(100 + seed);
                    Tensor[] in = new Tensor[4];
                    float[][] expected = new float[4][];
                    for (int i = 0; i < in.length; i++) {
                        in[i] = input(c, 1, random);
                        expected[i] = (float[]) model.predict(List.of(in[i])).get(0).data();
                    }
                    start.await();
                    long end = window[1];
                    long cpu0 = mx.getCurrentThreadCpuTime();
                    long n = 0;
                    while (System.nanoTime() < end) {
                        for (int i = 0; i < 64; i++) {
                            List<Tensor> out = model.predict(List.of(in[i & 3]));
                            if (!Arrays.equals((float[]) out.get(0).data(), expected[i & 3])) {
                                throw new AssertionError(c.name + ": a call answered another input's output");
                            }
                        }
                        n += 64;
                    }
                    cpuNanos.addAndGet(mx.getCurrentThreadCpuTime() - cpu0);
                    calls.addAndGet(n);
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            workers.add(w);
        }
        workers.forEach(Thread::start);
        Thread.sleep(50);
        window[0] = System.nanoTime();
        window[1] = window[0] + (long) (seconds * 1e9);
        start.await();
        for (Thread w : workers) {
            w.join();
        }
        if (!failures.isEmpty()) {
            throw new AssertionError(failures.get(0));
        }
        double secs = (System.nanoTime() - window[0]) / 1e9;
        long n = calls.get();
        return new double[] {n / secs, secs * 1e6 * threads / n, cpuNanos.get() / 1e3 / n};
    }

    private static Tensor input(Case c, int rows, Random random) {
        long[] shape = new long[c.row.length + 1];
        shape[0] = rows;
        System.arraycopy(c.row, 0, shape, 1, c.row.length);
        float[] v = new float[(int) Tensor.elementCount(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextFloat() * c.max;
        }
        return Tensor.of(c.input, DataType.FP32, shape, v);
    }

    private static double difference(List<Tensor> a, List<Tensor> b) {
        if (a.size() != b.size()) {
            return Double.POSITIVE_INFINITY;
        }
        double worst = 0;
        for (int i = 0; i < a.size(); i++) {
            Tensor x = a.get(i);
            Tensor y = b.get(i);
            if (!x.datatype().equals(y.datatype()) || !Arrays.equals(x.shape(), y.shape())
                    || !String.valueOf(x.name()).equals(String.valueOf(y.name()))) {
                return Double.POSITIVE_INFINITY;
            }
            if (x.datatype() == DataType.BYTES) {
                worst = Math.max(worst, Arrays.equals((String[]) x.data(), (String[]) y.data()) ? 0 : Double.POSITIVE_INFINITY);
                continue;
            }
            for (int k = 0; k < x.size(); k++) {
                worst = Math.max(worst, Math.abs(x.getDouble(k) - y.getDouble(k)));
            }
        }
        return worst;
    }

    private static ModelSignature declared(String input, long[] shape, int classes) {
        return new ModelSignature(List.of(new TensorSpec(input, DataType.FP32, shape)),
                List.of(new TensorSpec("probabilities", DataType.FP32, new long[] {-1, classes})), List.of());
    }

    private static ModelArtifact artifact(Case c) {
        return new ModelArtifact() {
            @Override
            public String name() {
                return c.name.replace('.', '-');
            }

            @Override
            public int version() {
                return 1;
            }

            @Override
            public String engine() {
                return c.engineClass;
            }

            @Override
            public Path file() {
                return c.file;
            }

            @Override
            public ModelSignature signature() {
                return c.declared;
            }
        };
    }

    private static URL[] jars(Path dir) throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String prefix : List.of("io.fractal.engine.djl-", "io.fractal.engine.pytorch-", "io.fractal.engine.onnx-")) {
            File[] found = dir.toFile().listFiles((d, n) -> n.startsWith(prefix) && n.endsWith(".jar")
                    && !n.endsWith("-sources.jar") && !n.endsWith("-tests.jar"));
            if (found == null || found.length != 1) {
                throw new IllegalArgumentException(dir + " must hold exactly one " + prefix + "*.jar");
            }
            urls.add(found[0].toURI().toURL());
        }
        return urls.toArray(new URL[0]);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
