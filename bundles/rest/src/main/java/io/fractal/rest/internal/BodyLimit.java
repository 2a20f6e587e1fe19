package io.fractal.rest.internal;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.PreMatching;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Refuses bodies over the limit (at once when the length is declared, while reading when it is chunked), and
 * bodies that take longer than the body timeout to arrive: a slow or stalled client holds a listener thread for
 * that long at most (the listener's read timeout bounds each wait for more bytes).
 */
@PreMatching
final class BodyLimit implements ContainerRequestFilter {

    private final long limit;
    private final long timeoutMillis;

    BodyLimit(long limit, long timeoutMillis) {
        this.limit = limit;
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void filter(ContainerRequestContext request) throws IOException {
        int length;
        try {
            length = request.getLength();
        } catch (RuntimeException e) {
            // several Content-Length values (the listener refuses them first)
            request.abortWith(JsonErrors.error(400, "the Content-Length header must be one non-negative number"));
            return;
        }
        if (length > limit) {
            request.abortWith(JsonErrors.error(413, new BodyTooLargeException(limit).getMessage()));
            return;
        }
        if (request.hasEntity()) {
            request.setEntityStream(new Counting(request.getEntityStream(), limit, timeoutMillis));
        }
    }

    /** A body stream that fails past {@code limit} bytes or {@code timeoutMillis} (the direct path's, as above). */
    static InputStream limited(InputStream in, long limit, long timeoutMillis) {
        return new Counting(in, limit, timeoutMillis);
    }

    private static final class Counting extends FilterInputStream {
        private final long limit;
        private final long timeoutMillis;
        private final long deadline;
        private long count;

        Counting(InputStream in, long limit, long timeoutMillis) {
            super(in);
            this.limit = limit;
            this.timeoutMillis = timeoutMillis;
            this.deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                add(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            if (n > 0) {
                add(n);
            }
            return n;
        }

        private void add(long n) throws IOException {
            if (timeoutMillis > 0 && System.nanoTime() - deadline > 0) {
                throw new BodyTimeoutException("the request body took longer than " + timeoutMillis
                        + " ms to arrive");
            }
            count += n;
            if (count > limit) {
                throw new BodyTooLargeException(limit);
            }
        }
    }
}
