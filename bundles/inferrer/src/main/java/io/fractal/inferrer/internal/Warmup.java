package io.fractal.inferrer.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.inference.TensorSpec;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Warms the request path of a freshly started JVM before the server says it is ready: a few keep-alive connections to
 * the server's own listener send v1 predictions and v2 JSON inferences on one row of sample values (zeros for integer
 * inputs) to every model that is READY, for a least time and then while the JIT compiler keeps busy. The model itself
 * is warmed by its modelhost (warm-up calls); what this warms is everything around it that the JIT compiles only
 * once it has run often enough: Grizzly's HTTP codec, the REST application's dispatch, JSON, the balancer and the
 * modelhost's queueing. Without it, the first seconds of traffic after readiness run interpreted code at a tenth to
 * a quarter of the warmed-up rate.
 *
 * <p>The requests are real ones and count in the metrics like any other. A request that does not answer 200 (a
 * model that needs other inputs, or a token that predictions need) leaves the rotation; when none is left the
 * warm-up ends early.
 */
final class Warmup {

    private static final Logger LOG = Logger.getLogger(Warmup.class.getName());
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    private static final int READ_TIMEOUT_MS = 5000;

    /** One request: its bytes on the wire, and what it is for the log. */
    record Call(String what, byte[] bytes) {
    }

    private Warmup() {
    }

