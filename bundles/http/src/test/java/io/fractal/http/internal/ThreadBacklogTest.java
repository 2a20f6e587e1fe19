package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.concurrent.ThreadBacklog;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.glassfish.grizzly.IOStrategy;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpHandlerRegistration;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.glassfish.grizzly.strategies.SameThreadIOStrategy;
import org.glassfish.grizzly.strategies.WorkerThreadIOStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * On a real Grizzly listener that serves each request on the selector thread that read it, the code a request runs
 * learns how many other connections wait for that thread ({@link ThreadBacklog}); on a pool thread it learns nothing.
 */
class ThreadBacklogTest {

    private static final int OTHERS = 4;

    private final DelegatingHandler handler = new DelegatingHandler(2000);
    private final Map<String, Integer> waiting = new ConcurrentHashMap<>();
    private final CountDownLatch slowIn = new CountDownLatch(1);
    private final CountDownLatch othersSent = new CountDownLatch(1);
    private HttpServer server;
    private int port;

    private void start(IOStrategy strategy) throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // records what each request learns; "/slow" holds its thread until the others' requests have come
        handler.add(new HttpHandler() {
            @Override
            public void service(Request request, Response response) throws Exception {
                waiting.put(request.getRequestURI(), ThreadBacklog.waiting());
                if (request.getRequestURI().equals("/slow")) {
                    slowIn.countDown();
                    othersSent.await(5, TimeUnit.SECONDS);
                    Thread.sleep(50); // their bytes are in the server's sockets by now
                }
                response.setContentLength(2);
                response.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
            }
        }, 0, 1);
        server = new HttpServer();
        NetworkListener listener = new NetworkListener("test", "127.0.0.1", port);
        listener.getTransport().setIOStrategy(strategy);
        listener.getTransport().setSelectorRunnersCount(1);
        server.addListener(listener);
        server.getServerConfiguration().addHttpHandler(handler, HttpHandlerRegistration.ROOT);
        server.start();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.shutdownNow();
        }
    }

    /** Sends "/slow" on one connection and, while it runs, a request on each of the others; every one answered. */
    private void slowOneThenOthers() throws Exception {
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i <= OTHERS; i++) {
                Socket s = new Socket("127.0.0.1", port);
                s.setSoTimeout(5000);
                sockets.add(s);
                send(s, "/warm" + i); // accepted and registered with the selector before the test proper
                assertEquals("ok", answer(s));
            }
            send(sockets.get(0), "/slow");
            assertTrue(slowIn.await(5, TimeUnit.SECONDS));
            for (int i = 1; i <= OTHERS; i++) {
                send(sockets.get(i), "/other" + i);
            }
            othersSent.countDown();
            for (Socket s : sockets) {
                assertEquals("ok", answer(s));
            }
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void aRequestServedOnTheSelectorThreadLearnsHowManyOthersWaitForIt() throws Exception {
        start(SameThreadIOStrategy.getInstance());
        slowOneThenOthers();
        assertEquals(0, waiting.get("/slow"), waiting.toString()); // alone in its round
        for (int i = 1; i <= OTHERS; i++) {
            // the four came while "/slow" held the thread: the next round finds them all ready
            int w = waiting.get("/other" + i);
            assertTrue(w >= 1 && w <= OTHERS - 1, waiting.toString());
        }
        assertEquals(-1, ThreadBacklog.waiting()); // outside a request: nothing to say
    }

    @Test
    void aRequestServedOnAPoolThreadLearnsNothing() throws Exception {
        start(WorkerThreadIOStrategy.getInstance());
        slowOneThenOthers();
        waiting.forEach((uri, w) -> assertEquals(-1, w, uri));
        assertEquals(2 * OTHERS + 2, waiting.size());
    }

    private static void send(Socket s, String path) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** The body of the next answer on the connection (a 2-byte body, Content-Length framed). */
    private static String answer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + head);
            }
            head.append((char) b);
        }
        assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
        return new String(in.readNBytes(2), StandardCharsets.US_ASCII);
    }
}
