package io.fractal.inferrer.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Inference counters per model version, as Triton's statistics extension reports them
 * ({@code GET /v2/models/{m}/stats}). {@link InferrerServices} holds the one instance the v1 and v2 resources of this
 * bundle share, so a model's counts include both APIs; they start at zero when the bundle starts (or is updated). A
 * request counts once it has been resolved to a version: an unknown model counts nowhere.
 */
final class ServingStats {

    /** Kept for at most this many versions; past it, the counters of versions no longer asked for go first. */
    static final int MAX_VERSIONS = 4096;

    private final Map<String, Counters> byVersion = new ConcurrentHashMap<>();

    /** A request on {@code model} {@code version} succeeded after {@code totalNanos}. */
    void success(String model, int version, long totalNanos, long queueNanos, long inferenceNanos) {
        Counters c = counters(model, version);
        c.successCount.increment();
        c.successNanos.add(Math.max(0, totalNanos));
        c.queueCount.increment();
        c.queueNanos.add(Math.max(0, queueNanos));
        c.computeCount.increment();
        c.computeNanos.add(Math.max(0, inferenceNanos));
        c.lastInference.accumulateAndGet(System.currentTimeMillis(), Math::max);
    }

    /** A request on {@code model} {@code version} failed (bad input, not ready, timeout...) after {@code totalNanos}. */
    void failure(String model, int version, long totalNanos) {
        Counters c = counters(model, version);
        c.failCount.increment();
        c.failNanos.add(Math.max(0, totalNanos));
        c.lastInference.accumulateAndGet(System.currentTimeMillis(), Math::max);
    }

    private Counters counters(String model, int version) {
        String key = key(model, version);
        Counters c = byVersion.get(key);
        if (c == null) {
            if (byVersion.size() >= MAX_VERSIONS) {
                byVersion.clear(); // statistics of thousands of versions: start again rather than grow without end
            }
            c = byVersion.computeIfAbsent(key, k -> new Counters());
        }
        return c;
    }

    private static String key(String model, int version) {
        return model + ":" + version;
    }

    /**
     * One entry of Triton's {@code model_stats}: {@code name, version, last_inference, inference_count,
     * execution_count, inference_stats: {success, fail, queue, compute_input, compute_infer, compute_output}} with
     * {@code {count, ns}} each (compute_input and compute_output are not measured apart: count and ns 0), and
     * {@code batch_stats: []}. Zeros for a version that has served nothing.
     */
    Map<String, Object> json(String model, int version) {
        Counters c = byVersion.get(key(model, version));
        if (c == null) {
            c = new Counters();
        }
        long success = c.successCount.sum();
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("success", duration(success, c.successNanos.sum()));
        stats.put("fail", duration(c.failCount.sum(), c.failNanos.sum()));
        stats.put("queue", duration(c.queueCount.sum(), c.queueNanos.sum()));
        stats.put("compute_input", duration(0, 0));
        stats.put("compute_infer", duration(c.computeCount.sum(), c.computeNanos.sum()));
        stats.put("compute_output", duration(0, 0));
        stats.put("cache_hit", duration(0, 0));
        stats.put("cache_miss", duration(0, 0));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", model);
        m.put("version", Integer.toString(version));
        m.put("last_inference", c.lastInference.get());
        m.put("inference_count", success);
        m.put("execution_count", success);
        m.put("inference_stats", stats);
        m.put("batch_stats", List.of());
        return m;
    }

    private static Map<String, Object> duration(long count, long nanos) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", count);
        m.put("ns", nanos);
        return m;
    }

    private static final class Counters {
        final LongAdder successCount = new LongAdder();
        final LongAdder successNanos = new LongAdder();
        final LongAdder failCount = new LongAdder();
        final LongAdder failNanos = new LongAdder();
        final LongAdder queueCount = new LongAdder();
        final LongAdder queueNanos = new LongAdder();
        final LongAdder computeCount = new LongAdder();
        final LongAdder computeNanos = new LongAdder();
        final AtomicLong lastInference = new AtomicLong();
    }
}
