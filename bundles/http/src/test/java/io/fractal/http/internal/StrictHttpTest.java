package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpHandlerRegistration;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The strict codec on a real Grizzly listener, over raw sockets: JSON answers to malformed heads, nothing else changed. */
class StrictHttpTest {

    private HttpServer server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        server = new HttpServer();
        NetworkListener listener = new NetworkListener("test", "127.0.0.1", port);
        listener.registerAddOn(new StrictHttp()); // as HttpListener registers them
        listener.registerAddOn(new IgnoreUpgrades());
        server.addListener(listener);
        server.getServerConfiguration().addHttpHandler(new HttpHandler() {
            @Override
            public void service(Request request, Response response) throws Exception {
                byte[] body = request.getInputStream().readAllBytes();
                String text = request.getMethod().getMethodString() + " " + request.getRequestURI() + " "
                        + body.length;
                response.setContentType("text/plain");
                response.getWriter().write(text);
            }
        }, HttpHandlerRegistration.ROOT);
        server.start();
    }

    @AfterEach
    void stop() {
        server.shutdownNow();
    }

    /** Sends the bytes in pieces of {@code piece} bytes, then reads until the server closes or 2 s pass. */
    private String exchange(String request, int piece, boolean closeOutput) throws IOException, InterruptedException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(2000);
            socket.setTcpNoDelay(true);
            OutputStream out = socket.getOutputStream();
            byte[] b = request.getBytes(StandardCharsets.ISO_8859_1);
            try {
                for (int i = 0; i < b.length; i += piece) {
                    out.write(b, i, Math.min(piece, b.length - i));
                    out.flush();
                    if (piece < b.length) {
                        Thread.sleep(2);
                    }
                }
                if (closeOutput) {
                    socket.shutdownOutput();
                }
            } catch (IOException e) {
                // the server answered and closed before the rest was sent
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            try {
                in.transferTo(answer);
            } catch (SocketTimeoutException e) {
                // keep-alive: what came is the answer
            }
            return answer.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static void assertJsonError(String answer, int status, String words) {
        assertTrue(answer.startsWith("HTTP/1.1 " + status + " "), answer);
        assertTrue(answer.contains("Content-Type: application/json"), answer);
        String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        assertTrue(body.startsWith("{\"error\":\"") && body.endsWith("\"}"), answer);
        assertTrue(body.contains(words), () -> body + " should say " + words);
    }

    @Test
    void servesWellFormedRequests() throws Exception {
        String a = exchange("POST /x%20y?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 1000, false);
        assertTrue(a.startsWith("HTTP/1.1 200") && a.endsWith("POST /x%20y 3"), a);
        // a byte at a time, two requests pipelined on one connection, an empty line before the second
        String two = exchange("GET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 1, false);
        assertTrue(two.contains("GET /a 0") && two.contains("POST /b 2"), two);
    }

    @Test
    void answersMalformedHeadsInJson() throws Exception {
        assertJsonError(exchange("GARBAGE\r\n\r\n", 1000, false), 400, "request line");
        assertJsonError(exchange("GARBAGE\r\n\r\n", 1, false), 400, "request line");
        assertJsonError(exchange("GET /\u0000 HTTP/1.1\r\nHost: x\r\n\r\n", 1000, false), 400, "0x00");
        assertJsonError(exchange("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 3, false), 400, "HTTP version");
        assertJsonError(exchange("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 1000, false), 505, "HTTP/9.9");
        String connect = exchange("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 1000, false);
        assertJsonError(connect, 405, "not a proxy");
        assertTrue(connect.contains("\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"), connect);
        assertJsonError(exchange("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 1000, false), 400,
                "header name");
        assertJsonError(exchange("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n", 1000, false), 400, "host name");
        assertJsonError(exchange("GET / HTTP/1.1\r\nHost: x\r\nExpect: garbage\r\n\r\n", 1000, false), 417,
                "100-continue");
        assertJsonError(exchange("\u0016\u0003\u0001\u0000\u00a5\u0001", 1000, false), 400, "TLS");
        // the second request on a connection
        String second = exchange("GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 1000,
                false);
        assertTrue(second.startsWith("HTTP/1.1 200") && second.contains("HTTP/1.1 400 Bad Request"), second);
    }

    /** What a hostile client sends is not the server's problem: Grizzly's filter chain logs no warning for it. */
    private final java.util.List<java.util.logging.LogRecord> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final java.util.logging.Handler collect = new java.util.logging.Handler() {
        @Override
        public void publish(java.util.logging.LogRecord r) {
            if (r.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
                warnings.add(r);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @Test
    void aBrokenChunkIsA400WithoutAWarning() throws Exception {
        java.util.logging.Logger grizzly = java.util.logging.Logger.getLogger("org.glassfish.grizzly");
        grizzly.addHandler(collect);
        try {
            assertJsonError(exchange("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1000,
                    true), 400, "chunked");
            String later = exchange("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
                    + "zz\r\n", 40, true);
            assertTrue(later.isEmpty() || later.startsWith("HTTP/1.1 400") || later.startsWith("HTTP/1.1 200"), later);
            assertEquals(java.util.List.of(), warnings.stream().map(r -> r.getMessage()).toList());
        } finally {
            grizzly.removeHandler(collect);
        }
    }

    @Test
    void theCodecsOwnErrorsAreJson() throws Exception {
        assertJsonError(exchange("GET / HTTP/1.1\r\n\r\n", 1000, false), 400, "Host header");
        assertJsonError(exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 1000, false), 400,
                "Content-Length");
        assertJsonError(exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
                + "hello", 1000, false), 400, "Content-Length");
        assertJsonError(exchange("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 1000, false), 400,
                "take no body");
        assertJsonError(exchange("GET / HTTP/1.1\r\nHost: x\r\nX: " + "y".repeat(9000) + "\r\n\r\n", 1000, false),
                400, "larger than");
        assertJsonError(exchange("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1000,
                true), 400, "chunked");
    }

    /**
     * A refused request whose body is still coming gets its answer: the server stops sending (FIN) and drops the
     * rest rather than reset the connection, which would lose the answer before the client reads it.
     */
    @Test
    void aRefusedRequestWithALargeBodyStillGetsItsAnswer() throws Exception {
        String big = "x".repeat(1_000_000);
        assertJsonError(exchange("POST /%zz HTTP/1.1\r\nHost: x\r\nContent-Length: " + big.length() + "\r\n\r\n"
                + big, 1_000_000, false), 400, "percent-escape");
        assertJsonError(exchange("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: " + big.length() + "\r\n\r\n"
                + big, 1_000_000, false), 400, "take no body");
        assertJsonError(exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: "
                + big.length() + "\r\n\r\n" + big, 1_000_000, false), 400, "Content-Length");
    }

    @Test
    void aRequestLineTooLargeIsAnsweredAsHttp11() throws Exception {
        String a = exchange("GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 100_000, false);
        assertJsonError(a, 400, "larger than 8192 bytes");
    }

    @Test
    void http12IsServedAsHttp11() throws Exception {
        String a = exchange("POST /v HTTP/1.2\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", 1000, false);
        assertTrue(a.startsWith("HTTP/1.1 200") && a.endsWith("POST /v 2"), a);
    }

    @Test
    void oneAnswerThenTheConnectionCloses() throws Exception {
        String a = exchange("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 1000, false);
        assertEquals(a.indexOf("HTTP/1.1"), a.lastIndexOf("HTTP/1.1"), a);
        assertTrue(a.contains("Connection: close"), a);
    }
}
