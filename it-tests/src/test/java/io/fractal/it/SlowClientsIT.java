package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Slow and stalled clients cannot take the server from everyone else: sixteen connections that send their body a
 * byte at a time, or stop sending it, while predictions are answered at once; the slow ones get a JSON 408 when
 * the body timeout passes; connections that never finish their request headers hold no metrics thread.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SlowClientsIT extends FractalTestSupport {

    private static final Map<String, Object> IRIS = Map.of("values", List.of(5.1, 3.5, 1.4, 0.2));

    @Test
    public void slowBodiesAndStalledHeadersHoldNobodyElse() throws Exception {
        awaitReady("iris");
        setBodyTimeout(3000);
        int restPort = Integer.parseInt(property(REST_PORT));
        int metricsPort = Integer.parseInt(property(METRICS_PORT));
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 16; i++) {
                Socket s = new Socket("127.0.0.1", restPort);
                s.setSoTimeout(20_000);
                OutputStream out = s.getOutputStream();
                out.write(("POST /api/v1/models/iris/prediction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 1000\r\n\r\n{\"values\": [").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                slow.add(s);
            }
            for (int i = 0; i < 8; i++) {
                Socket s = new Socket("127.0.0.1", metricsPort);
                s.setSoTimeout(20_000);
                s.getOutputStream().write("GET /metr".getBytes(StandardCharsets.US_ASCII)); // and never the rest
                slow.add(s);
            }
            // everyone else is served at once
            for (int i = 0; i < 20; i++) {
                long t = System.nanoTime();
                HttpResult r = http().post("/api/v1/models/iris/prediction", IRIS);
                assertEquals(r.toString(), 200, r.status);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t);
                assertTrue("a prediction waited " + ms + " ms behind slow clients", ms < 2000);
            }
            long t = System.nanoTime();
            HttpResult scrape = http().get("http://127.0.0.1:" + metricsPort + "/metrics", "text/plain");
            assertEquals(scrape.toString(), 200, scrape.status);
            assertTrue("a scrape waited behind stalled connections",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t) < 2000);
            // trickle one byte every 200 ms into half of the slow bodies; the others send nothing more
            long start = System.nanoTime();
            List<Socket> answered = new ArrayList<>();
            while (answered.size() < 16 && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(15)) {
                for (int i = 0; i < 8; i++) {
                    Socket s = slow.get(i);
                    if (!answered.contains(s)) {
                        try {
                            s.getOutputStream().write('1');
                        } catch (java.io.IOException closed) {
                            // answered and closed by the server
                        }
                    }
                }
                for (int i = 0; i < 16; i++) {
                    Socket s = slow.get(i);
                    if (!answered.contains(s) && s.getInputStream().available() > 0) {
                        answered.add(s);
                    }
                }
                Thread.sleep(200);
            }
            assertEquals("every slow body was answered within the timeouts", 16, answered.size());
            for (int i = 0; i < 16; i++) {
                String answer = read(slow.get(i).getInputStream());
                assertTrue("slow body " + i + ": " + answer, answer.startsWith("HTTP/1.1 408"));
                assertTrue("slow body " + i + ": " + answer, answer.contains("{\"error\":"));
            }
            assertEquals(200, http().post("/api/v1/models/iris/prediction", IRIS).status);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
            setBodyTimeout(30000);
        }
    }

    @Test
    public void aJsonBodyTooLargeToParseInTheBodyMemoryIs413AndOthersAreServed() throws Exception {
        awaitReady("iris");
        writeConfig(deployFolder().resolve("io.fractal.inferrer.cfg"), "body.memory.bytes", 600_000);
        try {
            StringBuilder big = new StringBuilder("{\"values\": [");
            for (int i = 0; i < 20_000; i++) {
                big.append(i == 0 ? "" : ", ").append("[5.1, 3.5, 1.4, 0.2]");
            }
            String body = big.append("]}").toString(); // ~440 KB: six times that is over 600 KB
            HttpResult refused = null;
            for (int attempt = 0; attempt < 50; attempt++) {
                refused = http().post("/api/v1/models/iris/prediction", body);
                if (refused.status == 413) {
                    break;
                }
                Thread.sleep(100); // FileInstall brings the configuration
            }
            assertEquals(String.valueOf(refused), 413, refused.status);
            assertTrue(refused.toString(), refused.json.path("error").asText().contains("memory"));
            assertEquals(200, http().post("/api/v1/models/iris/prediction", IRIS).status);
        } finally {
            writeConfig(deployFolder().resolve("io.fractal.inferrer.cfg"), "body.memory.bytes", 0);
        }
    }

    /**
     * The listener's connection settings are configuration like any other: io.strategy, read.timeout.ms and
     * keep.alive.max.requests changed in {@code io.fractal.rest.cfg} take effect at once, the socket handed from the
     * old server to the new one, while clients predict without a pause; no request fails. The new keep-alive limit
     * and read timeout are what connections meet next.
     */
    @Test
    public void theListenersThreadModelChangesLiveAndLosesNoRequest() throws Exception {
        awaitReady("iris");
        Logger listenerLog = Logger.getLogger("io.fractal.http.internal.HttpListener");
        List<String> logged = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                logged.add(String.valueOf(record.getMessage()));
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        listenerLog.addHandler(capture);
        Path cfg = deployFolder().resolve("io.fractal.rest.cfg");
        String port = property(REST_PORT);
        try (LoadRunner load = LoadRunner.start(http().base(), "/api/v1/models/iris/prediction",
                "{\"values\": [5.1, 3.5, 1.4, 0.2]}", 4)) {
            load.awaitMore(100, Duration.ofSeconds(10));
            for (String strategy : List.of("leader-follower", "worker", "same-thread")) {
                writeConfig(cfg, "host", "127.0.0.1", "port", port, "io.strategy", strategy, "read.timeout.ms", 1500,
                        "keep.alive.max.requests", 50);
                await("the listener serves with io.strategy=" + strategy + "; logged " + logged)
                        .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                        .until(() -> logged.stream().anyMatch(l -> l.contains("(io.strategy=" + strategy + ",")));
                logged.clear();
                load.awaitMore(200, Duration.ofSeconds(10));
            }
            // the new keep-alive limit: the 50th answer on a connection is its last
            try (ClientDisconnectIT.RawClient c = new ClientDisconnectIT.RawClient(
                    new Socket("127.0.0.1", Integer.parseInt(port)))) {
                for (int i = 1; i <= 50; i++) {
                    ClientDisconnectIT.Answer a = c.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").read();
                    assertEquals(i + ": " + a, 200, a.status());
                    assertEquals("answer " + i + " says Connection: close", i == 50, a.closing());
                }
            }
            // the new read timeout: a body that stops coming is answered 408 after 1.5 s, not the default 10
            try (Socket s = new Socket("127.0.0.1", Integer.parseInt(port))) {
                s.setSoTimeout(20_000);
                long start = System.nanoTime();
                s.getOutputStream().write(("POST /api/v1/models/iris/prediction HTTP/1.1\r\nHost: x\r\n"
                        + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"values\": [")
                        .getBytes(StandardCharsets.US_ASCII));
                String answer = read(s.getInputStream());
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue(answer, answer.startsWith("HTTP/1.1 408"));
                assertTrue("the stalled body was answered after " + ms + " ms", ms >= 1000 && ms < 6000);
            }
            load.close();
            System.out.println("LIVE THREAD MODEL: " + load.summary());
            assertEquals("no request failed while the listener was replaced three times: " + load.summary(), 0,
                    load.failures());
        } finally {
            listenerLog.removeHandler(capture);
            writeConfig(cfg, "host", "127.0.0.1", "port", port);
        }
    }

    private static String read(InputStream in) throws Exception {
        byte[] buf = new byte[4096];
        int n = in.read(buf);
        return n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.UTF_8);
    }

    private void setBodyTimeout(long millis) throws Exception {
        // the whole configuration of the PID, as FileInstall replaces it
        writeConfig(deployFolder().resolve("io.fractal.rest.cfg"), "host", "127.0.0.1", "port", property(REST_PORT),
                "body.timeout.ms", millis);
        Thread.sleep(1500); // FileInstall polls every 200 ms; the application is rebuilt with it
    }
}
