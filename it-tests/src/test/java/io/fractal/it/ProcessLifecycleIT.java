package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.After;
import org.junit.Test;

/**
 * The distribution as an operator runs it: {@code bin/fractal run} in a process of its own, on a fresh home.
 * Readiness polled every 50 ms from the first moment: never a 5xx, and true only once the sample models answer;
 * the management token generated owner-only and logged once; then SIGTERM under continuous load: readiness turns
 * false while the server still serves, every request the server accepted is answered (on kept-alive connections, and
 * on connections opened while the listener closes but for the window no server closes), the shutdown is logged to
 * its end, and the process exits 0.
 */
public class ProcessLifecycleIT {

    private static final String IRIS = "{\"values\": [5.1, 3.5, 1.4, 0.2]}";
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();

    private Process process;

    @After
    public void killLeftovers() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }

    @Test
    public void readyMeansServingAndSigtermUnderLoadLosesNothing() throws Exception {
        Path home = freshHome();
        int port = TestFiles.freePort();
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.rest", "host", "127.0.0.1", "port", port);
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.metrics", "port", TestFiles.freePort());
        TestFiles.storedConfig(home.resolve("data/config"), "io.fractal.shell", "port", 0);
        URI base = URI.create("http://127.0.0.1:" + port);
        Path log = home.resolve("log/it-process.out");
        Files.createDirectories(log.getParent());

        long t0 = System.nanoTime();
        process = new ProcessBuilder(home.resolve("bin/fractal").toString(), "run").directory(home.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE)
                .start();
        process.getOutputStream().close(); // no terminal: headless

        // ---- start-up: readiness every 50 ms
        List<String> seen = new ArrayList<>();
        long readyAt = -1;
        while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(120)) {
            assertTrue("the server died during start-up; see " + log, process.isAlive());
            Answer a = call(base, "GET", "/v2/health/ready", null, null);
            seen.add(a.describe());
            assertTrue("a 5xx during start-up other than 503: " + a.describe() + " (all: " + compact(seen) + ")",
                    a.status < 500 || a.status == 503);
            if (a.status == 200) {
                readyAt = System.nanoTime();
                break;
            }
            Thread.sleep(50);
        }
        assertTrue("never ready: " + compact(seen) + "; see " + log, readyAt > 0);
        long startMillis = TimeUnit.NANOSECONDS.toMillis(readyAt - t0);
        // ready means serving: the sample models answer at once
        Answer iris = call(base, "POST", "/api/v1/models/iris/prediction", IRIS, null);
        assertEquals(iris.describe(), 200, iris.status);
        Answer digits = call(base, "GET", "/v2/models/digits/ready", null, null);
        assertEquals(digits.describe(), 200, digits.status);
        System.out.println("start to ready: " + startMillis + " ms; readiness seen: " + compact(seen));
        // the request path was warmed before ready: readiness said so, and every warm-up call (v1 and v2 on both
        // sample models) was answered 200 throughout
        assertTrue("readiness never said it was warming up: " + compact(seen),
                seen.stream().anyMatch(r -> r.contains("warming up the request path")));
        java.util.regex.Matcher warmed = java.util.regex.Pattern
                .compile("Request path warmed up: (\\d+) requests in \\d+ ms to \\S+, (\\d+) of (\\d+) kinds answering 200")
                .matcher(Files.readString(log, StandardCharsets.UTF_8));
        assertTrue("no warm-up line in " + log, warmed.find());
        assertTrue(warmed.group(), Long.parseLong(warmed.group(1)) > 0);
        assertEquals(warmed.group(), "4", warmed.group(3));
        assertEquals(warmed.group(), warmed.group(3), warmed.group(2));

        // ---- the management token: generated owner-only, logged once, required
        Path tokenFile = home.resolve("data/management.token");
        assertTrue(Files.isRegularFile(tokenFile));
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(tokenFile));
        String token = Files.readString(tokenFile).strip();
        String logged = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals("the token appears once in the log", 1, count(logged, token));
        assertEquals(401, call(base, "POST", "/api/v1/modelhosts/mh1/drain", null, null).status);
        assertEquals(401, call(base, "POST", "/api/v1/modelhosts/mh1/drain", null, "wrong").status);
        assertEquals(200, call(base, "POST", "/api/v1/modelhosts/mh1/resume", null, token).status);

        // ---- SIGTERM under load
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        ConcurrentLinkedQueue<String> lost = new ConcurrentLinkedQueue<>();
        List<Thread> clients = new ArrayList<>();
        // clients that open a connection per request: the ones that connect while the listener closes wait in its
        // socket's backlog, and closing the socket would reset them after they sent their requests
        ConcurrentLinkedQueue<String> resetOnNew = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < 4; i++) {
            Thread t = new Thread(() -> {
                while (running.get()) {
                    try {
                        int status = postOnNewConnection(port, "/api/v1/models/iris/prediction", IRIS);
                        if (status == 200) {
                            ok.incrementAndGet();
                        } else {
                            lost.add(status + " on a new connection");
                        }
                    } catch (ConnectException e) {
                        refused.incrementAndGet(); // the listener has closed: never accepted, not lost
                        return;
                    } catch (IOException e) {
                        resetOnNew.add("on a new connection: " + e);
                    }
                }
            }, "load-new-" + i);
            clients.add(t);
            t.start();
        }
        for (int i = 0; i < 4; i++) {
            Thread t = new Thread(() -> {
                HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(2)).build();
                while (running.get()) {
                    try {
                        HttpResponse<String> r = own.send(HttpRequest.newBuilder(base.resolve(
                                "/api/v1/models/iris/prediction")).timeout(Duration.ofSeconds(30))
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(IRIS)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200) {
                            ok.incrementAndGet();
                        } else {
                            lost.add(r.statusCode() + " " + r.body());
                        }
                    } catch (ConnectException | HttpConnectTimeoutException e) {
                        refused.incrementAndGet(); // the listener has closed: never accepted, not lost
                        return;
                    } catch (IOException e) {
                        if (e.getCause() instanceof ConnectException) {
                            refused.incrementAndGet();
                            return;
                        }
                        lost.add(e.toString());
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "load-" + i);
            clients.add(t);
            t.start();
        }
        Thread.sleep(2000);
        int before = ok.get();
        assertTrue("no load before SIGTERM: " + before, before > 50);
        long signal = System.nanoTime();
        process.destroy(); // SIGTERM
        List<String> during = new ArrayList<>();
        boolean notReadyWhileServing = false;
        while (process.isAlive() && System.nanoTime() - signal < TimeUnit.SECONDS.toNanos(60)) {
            Answer a = call(base, "GET", "/v2/health/ready", null, null);
            during.add(a.describe());
            if (a.status == 400 && a.body.contains("shutting down")) {
                notReadyWhileServing = true;
            }
            assertTrue("a 5xx while stopping: " + a.describe(), a.status < 500);
            Thread.sleep(50);
        }
        boolean exited = process.waitFor(60, TimeUnit.SECONDS);
        running.set(false);
        for (Thread t : clients) {
            t.join(35_000);
        }
        long stopMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signal);
        System.out.println("SIGTERM: answered " + ok.get() + " (" + (ok.get() - before) + " after the signal), refused "
                + refused.get() + ", lost " + lost.size() + ", reset on new connections " + resetOnNew.size()
                + "; stopped in " + stopMillis + " ms; readiness seen: "
                + compact(during));
        assertTrue("did not exit within 60 s of SIGTERM; see " + log, exited);
        assertEquals("exit status after SIGTERM; see " + log, 0, process.exitValue());
        assertTrue("readiness never said false while the server still answered: " + compact(during),
                notReadyWhileServing);
        assertTrue("requests accepted and not answered: " + lost, lost.isEmpty());
        // A handshake the kernel completes just as the socket closes, after the listener's last look at its backlog,
        // is reset with its request: a window of microseconds that no server closes (about 1 client in 80 per
        // SIGTERM here, benchmark/sigterm.sh). Without the backlog taken in, 4 such clients lost 2 to 4 requests at
        // every SIGTERM (8 of 8).
        assertTrue("requests sent on new connections and reset: " + resetOnNew, resetOnNew.size() <= 1);
        assertTrue("no request was served after the signal", ok.get() > before);
        String output = Files.readString(log);
        assertFalse("a stack trace in the log; see " + log, output.contains("Exception in thread"));
        // what the graceful shutdown logs is kept (the JDK's own hook would have closed the handlers meanwhile)
        assertTrue("the drain was not logged; see " + log, output.contains("REST API listener closed ("));
        assertTrue("the modelhosts' stop was not logged; see " + log,
                output.contains("Modelhost mh1 stopped after serving"));
    }

    // ---- the process's home ----------------------------------------------------------------------------------

    private static Path freshHome() throws IOException {
        Path dist = Paths.get(System.getProperty("fractal.dist", "../runtime/target/fractal-server")).toAbsolutePath();
        Path work = Files.createDirectories(Paths.get(System.getProperty("fractal.it.work", "target/it-work")));
        Path home = Files.createTempDirectory(work.toAbsolutePath(), "process-");
        for (String part : List.of("bin", "conf", "bundle", "deploy")) {
            TestFiles.copyTree(dist.resolve(part), home.resolve(part));
        }
        Files.createSymbolicLink(home.resolve("lib"), dist.resolve("lib")); // 250 MB of natives, read only
        home.resolve("bin/fractal").toFile().setExecutable(true);
        return home;
    }

    // ---- HTTP -----------------------------------------------------------------------------------------------

    private record Answer(int status, String body, String error) {
        String describe() {
            return error != null ? error : status + " " + (body.length() > 120 ? body.substring(0, 120) : body);
        }
    }

    private static Answer call(URI base, String method, String path, String json, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        b.method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(json));
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body(), null);
        } catch (IOException e) {
            return new Answer(-1, "", e.getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(new IOException(e));
        }
    }

    /**
     * A POST on a connection of its own ({@code Connection: close}), read to the end of the answer.
     *
     * @return the answer's status
     * @throws ConnectException when the connection is refused (nothing was sent)
     * @throws IOException when the connection was accepted and no complete answer came back
     */
    private static int postOnNewConnection(int port, String path, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int head = answer.indexOf("\r\n\r\n");
            java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)\r\nContent-Length: *(\\d+)\r\n")
                    .matcher(answer.substring(0, Math.max(0, head + 2)));
            if (!answer.startsWith("HTTP/1.1 ") || head < 0 || !length.find()
                    || answer.length() - head - 4 != Integer.parseInt(length.group(1))) {
                throw new IOException("no complete answer: " + (answer.isEmpty() ? "none" : answer));
            }
            return Integer.parseInt(answer.substring(9, 12));
        }
    }

    /** Runs of equal answers as "answer x count". */
    private static String compact(List<String> answers) {
        StringBuilder s = new StringBuilder();
        String last = null;
        int n = 0;
        for (String a : answers) {
            if (a.equals(last)) {
                n++;
                continue;
            }
            if (last != null) {
                s.append(last).append(" x").append(n).append("; ");
            }
            last = a;
            n = 1;
        }
        if (last != null) {
            s.append(last).append(" x").append(n);
        }
        return s.toString();
    }

    private static int count(String text, String token) {
        int n = 0;
        for (int i = text.indexOf(token); i >= 0; i = text.indexOf(token, i + 1)) {
            n++;
        }
        return n;
    }
}