    /**
     * The calls that warm a model's default version: a v2 JSON inference and, for a one-input model, a v1
     * prediction, each on one row: {@link #sample} values for floating-point inputs, zeros for integer ones. None
     * when an input's datatype or shape is unknown, or is text.
     */
    static List<Call> calls(String host, String model, ModelSignature signature) {
        List<TensorSpec> inputs = signature == null ? List.of() : signature.inputs();
        if (inputs.isEmpty()) {
            return List.of();
        }
        ArrayNode v2Inputs = JSON.arrayNode();
        Tensor first = null;
        for (TensorSpec spec : inputs) {
            long[] shape = spec.shape();
            if (spec.name() == null || spec.datatype() == null || spec.datatype() == DataType.BYTES
                    || spec.datatype() == DataType.BOOL || shape == null || shape.length == 0) {
                return List.of();
            }
            shape = shape.clone();
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shape[i] < 0 ? 1 : shape[i];
            }
            long n = Tensor.elementCount(shape);
            if (n > 1 << 16) {
                return List.of(); // a large input: its JSON would warm the parser more than the path
            }
            ObjectNode in = v2Inputs.addObject();
            in.put("name", spec.name());
            ArrayNode s = in.putArray("shape");
            for (long d : shape) {
                s.add(d);
            }
            in.put("datatype", spec.datatype().name());
            ArrayNode data = in.putArray("data");
            Object values = java.lang.reflect.Array.newInstance(spec.datatype().storage().getComponentType(),
                    (int) n);
            for (int i = 0; i < n; i++) {
                if (values instanceof float[] f) {
                    f[i] = (float) sample(i);
                    data.add(f[i]);
                } else if (values instanceof double[] d) {
                    d[i] = sample(i);
                    data.add(d[i]);
                } else {
                    data.add(0);
                }
            }
            if (first == null) {
                first = Tensor.of(spec.name(), spec.datatype(), shape, values);
            }
        }
        List<Call> calls = new ArrayList<>();
        ObjectNode v2 = JSON.objectNode();
        v2.set("inputs", v2Inputs);
        calls.add(post(host, "/v2/models/" + model + "/infer", v2.toString(), model + " v2"));
        if (inputs.size() == 1 && first.shape()[0] == 1) {
            ObjectNode v1 = JSON.objectNode();
            v1.set("values", TensorCodec.nestedJson(first, 1));
            // spaced as many clients write it, the v2 body compact: the JSON parser's profile sees both
            calls.add(post(host, "/api/v1/models/" + model + "/prediction", spaced(v1.toString()), model + " v1"));
        }
        return calls;
    }

    /**
     * The {@code i}th value of a floating-point input: between 0 and 10 with one to four decimals, as real inputs
     * are. Zeros would leave the number parsing and formatting that real traffic goes through cold (the JIT compiled
     * them only once the load came, and recompiled them when numbers of other lengths came).
     */
    static double sample(int i) {
        double golden = 0.6180339887498949;
        double x = (i + 1) * golden;
        double scale = new double[] {1, 10, 0.1}[i % 3];
        double decimals = new double[] {10, 100, 1000, 10_000}[i % 4];
        return Math.round((x - Math.floor(x)) * scale * decimals) / decimals;
    }

    /** JSON as Python's json.dumps writes it by default (a space after ',' and ':'), outside strings. */
    static String spaced(String compact) {
        StringBuilder out = new StringBuilder(compact.length() + compact.length() / 4);
        boolean inString = false;
        for (int i = 0; i < compact.length(); i++) {
            char c = compact.charAt(i);
            out.append(c);
            if (inString && c == '\\' && i + 1 < compact.length()) {
                out.append(compact.charAt(++i)); // an escaped character, '"' included
            } else if (c == '"') {
                inString = !inString;
            } else if (!inString && (c == ',' || c == ':')) {
                out.append(' ');
            }
        }
        return out.toString();
    }

    private static Call post(String host, String path, String body, String what) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: fractal-warmup\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + b.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        return new Call(what, all);
    }

    /**
     * What a warm-up did: the answers it got, how many of its kinds of call answered 200 throughout, and the JIT
     * compiler's time (ms, all its threads) in the last second of it (-1: not known).
     */
    record Result(long answers, int kindsAnswering, long jitLastSecondMs) {
    }

    /** The JIT counts as done with the request path once it compiles for less than this share of a second. */
    static final double JIT_QUIET = 0.15;
    private static final int WINDOW_MS = 250;
    private static final int WINDOWS_PER_SECOND = 1000 / WINDOW_MS;

    /**
     * Sends {@code calls} round robin over {@code connections} connections to {@code address} for at least
     * {@code minMillis} ms and then for as long as the JIT compiler keeps busy (its compilation time in the last
     * second above {@value #JIT_QUIET} of it: on a small machine C2 needs several seconds of traffic to compile the
     * request path), at most {@code maxMillis} ms in all; or until every call has failed. Never throws.
     */
    static Result run(InetSocketAddress address, List<Call> calls, int connections, long minMillis, long maxMillis) {
        return run(address, calls, connections, minMillis, maxMillis, jitClock());
    }

    /** As above, with the JIT's compilation time (ms) read from {@code jit} (null: unknown, the least time only). */
    static Result run(InetSocketAddress address, List<Call> calls, int connections, long minMillis, long maxMillis,
            LongSupplier jit) {
        List<Call> rotation = new CopyOnWriteArrayList<>(calls);
        AtomicLong answered = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            int offset = c;
            Thread t = new Thread(() -> drive(address, rotation, offset, stop, answered), "fractal-warmup-" + c);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        long most = Math.max(minMillis, maxMillis);
        // the compilation time at the end of each of the last windows, oldest first
        long[] marks = new long[WINDOWS_PER_SECOND + 1];
        int windows = 0;
        long lastSecond = -1;
        try {
            while (!rotation.isEmpty() && threads.stream().anyMatch(Thread::isAlive)) {
                long elapsed = (System.nanoTime() - start) / 1_000_000;
                if (elapsed >= most) {
                    break;
                }
                if (jit != null) {
                    System.arraycopy(marks, 1, marks, 0, marks.length - 1);
                    marks[marks.length - 1] = jit.getAsLong();
                    if (++windows > WINDOWS_PER_SECOND) {
                        lastSecond = marks[marks.length - 1] - marks[0];
                    }
                }
                if (elapsed >= minMillis && (jit == null || lastSecond >= 0 && lastSecond < JIT_QUIET * 1000)) {
                    break;
                }
                Thread.sleep(Math.min(WINDOW_MS, Math.max(1, (jit == null ? minMillis : most) - elapsed)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            stop.set(true);
        }
        for (Thread t : threads) {
            try {
                t.join(2L * READ_TIMEOUT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return new Result(answered.get(), rotation.size(), lastSecond);
    }

    /** The JIT compilers' accumulated compilation time in ms, or null where the JVM does not tell. */
    private static LongSupplier jitClock() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit::getTotalCompilationTime : null;
    }

    private static void drive(InetSocketAddress address, List<Call> rotation, int offset, AtomicBoolean stop,
            AtomicLong answered) {
        Socket socket = null;
        InputStream in = null;
        try {
            int i = offset;
            while (!stop.get() && !rotation.isEmpty()) {
                if (socket == null) {
                    socket = new Socket();
                    socket.setTcpNoDelay(true);
                    socket.setSoTimeout(READ_TIMEOUT_MS);
                    socket.connect(address, READ_TIMEOUT_MS);
                    in = new BufferedInputStream(socket.getInputStream());
                }
                List<Call> now = List.copyOf(rotation);
                if (now.isEmpty()) {
                    break;
                }
                Call call = now.get(Math.floorMod(i++, now.size()));
                socket.getOutputStream().write(call.bytes());
                Answer a = read(in);
                if (a.status != 200) {
                    if (rotation.remove(call)) {
                        LOG.fine(() -> "Warm-up: " + call.what() + " answered " + a.status + ", left out");
                    }
                }
                answered.incrementAndGet();
                if (a.close) {
                    socket.close();
                    socket = null;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.fine(() -> "Warm-up connection ended: " + e);
        } finally {
            close(socket);
        }
    }

    private record Answer(int status, boolean close) {
    }

    /** Reads one answer: its status line, its headers, and a body of Content-Length bytes. */
    private static Answer read(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        int status = -1;
        long length = 0;
        boolean close = false;
        while (true) {
            String l = readLine(in, line);
            if (status < 0) {
                String[] parts = l.split(" ", 3);
                if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                    throw new IOException("not an HTTP answer: " + l);
                }
                status = Integer.parseInt(parts[1]);
                continue;
            }
            if (l.isEmpty()) {
                break;
            }
            int colon = l.indexOf(':');
            if (colon > 0) {
                String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = l.substring(colon + 1).trim();
                if (name.equals("content-length")) {
                    length = Long.parseLong(value);
                } else if (name.equals("connection") && value.equalsIgnoreCase("close")) {
                    close = true;
                } else if (name.equals("transfer-encoding")) {
                    throw new IOException("chunked answer"); // not what these calls get: stop this connection
                }
            }
        }
        in.skipNBytes(length);
        return new Answer(status, close);
    }

    private static String readLine(InputStream in, ByteArrayOutputStream buf) throws IOException {
        buf.reset();
        int b;
        while ((b = in.read()) != '\n') {
            if (b < 0) {
                throw new IOException("connection closed");
            }
            if (b != '\r') {
                buf.write(b);
            }
        }
        return buf.toString(StandardCharsets.ISO_8859_1);
    }

    private static void close(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException e) {
                // nothing more to do
            }
        }
    }
}
