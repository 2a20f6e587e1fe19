package io.fractal.api.inference;

/**
 * How a model version's requests may be batched: a worker that frees up takes, besides the request it runs, every
 * queued request for the same version whose inputs fit (same names and datatypes, same shape past the first
 * dimension) until the batch holds {@code maxBatchSize} rows along the first dimension, runs them as one engine
 * call, and splits the outputs back by rows. A request never waits for a batch to fill when nothing is queued,
 * unless {@code maxQueueDelayMicros} asks for that wait (at most that long, Triton's {@code
 * max_queue_delay_microseconds}).
 *
 * <p>A model that batches takes its first dimension as the batch: a request with more rows than {@code
 * maxBatchSize} is refused.
 *
 * @param maxBatchSize        the most rows (first-dimension entries) one engine call takes; 0 for a model that is
 *                            not batched (the default)
 * @param maxQueueDelayMicros how long a worker may wait for more requests to fill a batch; 0 never waits
 * @since 1.3
 */
public record Batching(int maxBatchSize, long maxQueueDelayMicros) {

    /** Not batched: each request is its own engine call. */
    public static final Batching OFF = new Batching(0, 0);

    /** The most rows a batch may hold: beyond this a configured size is refused. */
    public static final int LIMIT = 65_536;

    /** The longest delay a batch may wait for: one second. */
    public static final long DELAY_LIMIT_MICROS = 1_000_000;

    /** @throws IllegalArgumentException for a negative or too large size or delay */
    public Batching {
        if (maxBatchSize < 0 || maxBatchSize > LIMIT) {
            throw new IllegalArgumentException("max_batch_size must be between 0 and " + LIMIT + ", not "
                    + maxBatchSize);
        }
        if (maxQueueDelayMicros < 0 || maxQueueDelayMicros > DELAY_LIMIT_MICROS) {
            throw new IllegalArgumentException("max_queue_delay_us must be between 0 and " + DELAY_LIMIT_MICROS
                    + ", not " + maxQueueDelayMicros);
        }
    }

    /** Whether requests are put together: a batch may hold more than one row. */
    public boolean enabled() {
        return maxBatchSize > 1;
    }
}
