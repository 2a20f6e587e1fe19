package io.fractal.it;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Continuous traffic: a few client threads that POST the same prediction again and again until {@link #close()},
 * counting every answer by status and, for the answers that name it, by modelhost. Anything but 200 (an error
 * status, a refused connection, a timeout) is a failure, kept with its body for the message of a failed test.
 */
public final class LoadRunner implements AutoCloseable {

    /** What an answer that was not a 200 said: a status (or -1 for no answer) and the body or exception. */
    public record Failure(int status, String what, long atMillis) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int KEPT_FAILURES = 20;

    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final URI uri;
    private final String body;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong requests = new AtomicLong();
    private final Map<Integer, AtomicLong> byStatus = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> byModelhost = new ConcurrentHashMap<>();
    private final Map<String, Long> lastSeenNanos = new ConcurrentHashMap<>();
    private final AtomicLong failures = new AtomicLong();
    private final ConcurrentLinkedQueue<Failure> failureSamples = new ConcurrentLinkedQueue<>();
    private final long startedNanos = System.nanoTime();
    private volatile boolean running = true;

    private LoadRunner(URI uri, String body, int clients) {
        this.uri = uri;
        this.body = body;
        for (int i = 0; i < clients; i++) {
            Thread t = new Thread(this::loop, "it-load-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    /** Starts {@code clients} threads POSTing {@code body} (JSON) to {@code base + path}. */
    public static LoadRunner start(URI base, String path, String body, int clients) {
        return new LoadRunner(base.resolve(path), body, clients);
    }

    private void loop() {
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build();
        while (running) {
            int status;
            String answer;
            try {
                HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                status = response.statusCode();
                answer = response.body();
            } catch (IOException e) {
                status = -1;
                answer = e.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            requests.incrementAndGet();
            byStatus.computeIfAbsent(status, s -> new AtomicLong()).incrementAndGet();
            if (status == 200) {
                String host = modelhostOf(answer);
                if (host != null) {
                    byModelhost.computeIfAbsent(host, h -> new AtomicLong()).incrementAndGet();
                    lastSeenNanos.put(host, System.nanoTime());
                }
            } else {
                failures.incrementAndGet();
                if (failureSamples.size() < KEPT_FAILURES) {
                    failureSamples.add(new Failure(status, answer, System.currentTimeMillis()));
                }
            }
        }
    }

    private static String modelhostOf(String body) {
        try {
            JsonNode json = JSON.readTree(body);
            return json.path("modelhost").isTextual() ? json.path("modelhost").asText() : null;
        } catch (IOException e) {
            return null;
        }
    }

    public long requests() {
        return requests.get();
    }

    public long failures() {
        return failures.get();
    }

    /** Answers that named this modelhost. */
    public long servedBy(String modelhost) {
        AtomicLong n = byModelhost.get(modelhost);
        return n == null ? 0 : n.get();
    }

    /** {@link System#nanoTime()} of the last answer naming this modelhost, or {@code Long.MIN_VALUE}. */
    public long lastSeenNanos(String modelhost) {
        return lastSeenNanos.getOrDefault(modelhost, Long.MIN_VALUE);
    }

    public Map<Integer, Long> byStatus() {
        Map<Integer, Long> out = new TreeMap<>();
        byStatus.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    public Map<String, Long> byModelhost() {
        Map<String, Long> out = new TreeMap<>();
        byModelhost.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    public List<Failure> failureSamples() {
        return List.copyOf(failureSamples);
    }

    /** Waits until the load has had at least {@code more} further answers (so a phase saw real traffic). */
    public void awaitMore(long more, Duration timeout) {
        long target = requests() + more;
        await("the load gets " + more + " more answers: " + this).atMost(timeout).pollInterval(Duration.ofMillis(10))
                .until(() -> requests() >= target);
    }

    /** Stops the clients after their current request. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(25));
        }
    }

    /** Totals for messages and reports. */
    public String summary() {
        double seconds = (System.nanoTime() - startedNanos) / 1e9;
        return String.format("%d requests in %.1f s, %d failed; by status %s; by modelhost %s%s", requests(), seconds,
                failures(), byStatus(), byModelhost(), failures() == 0 ? "" : "; first failures " + failureSamples());
    }

    @Override
    public String toString() {
        return summary();
    }
}
