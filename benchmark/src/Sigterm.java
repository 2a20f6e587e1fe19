import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One SIGTERM under load (benchmark/sigterm.sh runs it per round): clients of three kinds send v1 iris predictions
 * to a running server, the server's process gets SIGTERM after a while, and each client goes on until its
 * connection is refused. Prints one line per kind: answered (200), answered after the signal, refused (never
 * accepted: not lost), lost (sent and not answered 200: reset, closed without an answer, another status), and when
 * the losses came, in ms after the signal.
 *
 * <ul>
 *   <li>{@code busy}: a kept-alive connection, the next request right after each answer;
 *   <li>{@code pausing}: a kept-alive connection, 100 to 500 ms between requests (idle in its pool meanwhile);
 *   <li>{@code new}: a connection of its own per request ({@code Connection: close}), on a plain socket.
 * </ul>
 *
 * Usage: {@code java Sigterm.java <base url> <pid> <busy> <pausing> <new> <ms before the signal>}
 */
public class Sigterm {

    private static final String BODY = "{\"values\": [5.1, 3.5, 1.4, 0.2]}";

    private record Kind(String name, AtomicInteger ok, AtomicInteger after, AtomicInteger refused,
            ConcurrentLinkedQueue<String> lost) {
        Kind(String name) {
            this(name, new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new ConcurrentLinkedQueue<>());
        }
    }

    private static volatile long signal = Long.MAX_VALUE;

    public static void main(String[] args) throws Exception {
        URI base = URI.create(args[0]);
        ProcessHandle server = ProcessHandle.of(Long.parseLong(args[1])).orElseThrow();
        int[] counts = {Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4])};
        long before = Long.parseLong(args[5]);
        Map<String, Kind> kinds = new TreeMap<>();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Thread> threads = new ArrayList<>();
        String[] names = {"busy", "pausing", "new"};
        for (int k = 0; k < 3; k++) {
            Kind kind = kinds.computeIfAbsent(names[k], Kind::new);
            for (int i = 0; i < counts[k]; i++) {
                Thread t = new Thread(() -> run(kind, base, running), kind.name() + "-" + i);
                threads.add(t);
                t.start();
            }
        }
        Thread.sleep(before);
        signal = System.nanoTime();
        server.destroy(); // SIGTERM
        boolean exited = server.onExit().thenApply(p -> true).completeOnTimeout(false, 90, TimeUnit.SECONDS).get();
        long stopped = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signal);
        running.set(false);
        for (Thread t : threads) {
            t.join(35_000);
        }
        for (int k = 0; k < 3; k++) {
            Kind kind = kinds.get(names[k]);
            int n = counts[k];
            if (n == 0) {
                continue;
            }
            System.out.printf("RESULT kind=%s clients=%d answered=%d after_signal=%d refused=%d lost=%d stopped_ms=%d"
                    + " exited=%b losses=%s%n", kind.name(), n, kind.ok().get(), kind.after().get(),
                    kind.refused().get(), kind.lost().size(), stopped, exited,
                    kind.lost().isEmpty() ? "-" : String.join(";", kind.lost()).replace(' ', '_'));
        }
    }

    private static void run(Kind kind, URI base, AtomicBoolean running) {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).build();
        URI target = base.resolve("/api/v1/models/iris/prediction");
        while (running.get()) {
            long sent = System.nanoTime();
            try {
                if (kind.name().equals("pausing")) {
                    Thread.sleep(100 + ThreadLocalRandom.current().nextInt(400));
                    sent = System.nanoTime();
                }
                int status;
                if (kind.name().equals("new")) {
                    status = onNewConnection(target);
                } else {
                    status = client.send(HttpRequest.newBuilder(target).timeout(Duration.ofSeconds(30))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(BODY)).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode();
                }
                if (status == 200) {
                    kind.ok().incrementAndGet();
                    if (sent > signal) {
                        kind.after().incrementAndGet();
                    }
                } else {
                    kind.lost().add("+" + since(sent) + "ms:" + status);
                }
            } catch (ConnectException | HttpConnectTimeoutException e) {
                kind.refused().incrementAndGet(); // never accepted: not lost
                return;
            } catch (IOException e) {
                if (e.getCause() instanceof ConnectException) {
                    kind.refused().incrementAndGet();
                    return;
                }
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                kind.lost().add("+" + since(sent) + "ms:" + root.getClass().getSimpleName() + "(" + root.getMessage()
                        + ")");
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static long since(long nanos) {
        return signal == Long.MAX_VALUE ? -1 : TimeUnit.NANOSECONDS.toMillis(nanos - signal);
    }

    /** A POST on a connection of its own, read to its end; the status, or an IOException without a full answer. */
    private static int onNewConnection(URI target) throws IOException {
        byte[] body = BODY.getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(target.getHost(), target.getPort()), 2000);
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + target.getPath() + " HTTP/1.1\r\nHost: " + target.getHost() + ":" + target.getPort()
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            int head = answer.indexOf("\r\n\r\n");
            java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)\r\nContent-Length: *(\\d+)\r\n")
                    .matcher(head < 0 ? "" : answer.substring(0, head + 2));
            if (!answer.startsWith("HTTP/1.1 ") || !length.find()
                    || answer.length() - head - 4 != Integer.parseInt(length.group(1))) {
                throw new IOException(answer.isEmpty() ? "closed without an answer" : "incomplete answer");
            }
            return Integer.parseInt(answer.substring(9, 12));
        }
    }
}
