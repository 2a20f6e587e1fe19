package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.repository.ModelArtifact;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceRegistration;

/**
 * The queue never holds work nobody waits for (issue 10, item 4): a client that closes its connection while its
 * prediction is queued takes the prediction with it, at once rather than at its deadline, and it never runs; the
 * other clients are served as before, including keep-alive clients that send their next request on the same
 * connection while the first is still being answered (pipelining). Clients here are raw sockets, so that the test
 * decides exactly when a connection closes. And a slow model holds up no other client: its requests run on the
 * modelhost's workers, never on the listener's I/O thread that read them, which serves other connections too. The
 * server has ONE modelhost, {@code solo}, with one worker, and a test engine whose models sleep for the number of
 * milliseconds their file holds.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ClientDisconnectIT extends ModelHostTestSupport {

    private static final String SOLO = "solo";
    private static final long NAP_MILLIS = 1500;
    private static final long QUICK_MILLIS = 300;
    /** Far from any wait in this test: a request dropped at its deadline would be seen as not dropped. */
    private static final String DEADLINE_MILLIS = "20000";
    private static final String V1 = "/api/v1/models/%s/prediction";
    private static final String V1_ROUTE = "/api/v1/models/{model}/prediction";
    private static final String V1_BODY = "{\"values\": [1, 2, 3]}";
    private static final String V2_BODY = "{\"inputs\": [{\"name\": \"x\", \"shape\": [3], \"datatype\": \"FP32\", "
            + "\"data\": [1, 2, 3]}]}";

    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), serverWithModelhosts(List.of(new HostConfig(SOLO, 1, 16, "*")), Map.of()),
                testLibraries());
    }

    @Test
    public void clientsThatLeaveTakeTheirQueuedRequestsWithThemAndOthersAreServed() throws Exception {
        awaitServer();
        NapEngine engine = new NapEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        List<RawClient> clients = new ArrayList<>();
        try {
            deployNap("nap", NAP_MILLIS);
            NapModel model = engine.model(NAP_MILLIS);
            double droppedBefore = dropped();
            Exposition metricsBefore = metrics();

            // one runs, one waits for it, three clients that will leave (two v1, one v2) wait behind, and one more.
            // (A model this slow never runs on its caller's thread: the first runs on the worker, the others
            // queue.)
            long start = System.nanoTime();
            RawClient busy = client(clients).send(v1("nap"));
            await("the first request runs").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                    .until(() -> modelhost(SOLO).path("in_flight").asInt() == 1);
            RawClient next = client(clients).send(v1("nap"));
            awaitWaiting(2);
            List<RawClient> leaving = new ArrayList<>();
            leaving.add(client(clients).send(v1("nap")));
            leaving.add(client(clients).send(v2("nap")));
            leaving.add(client(clients).send(v1("nap")));
            RawClient last = client(clients).send(v1("nap"));
            awaitWaiting(6);
            Thread.sleep(100); // queued for a while, as a client that gives up would be

            long closed = System.nanoTime();
            for (RawClient c : leaving) {
                c.close();
            }
            await("the three abandoned requests leave the queue").atMost(Duration.ofSeconds(3))
                    .pollInterval(Duration.ofMillis(10)).until(() -> dropped() == droppedBefore + 3);
            long droppedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closed);
            long sinceStartMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            JsonNode host = modelhost(SOLO);
            System.out.println("CLIENT DISCONNECT: 3 queued requests dropped " + droppedAfterMs + " ms after their "
                    + "clients closed (deadline " + DEADLINE_MILLIS + " ms), " + sinceStartMs + " ms after the "
                    + "first request started (" + NAP_MILLIS + " ms); solo now " + host);
            assertTrue("dropped " + droppedAfterMs + " ms after the clients left", droppedAfterMs < 1000);
            assertTrue("dropped while the first request still ran: " + sinceStartMs + " ms", sinceStartMs < NAP_MILLIS);
            assertEquals("the first and the two clients that stayed are still there: " + host, 3,
                    host.path("in_flight").asInt() + host.path("queued").asInt());

            for (RawClient c : List.of(busy, next, last)) {
                Answer a = c.read();
                assertEquals(a.toString(), 200, a.status);
                assertTrue(a.toString(), a.body.contains("\"modelhost\":\"" + SOLO + "\""));
            }
            long lastMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            // three naps: had the three abandoned requests run, three more
            assertTrue("the last client was answered after " + lastMs + " ms", lastMs < 5 * NAP_MILLIS);
            assertEquals("only the requests whose clients waited reached the model", 3, model.predictions.get());
            Thread.sleep(200);
            assertEquals("nothing ran afterwards", 3, model.predictions.get());
            assertEquals(droppedBefore + 3, dropped(), 0.0);

            Exposition after = metrics();
            assertEquals("499 (client closed request) on v1: " + after.linesOf("fractal_http_requests_total"),
                    2.0, gone(after, V1_ROUTE) - gone(metricsBefore, V1_ROUTE), 0.0);
            assertEquals("499 in all: " + after.linesOf("fractal_http_requests_total"), 3.0,
                    after.sum("fractal_http_requests_total", "status", "499")
                            - metricsBefore.sum("fractal_http_requests_total", "status", "499"), 0.0);
            assertEquals("no 5xx: " + after.linesOf("fractal_http_requests_total"),
                    fiveHundreds(metricsBefore), fiveHundreds(after), 0.0);
        } finally {
            clients.forEach(RawClient::close);
            undeployNap("nap");
            registration.unregister();
        }
    }

    @Test
    public void keepAliveAndPipelinedClientsGetEveryAnswer() throws Exception {
        awaitServer();
        NapEngine engine = new NapEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        List<RawClient> clients = new ArrayList<>();
        try {
            deployNap("quick", QUICK_MILLIS);
            NapModel model = engine.model(QUICK_MILLIS);
            double droppedBefore = dropped();

            // keep-alive, one after the other: each request waits longer than the watcher's tick
            RawClient sequential = client(clients);
            for (int i = 0; i < 3; i++) {
                Answer a = sequential.send(v1("quick")).read();
                assertEquals("answer " + i + " on one connection: " + a, 200, a.status);
            }
            // two requests in one write: the second is in the server's buffer while the first is answered
            RawClient together = client(clients);
            together.send(v1("quick") + v1("quick"));
            for (int i = 0; i < 2; i++) {
                Answer a = together.read();
                assertEquals("pipelined answer " + i + ": " + a, 200, a.status);
            }
            // the second request sent while the first waits for its answer: its bytes sit in the socket, unread
            RawClient later = client(clients);
            later.send(v1("quick"));
            Thread.sleep(QUICK_MILLIS / 2);
            later.send(v2("quick"));
            Answer a1 = later.read();
            Answer a2 = later.read();
            assertEquals("first of two on one connection: " + a1, 200, a1.status);
            assertEquals("second, sent while the first ran: " + a2, 200, a2.status);
            assertTrue(a2.toString(), a2.body.contains("\"outputs\""));
            // and the connection still serves
            Answer a3 = later.send(v1("quick")).read();
            assertEquals(a3.toString(), 200, a3.status);

            assertEquals("every request ran", 3 + 2 + 3, model.predictions.get());
            assertEquals("nothing dropped", droppedBefore, dropped(), 0.0);
        } finally {
            clients.forEach(RawClient::close);
            undeployNap("quick");
            registration.unregister();
        }
    }

    /**
     * Kept-alive clients mixing every kind of prediction call, the way real clients write them: the headers in one
     * write and the body in the next (so that a body may arrive after its request was dispatched, to be read on a
     * worker thread), one request at a time or several pipelined. Direct calls (plain headers) and JAX-RS ones (an
     * Accept of octet-stream) share connections, and the model (2 ms, slower than a caller's thread may take) runs on
     * the modelhost's workers, so each answer is suspended and written from another thread. Every request gets its
     * answer. Before, the listener could read a connection again while a worker was reading a body from it, and
     * that request waited for the read timeout (408) or for ever; or a pipelined JAX-RS answer that was suspended
     * let the connection be read under it.
     */
    @Test
    public void keptAliveClientsMixingCallsAndSplittingBodiesGetEveryAnswer() throws Exception {
        awaitServer();
        NapEngine engine = new NapEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        List<RawClient> clients = new CopyOnWriteArrayList<>();
        try {
            deployNap("brief", 2);
            NapModel model = engine.model(2);
            String[][] kinds = {
                    {String.format(Locale.ROOT, V1, "brief"), V1_BODY, null},
                    {String.format(Locale.ROOT, V1, "brief"), V1_BODY, "application/json, application/octet-stream"},
                    {"/v2/models/brief/infer", V2_BODY, null},
                    {"/v2/models/brief/infer", V2_BODY, "application/octet-stream"}};
            int connections = 3;
            int rounds = 200;
            AtomicInteger answered = new AtomicInteger();
            AtomicInteger resent = new AtomicInteger();
            List<String> failures = new CopyOnWriteArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < connections; t++) {
                long seed = 7919L * (t + 1);
                Thread thread = new Thread(() -> {
                    Random random = new Random(seed);
                    try {
                        RawClient c = client(clients);
                        for (int r = 0; r < rounds && failures.isEmpty(); r++) {
                            List<String[]> pending = new ArrayList<>();
                            for (int i = 1 + random.nextInt(3); i > 0; i--) {
                                pending.add(kinds[random.nextInt(kinds.length)]);
                            }
                            while (!pending.isEmpty()) {
                                for (String[] k : pending) {
                                    String[] parts = requestParts(k[0], k[1], k[2]);
                                    if (random.nextBoolean()) {
                                        c.send(parts[0]);
                                        Thread.sleep(random.nextInt(2));
                                        c.send(parts[1]);
                                    } else {
                                        c.send(parts[0] + parts[1]);
                                    }
                                }
                                while (!pending.isEmpty()) {
                                    String[] k = pending.remove(0);
                                    Answer a = c.read();
                                    if (a.status != 200) {
                                        failures.add("round " + r + ", " + k[0] + (k[2] == null ? "" : " (Accept: "
                                                + k[2] + ")") + ": " + a);
                                        return;
                                    }
                                    answered.incrementAndGet();
                                    if (a.closing) { // the connection's last answer (its request limit): the
                                        c = client(clients); // requests sent after it go again on a new one
                                        resent.addAndGet(pending.size());
                                        break;
                                    }
                                }
                            }
                        }
                    } catch (Exception e) {
                        failures.add("after " + answered.get() + " answers: " + e);
                    }
                });
                thread.start();
                threads.add(thread);
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(120));
            }
            System.out.println("MIXED CALLS: " + answered.get() + " answers to " + connections
                    + " kept-alive clients (" + resent.get() + " requests sent again after a connection's last "
                    + "answer), " + model.predictions.get() + " predictions run, failures " + failures);
            assertTrue("every request answered: " + failures, failures.isEmpty());
            // a request pipelined behind a connection's last answer may have run, its answer never sent
            int ran = model.predictions.get();
            assertTrue("every answered request ran, once: " + ran + " runs for " + answered.get() + " answers and "
                    + resent.get() + " requests sent again", ran >= answered.get()
                    && ran <= answered.get() + resent.get());
        } finally {
            clients.forEach(RawClient::close);
            undeployNap("brief");
            registration.unregister();
        }
    }

    /**
     * Many clients pipelining at once, each write holding several requests, some answered where they were read (a
     * quick model, direct calls) and some handed to a worker (JAX-RS): every client gets its own answers, in order.
     * With Grizzly's default memory manager under the same-thread strategy, the bytes of requests waiting behind a
     * handed-off one were overwritten by other connections' reads: clients got other clients' answers (62 of 4,800
     * by hand), or none.
     */
    @Test
    public void pipeliningClientsGetTheirOwnAnswersInOrder() throws Exception {
        awaitServer();
        NapEngine engine = new NapEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        List<RawClient> clients = new CopyOnWriteArrayList<>();
        try {
            deployNap("instant", 0);
            Answer first = client(clients).send(v2("instant")).read(); // measured now: quick, served where it is read
            assertEquals(first.toString(), 200, first.status());
            int connections = 8;
            int rounds = 60;
            AtomicInteger answered = new AtomicInteger();
            List<String> failures = new CopyOnWriteArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < connections; t++) {
                int client = t;
                Thread thread = new Thread(() -> {
                    Random random = new Random(31L * (client + 1));
                    try {
                        for (int r = 0; r < rounds && failures.isEmpty(); r++) {
                            RawClient c = client(clients);
                            StringBuilder requests = new StringBuilder();
                            List<String> ids = new ArrayList<>();
                            for (int i = 0; i < 6; i++) {
                                String id = "c" + client + "-r" + r + "-i" + i;
                                ids.add(id);
                                String[] parts = requestParts("/v2/models/instant/infer", "{\"id\": \"" + id + "\", "
                                        + V2_BODY.substring(1), random.nextBoolean() ? "application/octet-stream" : null);
                                requests.append(parts[0]).append(parts[1]);
                            }
                            c.send(requests.toString()); // one write: the server reads them together
                            for (String id : ids) {
                                Answer a = c.read();
                                if (a.status() != 200 || !a.body().contains("\"id\":\"" + id + "\"")) {
                                    failures.add("client " + client + " expected the answer to " + id + ", got " + a);
                                    return;
                                }
                                answered.incrementAndGet();
                            }
                            c.close();
                        }
                    } catch (Exception e) {
                        failures.add("client " + client + " after " + answered.get() + " answers in all: " + e);
                    }
                });
                thread.start();
                threads.add(thread);
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(120));
            }
            System.out.println("PIPELINING CLIENTS: " + answered.get() + " answers to " + connections
                    + " clients, failures " + failures);
            assertTrue("every client got its own answers: " + failures, failures.isEmpty());
            assertEquals(connections * rounds * 6, answered.get());
        } finally {
            clients.forEach(RawClient::close);
            undeployNap("instant");
            registration.unregister();
        }
    }

    @Test
    public void aSlowModelHoldsUpNoOtherClient() throws Exception {
        awaitServer();
        NapEngine engine = new NapEngine();
        ServiceRegistration<InferenceEngine> registration = register(engine);
        List<RawClient> clients = new ArrayList<>();
        try {
            deployNap("slow", NAP_MILLIS);
            NapModel model = engine.model(NAP_MILLIS);
            Answer first = client(clients).send(v1("slow")).read(); // the host has measured the model now
            assertEquals(first.toString(), 200, first.status);
            // four predictions, each on its own connection (spread over the listener's I/O threads): one runs, the
            // others queue; none may hold the thread that read it
            long start = System.nanoTime();
            List<RawClient> napping = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                napping.add(client(clients).send(v1("slow")));
            }
            // meanwhile new clients, one after the other, ask whether the server is live, as a probe would
            long worst = 0;
            int asked = 0;
            while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(NAP_MILLIS)) {
                long sent = System.nanoTime();
                Answer a = client(clients).send("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").read();
                worst = Math.max(worst, System.nanoTime() - sent);
                asked++;
                assertEquals(a.toString(), 200, a.status);
                Thread.sleep(20);
            }
            long worstMs = TimeUnit.NANOSECONDS.toMillis(worst);
            System.out.println("SLOW MODEL: " + asked + " liveness probes on new connections while " + NAP_MILLIS
                    + " ms predictions ran and queued, the slowest answered in " + worstMs + " ms");
            assertTrue(asked + " probes, the slowest answered after " + worstMs + " ms", worstMs < NAP_MILLIS / 3);
            for (RawClient c : napping) {
                Answer a = c.read();
                assertEquals(a.toString(), 200, a.status);
            }
            assertEquals(5, model.predictions.get());
        } finally {
            clients.forEach(RawClient::close);
            undeployNap("slow");
            registration.unregister();
        }
    }

    // ---- helpers

    private RawClient client(List<RawClient> clients) throws IOException {
        RawClient c = new RawClient(new Socket("127.0.0.1", Integer.parseInt(property(REST_PORT))));
        clients.add(c);
        return c;
    }

    private static String v1(String model) {
        return request(String.format(Locale.ROOT, V1, model), V1_BODY);
    }

    private static String v2(String model) {
        return request("/v2/models/" + model + "/infer", V2_BODY);
    }

    private static String request(String path, String body) {
        String[] parts = requestParts(path, body, null);
        return parts[0] + parts[1];
    }

    /** A request's headers (with an Accept header unless null) and its body. */
    private static String[] requestParts(String path, String body, String accept) {
        return new String[] {"POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + (accept == null ? "" : "Accept: " + accept + "\r\n")
                + "X-Request-Timeout-Ms: " + DEADLINE_MILLIS + "\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n", body};
    }

    /** Waits until {@code n} predictions are running or queued on solo. */
    private void awaitWaiting(int n) {
        await(n + " requests running or queued").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> {
                    JsonNode host = modelhost(SOLO);
                    return host.path("in_flight").asInt() + host.path("queued").asInt() == n;
                });
    }

    private Exposition metrics() {
        return Exposition.parse(http().get("/metrics", "text/plain").body);
    }

    private double dropped() {
        return metrics().valueOr(0, "fractal_modelhost_dropped_total", "modelhost", SOLO);
    }

    private static double gone(Exposition metrics, String route) {
        return metrics.valueOr(0, "fractal_http_requests_total", "method", "POST", "route", route, "status", "499");
    }

    private static double fiveHundreds(Exposition metrics) {
        return metrics.samples("fractal_http_requests_total").stream()
                .filter(s -> s.labels().getOrDefault("status", "").startsWith("5")).mapToDouble(s -> s.value()).sum();
    }

    private ServiceRegistration<InferenceEngine> register(NapEngine engine) {
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(InferenceEngine.NAME, engine.name());
        return context.registerService(InferenceEngine.class, engine, properties);
    }

    private void deployNap(String name, long millis) throws Exception {
        deployBytes(Long.toString(millis).getBytes(StandardCharsets.UTF_8), name + ".nap");
        awaitReadyOn(name, SOLO);
    }

    private void undeployNap(String name) throws Exception {
        Files.deleteIfExists(deployFolder().resolve(name + ".nap"));
        await(name + " is undeployed").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> http().get("/api/v1/models/" + name).status == 404);
    }

    /** An HTTP/1.1 client on one socket: sends requests as given, reads answers in order. */
    static final class RawClient implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;

        RawClient(Socket socket) throws IOException {
            this.socket = socket;
            socket.setSoTimeout(15_000);
            socket.setTcpNoDelay(true);
            this.in = socket.getInputStream();
        }

        RawClient send(String requests) throws IOException {
            socket.getOutputStream().write(requests.getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            return this;
        }

        /** The next answer: status line, headers, then a body of its Content-Length or in chunks. */
        Answer read() throws IOException {
            String status = line();
            int code = Integer.parseInt(status.split(" ")[1]);
            int length = -1;
            boolean chunked = false;
            boolean closing = false;
            for (String h = line(); !h.isEmpty(); h = line()) {
                String lower = h.toLowerCase(Locale.ROOT);
                if (lower.startsWith("content-length:")) {
                    length = Integer.parseInt(h.substring(15).trim());
                } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                    chunked = true;
                } else if (lower.startsWith("connection:") && lower.contains("close")) {
                    closing = true;
                }
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            if (chunked) {
                for (int size = Integer.parseInt(line().trim(), 16); size > 0; size = Integer.parseInt(line().trim(), 16)) {
                    body.write(in.readNBytes(size));
                    line();
                }
                line();
            } else if (length > 0) {
                body.write(in.readNBytes(length));
            }
            return new Answer(code, body.toString(StandardCharsets.UTF_8), closing);
        }

        private String line() throws IOException {
            StringBuilder b = new StringBuilder();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new IOException("connection closed by the server after: " + b);
                }
                if (c != '\r') {
                    b.append((char) c);
                }
            }
            return b.toString();
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closed
            }
        }
    }

    /** An answer; {@code closing}: it said {@code Connection: close}, the server reads no more on its connection. */
    record Answer(int status, String body, boolean closing) {
    }

    /** An engine for {@code .nap} files: each model sleeps for the milliseconds its file holds, and echoes. */
    static final class NapEngine implements InferenceEngine {
        final List<NapModel> loaded = new CopyOnWriteArrayList<>();

        @Override
        public String name() {
            return "Nap";
        }

        @Override
        public String platform() {
            return "nap";
        }

        @Override
        public Set<String> fileExtensions() {
            return Set.of("nap");
        }

        @Override
        public LoadedModel load(ModelArtifact artifact, int workers) {
            long millis;
            try {
                millis = Long.parseLong(Files.readString(artifact.file(), StandardCharsets.UTF_8).trim());
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            NapModel model = new NapModel(millis);
            loaded.add(model);
            return model;
        }

        NapModel model(long millis) {
            return loaded.stream().filter(m -> m.millis == millis).findFirst().orElseThrow();
        }
    }

    static final class NapModel implements LoadedModel {
        final long millis;
        final AtomicInteger predictions = new AtomicInteger();

        NapModel(long millis) {
            this.millis = millis;
        }

        @Override
        public ModelSignature signature() {
            return ModelSignature.UNKNOWN;
        }

        @Override
        public List<Tensor> predict(List<Tensor> inputs) {
            predictions.incrementAndGet();
            try {
                Thread.sleep(millis); // the slow model this test needs, not a wait
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return List.of(inputs.get(0).withName("output"));
        }

        @Override
        public void close() {
        }
    }
}
