package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.rest.HttpApplication;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpHandlerRegistration;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The stable handler on a real Grizzly listener: switching, draining, holding and redispatching requests. */
class DelegatingHandlerTest {

    private final DelegatingHandler handler = new DelegatingHandler(2000);
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private HttpServer server;
    private URI base;

    @BeforeEach
    void start() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        server = new HttpServer();
        server.addListener(new NetworkListener("test", "127.0.0.1", port));
        server.getServerConfiguration().addHttpHandler(handler, HttpHandlerRegistration.ROOT);
        server.start();
        base = URI.create("http://127.0.0.1:" + port + "/");
    }

    @AfterEach
    void stop() {
        server.shutdownNow();
    }

    private CompletableFuture<HttpResponse<String>> get(String path) {
        return client.sendAsync(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Answers its name; with {@code gate}, suspends and answers once the gate opens (an asynchronous answer). */
    private static HttpHandler named(String name, CountDownLatch gate) {
        return new HttpHandler() {
            @Override
            public void service(Request request, Response response) throws Exception {
                if (gate == null) {
                    response.getWriter().write(name);
                    return;
                }
                response.suspend();
                new Thread(() -> {
                    try {
                        gate.await();
                        response.getWriter().write(name);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    } finally {
                        response.resume();
                    }
                }).start();
            }
        };
    }

    @Test
    void theHighestRankingHandlerServes() throws Exception {
        handler.add(named("one", null), 1, 10);
        assertEquals("one", get("x").get().body());
        handler.add(named("two", null), 2, 11);
        assertEquals("two", get("x").get().body());
    }

    @Test
    void aReplacedHandlerFinishesItsRequestsBeforeItsRemovalReturns() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        HttpHandler old = named("old", gate);
        handler.add(old, 1, 10);
        CompletableFuture<HttpResponse<String>> inFlight = get("slow");
        await(() -> handler.inFlight() == 1);
        handler.add(named("new", null), 2, 11);
        assertEquals("new", get("x").get().body(), "new requests go to the new handler at once");

        CompletableFuture<Integer> removal = CompletableFuture.supplyAsync(() -> {
            try {
                return handler.remove(old, 5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(200);
        assertTrue(!removal.isDone(), "removal waits for the request the old handler holds");
        gate.countDown();
        assertEquals("old", inFlight.get().body(), "the request in flight finishes on the old handler");
        assertEquals(0, removal.get(5, TimeUnit.SECONDS));
        assertEquals(0, handler.inFlight());
    }

    @Test
    void aRequestWaitsForAHandlerWhileNoneIsRegistered() throws Exception {
        CompletableFuture<HttpResponse<String>> held = get("x");
        Thread.sleep(300);
        assertTrue(!held.isDone(), "held while no application is registered");
        handler.add(named("late", null), 0, 1);
        HttpResponse<String> answer = held.get(5, TimeUnit.SECONDS);
        assertEquals(200, answer.statusCode());
        assertEquals("late", answer.body());
    }

    @Test
    void withoutAHandlerAfterTheHoldTheAnswerIs503Json() throws Exception {
        handler.setHoldMillis(100);
        HttpResponse<String> answer = get("x").get(5, TimeUnit.SECONDS);
        assertEquals(503, answer.statusCode());
        assertEquals("application/json", answer.headers().firstValue("Content-Type").orElse("").split(";")[0]);
        assertEquals("1", answer.headers().firstValue("Retry-After").orElse(""));
        assertTrue(answer.body().startsWith("{\"error\":\"the HTTP application is not available"), answer.body());
    }

    @Test
    void aDeclinedRequestGoesToTheHandlerRegisteredNow() throws Exception {
        HttpHandler declining = new HttpHandler() {
            @Override
            public void service(Request request, Response response) {
                handler.add(named("successor", null), 2, 11);
                ((java.util.concurrent.atomic.AtomicBoolean) request.getAttribute(HttpApplication.REDISPATCH)).set(true);
            }
        };
        handler.add(declining, 1, 10);
        assertEquals("successor", get("x").get(5, TimeUnit.SECONDS).body());
        assertEquals(0, handler.remove(declining, 1, TimeUnit.SECONDS), "the declined request was released");
    }

    @Test
    void aRequestDeclinedAgainAndAgainGetsA503NotAnEmptyAnswer() throws Exception {
        handler.add(new HttpHandler() {
            @Override
            public void service(Request request, Response response) {
                ((java.util.concurrent.atomic.AtomicBoolean) request.getAttribute(HttpApplication.REDISPATCH)).set(true);
            }
        }, 0, 1);
        HttpResponse<String> answer = get("x").get(5, TimeUnit.SECONDS);
        assertEquals(503, answer.statusCode());
        assertTrue(answer.body().startsWith("{\"error\":"), answer.body());
        assertEquals(0, handler.inFlight());
    }

    /**
     * Answers completed on another thread at once race with the listener's own thread returning from the handler:
     * the listener must not touch a request after that (it may already serve another connection).
     */
    @Test
    void asynchronousAnswersRacingTheHandlersReturnAreNeverLostOrMixed() throws Exception {
        java.util.concurrent.ExecutorService async = java.util.concurrent.Executors.newFixedThreadPool(2);
        // Grizzly reports a request touched after it was recycled as a warning (GRIZZLY0029) and may close or mix up
        // the connection: count its warnings.
        java.util.logging.Logger grizzly = java.util.logging.Logger.getLogger("org.glassfish.grizzly");
        java.util.concurrent.atomic.AtomicInteger warnings = new java.util.concurrent.atomic.AtomicInteger();
        java.util.logging.Handler counter = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                if (record.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
                    warnings.incrementAndGet();
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        grizzly.addHandler(counter);
        try {
            handler.add(new HttpHandler() {
                @Override
                public void service(Request request, Response response) {
                    String path = request.getRequestURI();
                    response.suspend();
                    async.execute(() -> {
                        try {
                            response.getWriter().write(path);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        } finally {
                            response.resume();
                        }
                    });
                }
            }, 0, 1);
            java.util.List<CompletableFuture<Void>> clients = new java.util.ArrayList<>();
            java.util.concurrent.atomic.AtomicInteger wrong = new java.util.concurrent.atomic.AtomicInteger();
            for (int c = 0; c < 8; c++) {
                int client = c;
                clients.add(CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < 500; i++) {
                        String path = "/c" + client + "/r" + i;
                        try {
                            HttpResponse<String> r = get(path.substring(1)).get(10, TimeUnit.SECONDS);
                            if (r.statusCode() != 200 || !path.equals(r.body())) {
                                wrong.incrementAndGet();
                            }
                        } catch (Exception e) {
                            wrong.incrementAndGet();
                        }
                    }
                }));
            }
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            assertEquals(0, wrong.get(), "answers lost, failed or mixed up among 4000");
            assertEquals(0, warnings.get(), "Grizzly warnings (a request touched after it was recycled)");
            await(() -> handler.inFlight() == 0);
        } finally {
            grizzly.removeHandler(counter);
            async.shutdownNow();
        }
    }

    private static void await(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "condition not met in 5 s");
            Thread.sleep(5);
        }
    }
}
