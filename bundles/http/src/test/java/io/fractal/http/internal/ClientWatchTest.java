package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.rest.ClientConnection;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpHandlerRegistration;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client that closes its connection while its request waits for an asynchronous answer is noticed, on a real
 * Grizzly listener; a client that sends its next request meanwhile, or waits, is not, and gets every answer.
 */
class ClientWatchTest {

    private final DelegatingHandler handler = new DelegatingHandler(2000);
    private final AtomicInteger gone = new AtomicInteger();
    private final Queue<Response> suspended = new ConcurrentLinkedQueue<>();
    private final Queue<Boolean> watched = new ConcurrentLinkedQueue<>();
    private ClientWatch watch;
    private HttpServer server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        watch = new ClientWatch("test-clients");
        handler.setClientWatch(watch);
        // reads the body, asks to be told when the client goes, and answers when the test says
        handler.add(new HttpHandler() {
            @Override
            public void service(Request request, Response response) throws Exception {
                request.getInputStream().readAllBytes();
                watched.add(ClientConnection.onClose(gone::incrementAndGet));
                response.suspend();
                suspended.add(response);
            }
        }, 0, 1);
        server = new HttpServer();
        server.addListener(new NetworkListener("test", "127.0.0.1", port));
        server.getServerConfiguration().addHttpHandler(handler, HttpHandlerRegistration.ROOT);
        server.start();
    }

    @AfterEach
    void stop() {
        answerAll();
        server.shutdownNow();
        watch.stop();
    }

    private void answerAll() {
        while (answerOne()) {
            // the next
        }
    }

    /**
     * Answers the request that waits longest, if any. (A pipelined request behind it may be served, and suspended,
     * on this thread before this returns.)
     */
    private boolean answerOne() {
        Response r = suspended.poll();
        if (r == null) {
            return false;
        }
        try {
            r.getWriter().write("ok");
        } catch (IOException | RuntimeException e) {
            // the client left
        }
        r.resume();
        return true;
    }

    private static String post(String path) {
        return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    }

    private Socket connect() throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(5000);
        return s;
    }

    private void awaitSuspended(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (suspended.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(n, suspended.size());
    }

    /** Reads one answer (Content-Length bodies only) and returns its status line. */
    private static String answer(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("closed after " + head);
            }
            head.append((char) c);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        in.readNBytes(length);
        return head.substring(0, head.indexOf("\r\n"));
    }

    @Test
    void aClientThatClosesWhileItsRequestWaitsIsNoticedAtOnce() throws Exception {
        Socket s = connect();
        s.getOutputStream().write(post("/a").getBytes(StandardCharsets.US_ASCII));
        awaitSuspended(1);
        assertEquals(List.of(true), List.copyOf(watched));
        Thread.sleep(2 * ClientWatch.TICK_MS);
        assertEquals(0, gone.get(), "the client is still there");
        long closed = System.nanoTime();
        s.close();
        while (gone.get() == 0 && System.nanoTime() - closed < TimeUnit.SECONDS.toNanos(2)) {
            Thread.sleep(2);
        }
        assertEquals(1, gone.get());
        assertTrue(System.nanoTime() - closed < TimeUnit.MILLISECONDS.toNanos(500));
    }

    @Test
    void aClientThatClosesRightAfterSendingIsNoticedOnceItsRequestWaitedATick() throws Exception {
        Socket s = connect();
        s.getOutputStream().write(post("/a").getBytes(StandardCharsets.US_ASCII));
        awaitSuspended(1);
        s.close();
        Thread.sleep(4 * ClientWatch.TICK_MS + 200);
        assertEquals(1, gone.get());
    }

    @Test
    void pipelinedAndKeepAliveRequestsAreAnsweredAndNeverTakenForGone() throws Exception {
        try (Socket s = connect()) {
            InputStream in = s.getInputStream();
            // the next request arrives while the first waits: its bytes stay in the socket for Grizzly
            s.getOutputStream().write(post("/1").getBytes(StandardCharsets.US_ASCII));
            awaitSuspended(1);
            Thread.sleep(2 * ClientWatch.TICK_MS);
            s.getOutputStream().write(post("/2").getBytes(StandardCharsets.US_ASCII));
            Thread.sleep(2 * ClientWatch.TICK_MS);
            answerOne();
            assertEquals("HTTP/1.1 200 OK", answer(in));
            awaitSuspended(1);
            Thread.sleep(2 * ClientWatch.TICK_MS);
            answerOne();
            assertEquals("HTTP/1.1 200 OK", answer(in));
            // two in one write: the second waits in Grizzly's buffer
            s.getOutputStream().write((post("/3") + post("/4")).getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < 2; i++) {
                awaitSuspended(1);
                Thread.sleep(2 * ClientWatch.TICK_MS);
                answerOne();
                assertEquals("HTTP/1.1 200 OK", answer(in));
            }
        }
        Thread.sleep(2 * ClientWatch.TICK_MS); // closed once every answer came: nobody is gone
        assertEquals(0, gone.get());
    }

    @Test
    void outsideARequestNothingIsWatched() {
        assertFalse(ClientConnection.onClose(gone::incrementAndGet));
    }
}
