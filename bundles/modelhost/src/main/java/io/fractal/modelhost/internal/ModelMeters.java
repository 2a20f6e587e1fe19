package io.fractal.modelhost.internal;

import io.fractal.api.metrics.FractalMetrics;

/**
 * The series one model version records into on one host, looked up once rather than per request (a lookup builds
 * the series' key and searches the registry). Held until the metrics service it came from is replaced. The batch
 * size series exists only for a version that batches: it is created with its first batch.
 */
final class ModelMeters {

    final FractalMetrics owner;
    final FractalMetrics.Timer queue;
    final FractalMetrics.Timer inference;
    private final String model;
    private final String version;
    private final String host;
    private volatile FractalMetrics.Histogram batchSize;

    private ModelMeters(FractalMetrics owner, String model, int version, String host) {
        this.owner = owner;
        this.model = model;
        this.version = Integer.toString(version);
        this.host = host;
        this.queue = owner.timer("fractal_queue_seconds", "model", model, "version", this.version, "modelhost", host);
        this.inference = owner.timer("fractal_inference_seconds", "model", model, "version", this.version,
                "modelhost", host);
    }

    static ModelMeters of(FractalMetrics metrics, String model, int version, String host) {
        return new ModelMeters(metrics, model, version, host);
    }

    /** Records the rows of one engine call of a version that batches. */
    void batch(long rows) {
        FractalMetrics.Histogram h = batchSize;
        if (h == null) {
            h = owner.histogram("fractal_batch_size", "model", model, "version", version, "modelhost", host);
            batchSize = h;
        }
        h.update(rows);
    }
}
