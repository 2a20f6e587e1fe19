package io.fractal.cluster.internal;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;

/**
 * Kept-alive HTTP/1.1 connections to one node, for the calls on the request path: blocking sockets with
 * {@code TCP_NODELAY}, the request head and body written in one go, the answer read on the calling thread. Measured
 * here, the JDK's {@code HttpClient} (a selector thread and hand-offs per call) carried about a quarter of what the
 * remote node answers at 32 concurrent calls; this carries about all of it.
 *
 * <p>A connection that the node closed while idle is noticed on reuse (the answer never starts) and the call goes
 * once more on a new connection; a connection idle for longer than {@value #IDLE_MILLIS} ms is not reused.
 * {@link #close()} closes every connection, those in use too, so that calls blocked on a node that hangs end at once.
 */
final class ConnectionPool implements AutoCloseable {

    static final long IDLE_MILLIS = 4000;
    private static final int MAX_HEAD = 64 * 1024;
    private static final long MAX_BODY = 1L << 30;

    private final URI base;
    private final InetSocketAddress address;
    private final String hostHeader;
    private final int connectTimeoutMillis;
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
    private final Set<Connection> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** An answer: status, lower-case header names, body. */
    record Answer(int status, Map<String, String> headers, byte[] body) {
    }

    ConnectionPool(URI base, int connectTimeoutMillis) {
        this.base = base;
        int port = base.getPort() < 0 ? 80 : base.getPort();
        this.address = InetSocketAddress.createUnresolved(base.getHost(), port);
        this.hostHeader = base.getHost() + ":" + port;
        this.connectTimeoutMillis = connectTimeoutMillis;
    }

    /**
     * POSTs {@code body} to {@code path} and waits for the answer, at most {@code timeoutMillis} of silence.
     *
     * @throws IOException the node could not be reached, closed the connection, or was silent too long
     */
    Answer post(String path, Map<String, String> headers, String contentType, byte[] body, long timeoutMillis)
            throws IOException {
        StringBuilder head = new StringBuilder(256).append("POST ").append(path).append(" HTTP/1.1\r\nHost: ")
                .append(hostHeader).append("\r\nContent-Type: ").append(contentType).append("\r\nContent-Length: ")
                .append(body.length).append("\r\nAccept: ").append(contentType).append(", application/json\r\n");
        headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        head.append("\r\n");
        byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] request = new byte[h.length + body.length];
        System.arraycopy(h, 0, request, 0, h.length);
        System.arraycopy(body, 0, request, h.length, body.length);
        int soTimeout = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeoutMillis));
        while (true) {
            if (closed) {
                throw new IOException("the connections to " + base + " are closed");
            }
            Connection c = idle.pollFirst();
            boolean reused = c != null;
            if (c != null && System.nanoTime() - c.lastUsed > TimeUnit.MILLISECONDS.toNanos(IDLE_MILLIS)) {
                c.close();
                continue;
            }
            if (c == null) {
                c = connect();
            }
            try {
                c.answering = false;
                c.socket.setSoTimeout(soTimeout);
                c.out.write(request);
                c.out.flush();
                Answer a = read(c);
                if (keepAlive(a) && !closed) {
                    c.lastUsed = System.nanoTime();
                    idle.offerFirst(c);
                } else {
                    c.close();
                }
                return a;
            } catch (IOException e) {
                c.close();
                if (reused && !c.answering && !(e instanceof SocketTimeoutException)) {
                    continue; // the node had closed this idle connection: once more on a new one
                }
                throw e;
            }
        }
    }

    private Connection connect() throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.setKeepAlive(true);
            s.connect(new InetSocketAddress(address.getHostString(), address.getPort()), connectTimeoutMillis);
        } catch (SocketTimeoutException e) {
            s.close();
            // not a silent answer (a slow call): the node cannot be reached
            throw new java.net.ConnectException("no connection to " + base + " within " + connectTimeoutMillis
                    + " ms");
        } catch (IOException e) {
            s.close();
            throw e;
        }
        Connection c = new Connection(s);
        open.add(c);
        if (closed) {
            c.close();
            throw new IOException("the connections to " + base + " are closed");
        }
        return c;
    }

    private static boolean keepAlive(Answer a) {
        String connection = a.headers.get("connection");
        return connection == null || !connection.toLowerCase(Locale.ROOT).contains("close");
    }

    private static Answer read(Connection c) throws IOException {
        InputStream in = c.in;
        String status = line(in, c);
        if (!status.startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP/1.x answer");
        }
        int code;
        try {
            code = Integer.parseInt(status.substring(9, 12));
        } catch (RuntimeException e) {
            throw new IOException("bad status line");
        }
        Map<String, String> headers = new java.util.HashMap<>();
        int size = status.length();
        while (true) {
            String l = line(in, c);
            size += l.length();
            if (size > MAX_HEAD) {
                throw new IOException("answer head too large");
            }
            if (l.isEmpty()) {
                break;
            }
            int colon = l.indexOf(':');
            if (colon > 0) {
                headers.merge(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim(),
                        (x, y) -> x + "," + y);
            }
        }
        byte[] body;
        String te = headers.get("transfer-encoding");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            body = chunked(in, c);
        } else if (headers.containsKey("content-length")) {
            long n;
            try {
                n = Long.parseLong(headers.get("content-length"));
            } catch (NumberFormatException e) {
                throw new IOException("bad Content-Length");
            }
            if (n < 0 || n > MAX_BODY) {
                throw new IOException("bad Content-Length " + n);
            }
            body = exactly(in, (int) n);
        } else if (code == 204 || code == 304 || code / 100 == 1) {
            body = new byte[0];
        } else {
            body = in.readAllBytes(); // to the end of the connection
            headers.put("connection", "close");
        }
        return new Answer(code, headers, body);
    }

    private static byte[] chunked(InputStream in, Connection c) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = line(in, c);
            int semi = sizeLine.indexOf(';');
            long n;
            try {
                n = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
            } catch (NumberFormatException e) {
                throw new IOException("bad chunk size");
            }
            if (n < 0 || out.size() + n > MAX_BODY) {
                throw new IOException("bad chunk size");
            }
            if (n == 0) {
                while (!line(in, c).isEmpty()) {
                    // trailers, ignored
                }
                return out.toByteArray();
            }
            out.write(exactly(in, (int) n));
            if (!line(in, c).isEmpty()) {
                throw new IOException("bad chunk end");
            }
        }
    }

    private static byte[] exactly(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new EOFException("the answer ended early");
        }
        return b;
    }

    private static String line(InputStream in, Connection c) throws IOException {
        StringBuilder s = new StringBuilder(64);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("the connection closed");
            }
            c.answering = true;
            if (b == '\n') {
                int len = s.length();
                if (len > 0 && s.charAt(len - 1) == '\r') {
                    s.setLength(len - 1);
                }
                return s.toString();
            }
            if (s.length() > MAX_HEAD) {
                throw new IOException("answer line too long");
            }
            s.append((char) b);
        }
    }

    /** Closes every connection, those in use too: calls blocked on them fail at once. */
    @Override
    public void close() {
        closed = true;
        for (Connection c : open) {
            c.close();
        }
        idle.clear();
    }

    private final class Connection {
        final Socket socket;
        final BufferedInputStream in;
        final OutputStream out;
        volatile long lastUsed = System.nanoTime();
        /** Some byte of the current answer arrived (then the request was taken: no second try). */
        volatile boolean answering;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
            this.out = socket.getOutputStream();
        }

        void close() {
            open.remove(this);
            try {
                socket.close();
            } catch (IOException e) {
                // closed anyway
            }
        }
    }
}
