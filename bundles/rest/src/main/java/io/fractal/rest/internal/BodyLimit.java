package io.fractal.rest.internal;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.PreMatching;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Refuses bodies over the limit: at once when the length is declared, while reading when it is chunked. */
@PreMatching
final class BodyLimit implements ContainerRequestFilter {

    private final long limit;

    BodyLimit(long limit) {
        this.limit = limit;
    }

    @Override
    public void filter(ContainerRequestContext request) throws IOException {
        if (request.getLength() > limit) {
            request.abortWith(JsonErrors.error(413, new BodyTooLargeException(limit).getMessage()));
            return;
        }
        if (request.hasEntity()) {
            request.setEntityStream(new Counting(request.getEntityStream(), limit));
        }
    }

    private static final class Counting extends FilterInputStream {
        private final long limit;
        private long count;

        Counting(InputStream in, long limit) {
            super(in);
            this.limit = limit;
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
            count += n;
            if (count > limit) {
                throw new BodyTooLargeException(limit);
            }
        }
    }
}
