import java.nio.file.Path;
import java.util.Arrays;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;

/**
 * The model alone, in process, on one thread, for benchmark/ceiling.sh: DJL's PyTorch engine (the jars of the
 * distribution's lib/), one predictor, one observation per call, converted in from a float[] and out to a float[]
 * as Fractal's engine does (arrays in the predictor context's manager). Warms up for WARMUP_S seconds, then counts
 * calls for SECONDS seconds and prints "RESULT calls=N seconds=S us_per_call=U cpu_us_per_call=C".
 *
 * <pre>java -cp 'lib/*' benchmark/src/ModelAlone.java MODEL.pt SHAPE(e.g. 1,4) MAX_VALUE WARMUP_S SECONDS</pre>
 *
 * Run with the launcher's settings: DJL_OFFLINE=true, ENGINE_CACHE_DIR, -Dai.djl.pytorch.num_threads=1,
 * -Dai.djl.pytorch.num_interop_threads=1.
 */
public final class ModelAlone {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        long[] dims = Arrays.stream(args[1].split(",")).mapToLong(Long::parseLong).toArray();
        float max = Float.parseFloat(args[2]);
        double warmup = Double.parseDouble(args[3]);
        double seconds = Double.parseDouble(args[4]);
        Shape shape = new Shape(dims);
        float[] values = new float[(int) shape.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i * 7 % 17) * max / 16f;
        }
        Criteria<float[], float[]> criteria = Criteria.builder()
                .setTypes(float[].class, float[].class)
                .optModelPath(file.getParent())
                .optModelName(file.getFileName().toString().replaceFirst("\\.pt$", ""))
                .optEngine("PyTorch")
                .optTranslator(new NoBatchifyTranslator<float[], float[]>() {
                    @Override
                    public NDList processInput(TranslatorContext ctx, float[] input) {
                        return new NDList(ctx.getNDManager().create(input, shape));
                    }

                    @Override
                    public float[] processOutput(TranslatorContext ctx, NDList list) {
                        return list.get(0).toFloatArray();
                    }
                })
                .build();
        try (ZooModel<float[], float[]> model = criteria.loadModel();
             Predictor<float[], float[]> predictor = model.newPredictor()) {
            float[] out = predictor.predict(values);
            System.out.println("output " + Arrays.toString(out));
            run(predictor, values, warmup);
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            long cpu0 = mx.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            long calls = run(predictor, values, seconds);
            double secs = (System.nanoTime() - t0) / 1e9;
            double cpu = (mx.getCurrentThreadCpuTime() - cpu0) / 1e3;
            System.out.printf("RESULT calls=%d seconds=%.2f us_per_call=%.1f cpu_us_per_call=%.1f%n",
                    calls, secs, secs * 1e6 / calls, cpu / calls);
        }
    }

    private static long run(Predictor<float[], float[]> predictor, float[] values, double seconds) throws Exception {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long calls = 0;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 100; i++) {
                predictor.predict(values);
            }
            calls += 100;
        }
        return calls;
    }
}
