package io.fractal.inferrer.internal;

import io.fractal.api.inference.CapacityExceededException;
import jakarta.ws.rs.WebApplicationException;
import java.io.IOException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * The memory that request bodies may take while they are parsed, shared by every prediction: a body reserves what
 * it will cost (its size times how much larger parsing makes it) before it is read, and gives it back when its
 * answer is written. A body that does not fit next to those in progress is a 503 with {@code Retry-After}; one that
 * would not fit alone is a 413. So no mix of bodies under the size limit can run the JVM out of heap.
 */
final class MemoryBudget {

    /** How much larger than its text a JSON body becomes once parsed (a tree of nodes, then arrays). */
    static final int JSON_FACTOR = 6;
    /** The same for binary tensors: the bytes, then the arrays decoded from them. */
    static final int BINARY_FACTOR = 3;

    private final long capacity;
    private long used;

    MemoryBudget(long capacity) {
        this.capacity = Math.max(1, capacity);
    }

    /** A quarter of the heap: what bodies in flight may take while the rest serves models and answers. */
    static long defaultCapacity() {
        return Runtime.getRuntime().maxMemory() / 4;
    }

    /** What a reservation gives back. Closing twice gives back once. */
    interface Lease extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Reserves {@code bytes} times {@code factor}.
     *
     * @throws WebApplicationException 413 when it could never fit
     * @throws CapacityExceededException (503) when it does not fit now
     */
    Lease reserve(long bytes, int factor) {
        long cost = bytes <= 0 ? 0 : (bytes > Long.MAX_VALUE / factor ? Long.MAX_VALUE : bytes * factor);
        if (cost == 0) {
            return () -> { };
        }
        if (cost > capacity) {
            throw new WebApplicationException("a body of " + bytes + " bytes is too large to parse in the memory this "
                    + "server gives request bodies (" + capacity / factor + " bytes" + (factor == JSON_FACTOR
                    ? " of JSON; binary tensors take less)" : ")"), 413);
        }
        synchronized (this) {
            if (used + cost > capacity) {
                throw new CapacityExceededException("the server is parsing other large bodies; retry", 1);
            }
            used += cost;
        }
        return new Lease() {
            private boolean closed;

            @Override
            public void close() {
                synchronized (MemoryBudget.this) {
                    if (!closed) {
                        closed = true;
                        used -= cost;
                    }
                }
            }
        };
    }

    /** Reads a body; the same as {@link java.io.InputStream#readAllBytes()} may throw. */
    interface BodyReader {
        byte[] read() throws IOException;
    }

    /**
     * Runs {@code work} on a body read within this budget: what the declared {@code Content-Length} costs is
     * reserved before the body is read (what it turned out to be, when chunked or compressed), and given back when
     * the stage {@code work} returns completes, or at once if anything throws.
     */
    <T> CompletionStage<T> within(String contentLength, String contentEncoding, int factor, BodyReader body,
            Function<byte[], CompletionStage<T>> work) throws IOException {
        Lease declared = reserve(Bodies.length(contentLength), factor);
        Lease lease = declared;
        try {
            byte[] bytes = body.read();
            if (contentLength == null || contentEncoding != null) {
                lease = reserve(bytes.length, factor); // chunked or compressed: what it turned out to be
                declared.close();
            }
            Lease held = lease;
            return work.apply(bytes).whenComplete((r, e) -> held.close());
        } catch (IOException | RuntimeException | Error e) {
            lease.close();
            declared.close();
            throw e;
        }
    }

    synchronized long used() {
        return used;
    }
}
