package io.fractal.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

/**
 * A seeded generator of malformed requests over the calls {@code GET /help} lists, and the judge of the answers:
 * request lines, targets and headers garbled byte by byte on a raw socket; bodies, shapes, numbers, names, uploads,
 * encodings and methods through {@link HttpClient}, with the management token and without. An answer is a failure
 * when it is a 5xx, when no answer comes to a complete request, or when a 4xx is not {@code {"error": "..."}} JSON or
 * names a file of the server, a Java class or a stack frame.
 *
 * <p>Runs inside a Pax Exam probe ({@link HostileInputIT}) or on its own against any server:
 * {@code java -cp <test classes and jackson> io.fractal.it.HostileRequests http://127.0.0.1:8001/ TOKEN SEED N
 * [SERVER_HOME]}.
 *
 * <p>It never changes what the server serves: calls that change something (uploads, deletes, defaults,
 * modelhosts, the strategy) only get names and bodies the server must refuse, or the model {@value #UPLOAD_MODEL},
 * which the caller deletes afterwards.
 */
public final class HostileRequests {

    /** The one valid model name calls that change something may use: uploads of garbage land there. */
    public static final String UPLOAD_MODEL = "fuzz-upload";

    /** A call as {@code GET /help} lists it. */
    public record Route(String method, String template) {
    }

    /** One answer: the status (-1 none), its content type and body. */
    record Answer(int status, String contentType, String body) {
    }

    /** What a run found. */
    public static final class Report {
        public final long seed;
        public int cases;
        public int answers;
        public final Map<Integer, Integer> byStatus = new TreeMap<>();
        public final List<String> failures = new ArrayList<>();
        public int failureCount;
        public long millis;

        Report(long seed) {
            this.seed = seed;
        }

        void fail(String what) {
            failureCount++;
            if (failures.size() < 25) {
                failures.add(what);
            }
        }

        public String summary() {
            return cases + " cases, " + answers + " answers by status " + byStatus + " in " + millis + " ms, seed "
                    + seed + ", " + failureCount + " failure(s)";
        }

        public String failureText() {
            return String.join("\n\n", failures);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** 1e400 as JSON writes it: a number no floating-point type holds. */
    private static final java.math.BigDecimal HUGE = new java.math.BigDecimal("1e400");
    /** What a client must never read in an error: Java packages, exception classes, stack frames. */
    private static final Pattern LEAK = Pattern.compile("\\b(java|javax|jakarta|sun|com\\.sun|org\\.glassfish|"
            + "org\\.jvnet|com\\.fasterxml|io\\.fractal|ai\\.djl|org\\.osgi|org\\.apache)(\\.[a-z_]\\w*)*\\.[A-Z]"
            + "|\\b[A-Z][A-Za-z]*(Exception|Error)\\b|\\tat |\\bat [\\w$.]+\\(|\\.java:\\d+");
    private static final String[] METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW",
            "FOO", "get", "PROPFIND", "M-SEARCH", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"};

    /** Names (as they go on the wire) for calls that change something: none may name a model or modelhost. */
    private static final String[] HOSTILE_NAMES = {"..%2f..%2fetc%2fpasswd", "a%2fb", "%2fetc%2fpasswd",
            "$%7Bjndi:ldap:%2F%2F127.0.0.1:1389%2Fa%7D", "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D", "x%00y", "%ff%fe",
            "%c0%ae%c0%ae", "-dash", "_under", ".dot", "a..b", "name%20with%20space", "caf%C3%A9", "%E2%80%AEtxt",
            "x".repeat(200), "a,b", "a'b", "a%22b", "%3Cscript%3E", "*", "a*b", "%25", "%2525", "%252e%252e",
            "~", "a@b", "a+b", ":1", "x:0", "x:-1", "x:99999999999", "x:abc", "x:", "a:b:c", "%2e%2e%5c%2e%2e",
            "..%5c..", "CON%3A", "nul%00", "%0d%0aX-Injected:%201", "..%2F", "%7B%7D", "a%09b", "fuzz-upload:0"};
    /** Names for calls that only read: the hostile ones, and the models with hostile versions. */
    private static final String[] READ_NAMES = {"iris", "digits", "iris:1", "iris:2", "iris:0", "iris:-1",
            "iris:99999999999", "iris:abc", "iris:", "IRIS", "iris.", "iris%20", "iris%2F", "iris%2Fprediction",
            "iris%3A1", "digits:1"};
    private static final String[] VERSIONS = {"1", "2", "0", "-1", "99999999999", "abc", "1.5", "1e3", "%00",
            "%20", "+1", "0x1", "%D9%A3", "%2e%2e", "1%2f2", "x".repeat(100)};
    private static final String[] IDS = {"..%2f..", "a%2fb", "$%7Bjndi:x%7D", "%00", "x".repeat(100), "-x",
            "mh%2F1", "mh1%00", ".mh1", "mh 1".replace(" ", "%20"), "%ff", "*", "mh1%3Bx"};
    private static final String[] CONTENT_TYPES = {"application/json", "text/plain", "application/octet-stream",
            "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=",
            "application/json; charset=x-unknown", "application/json; charset=UTF-16", "text/plain;;;",
            "application/xml", "*/*", "garbage", "application/json;q=x"};

    private final URI base;
    private final InetSocketAddress address;
    private final String token;
    private final List<Route> routes;
    private final List<String> forbidden;
    private final Random random;
    private final Report report;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    /**
     * @param forbidden texts no error may contain (the server's home folder)
     */
    public HostileRequests(URI base, String token, long seed, List<Route> routes, List<String> forbidden) {
        this.base = base;
        this.address = new InetSocketAddress(base.getHost(), base.getPort());
        this.token = token;
        this.routes = routes;
        this.forbidden = forbidden;
        this.random = new Random(seed);
        this.report = new Report(seed);
    }

    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern MODELHOST_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    static {
        // The calls that change something get these: none may reach a model or modelhost (Jersey drops ';...' from a
        // path parameter, and 'name:version' names a version).
        for (String wire : HOSTILE_NAMES) {
            String name = pathParam(wire);
            int colon = name.lastIndexOf(':');
            boolean badVersion = colon >= 0 && !name.substring(colon + 1).matches("[1-9][0-9]{0,8}");
            if (MODEL_NAME.matcher(name).matches() && !name.contains("..")
                    && !(colon >= 0 && (badVersion || !MODEL_NAME.matcher(name.substring(0, colon)).matches()))) {
                throw new IllegalStateException("hostile model name " + wire + " is a valid one: " + name);
            }
        }
        for (String wire : IDS) {
            if (MODELHOST_ID.matcher(pathParam(wire)).matches()) {
                throw new IllegalStateException("hostile modelhost id " + wire + " is a valid one");
            }
        }
    }

    /** A path segment as a JAX-RS path parameter gets it: without matrix parameters, percent-decoded. */
    private static String pathParam(String wire) {
        int semicolon = wire.indexOf(';');
        String segment = semicolon < 0 ? wire : wire.substring(0, semicolon);
        return java.net.URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The calls {@code GET /help} lists. */
    public static List<Route> routes(JsonNode help) {
        List<Route> out = new ArrayList<>();
        for (JsonNode c : help.path("calls")) {
            Route r = new Route(c.path("method").asText(), c.path("path").asText());
            if (!out.contains(r)) {
                out.add(r);
            }
        }
        return out;
    }

    /** Sends {@code raw} raw-socket cases and {@code client} HttpClient cases, interleaved. */
    public Report run(int raw, int client) {
        long start = System.nanoTime();
        int r = raw;
        int c = client;
        while (r + c > 0) {
            boolean useRaw = random.nextInt(r + c) < r;
            if (useRaw) {
                r--;
                rawCase();
            } else {
                c--;
                clientCase();
            }
            report.cases++;
        }
        report.millis = (System.nanoTime() - start) / 1_000_000;
        return report;
    }

    // ---- judging ---------------------------------------------------------------------------------------------

    private void judge(String request, Answer a, boolean headRequest) {
        report.answers++;
        report.byStatus.merge(a.status(), 1, Integer::sum);
        String problem = null;
        if (a.status() == 505) {
            // the one 5xx a malformed request may get: a well-formed version the server does not speak
            problem = errorBodyProblem(a);
        } else if (a.status() >= 500) {
            problem = "a " + a.status();
        } else if (a.status() >= 400 && !headRequest) {
            problem = errorBodyProblem(a);
        }
        if (problem != null) {
            report.fail(problem + "\n  request: " + request + "\n  answer:  " + a.status() + " " + a.contentType()
                    + " " + shorten(a.body(), 400));
        }
    }

    private String errorBodyProblem(Answer a) {
        if (a.contentType() == null || !a.contentType().toLowerCase(Locale.ROOT).contains("json")) {
            return "an error that is not JSON";
        }
        JsonNode body;
        try {
            body = JSON.readTree(a.body());
        } catch (IOException e) {
            return "an error body that does not parse as JSON";
        }
        if (body == null || !body.isObject() || !body.path("error").isTextual()) {
            return "an error body without a textual 'error'";
        }
        String text = body.path("error").asText();
        if (LEAK.matcher(text).find()) {
            return "an error naming Java internals";
        }
        for (String f : forbidden) {
            if (!f.isEmpty() && text.contains(f)) {
                return "an error naming a server path";
            }
        }
        return null;
    }

    private void noAnswer(String request, String why) {
        report.answers++;
        report.byStatus.merge(-1, 1, Integer::sum);
        report.fail("no answer (" + why + ")\n  request: " + request);
    }

    // ---- raw socket cases: request lines and headers ------------------------------------------------------------

    /** A request in parts, each of which a mutation may garble. */
    private static final class Raw {
        byte[] prefix = new byte[0];
        byte[] method;
        byte[] sep1 = HostileRequests.bytes(" ");
        byte[] target;
        byte[] sep2 = HostileRequests.bytes(" ");
        byte[] version = HostileRequests.bytes("HTTP/1.1");
        byte[] eol = HostileRequests.bytes("\r\n");
        final List<byte[]> headers = new ArrayList<>();
        byte[] body = new byte[0];
        boolean autoLength = true;
        /** Close our side after sending: the request is incomplete by design and may go unanswered. */
        boolean incomplete;

        byte[] assemble() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(prefix);
            out.writeBytes(method);
            out.writeBytes(sep1);
            out.writeBytes(target);
            out.writeBytes(sep2);
            out.writeBytes(version);
            out.writeBytes(eol);
            for (byte[] h : headers) {
                out.writeBytes(h);
                out.writeBytes(eol);
            }
            if (autoLength && body.length > 0) {
                out.writeBytes(HostileRequests.bytes("Content-Length: " + body.length));
                out.writeBytes(eol);
            }
            out.writeBytes(eol);
            out.writeBytes(body);
            return out.toByteArray();
        }

        void removeHeader(String name) {
            headers.removeIf(h -> new String(h, StandardCharsets.ISO_8859_1).toLowerCase(Locale.ROOT)
                    .startsWith(name.toLowerCase(Locale.ROOT) + ":"));
        }
    }

    private void rawCase() {
        Route route = pick(routes);
        Raw r = new Raw();
        r.method = bytes(route.method());
        r.target = bytes(fill(route, false));
        r.headers.add(bytes("Host: " + address.getHostString() + ":" + address.getPort()));
        if (random.nextInt(4) > 0) {
            r.headers.add(bytes("Authorization: Bearer " + token));
        }
        r.headers.add(bytes("Connection: close"));
        if (!route.method().equals("GET") && !route.method().equals("DELETE")) {
            r.headers.add(bytes("Content-Type: application/json"));
            r.body = body(route);
        }
        int mutations = 1 + random.nextInt(2);
        for (int i = 0; i < mutations; i++) {
            pick(rawMutations).accept(r);
        }
        byte[] request = r.assemble();
        String shown = printable(request, 300);
        List<Answer> answers;
        try {
            answers = exchange(request, r.incomplete);
        } catch (IOException e) {
            if (!r.incomplete) {
                noAnswer(shown, "connection failed: " + e.getMessage());
            }
            return;
        }
        if (answers.isEmpty()) {
            if (!r.incomplete) {
                noAnswer(shown, "the connection closed or timed out without an answer");
            }
            return;
        }
        for (Answer a : answers) {
            judge(shown, a, false);
        }
    }

    private final List<Consumer<Raw>> rawMutations = rawMutations();

    private List<Consumer<Raw>> rawMutations() {
        return List.of(
            r -> r.method = bytes(pick("BREW", "get", "G E T", "GET\0", "", "X".repeat(100), "\u0016\u0003\u0001",
                    "PRI", "CONNECT", "M-SEARCH", "GETT", "P\u00d6ST", "GE(T", "\u0000\u0000")),
            r -> r.method = randomBytes(1 + random.nextInt(12)),
            r -> r.target = insert(r.target, bytes(pick("\0", "\r", "\t", " ", "\u007f", "\u0001", "\u00ff",
                    "\u00c0\u00ae", "\u00e2\u0082", "%", "%z", "%zz", "%00", "%0a", "%0D%0A", "%ff", "%c0%ae", "%e2%82",
                    "%ed%a0%80", "{", "}", "|", "\\", "^", "`", "<", ">", "\"", "#", "/../", "/./", "/%2e%2e/",
                    "/%2E%2e", "//", ";", "?%", "?a=%zz", "?\0", "${jndi:ldap://127.0.0.1:1389/x}",
                    "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D", "/..", "/.", "%2e", "?q=\u00e9", "\u00e9")), true),
            r -> r.target = bytes(pick("", "*", "http://", "http://x", "http://[::1", "https://a b/", "x", "//",
                    "/" + "a".repeat(9000), "?", "%", "/%", "http://127.0.0.1:1/help", "HTTP://X/v2", "/\0",
                    "http://a{b/", "\\..\\..\\windows")),
            r -> r.version = bytes(pick("HTTP/9.9", "HTTP/2.0", "HTTP/1.1x", "FOO/1.1", "", "HTTP/1", "http/1.1",
                    "HTTP/1.1 ", "HTTP/0.9", "HTTP/1.10", "HTTP/\0.1", "HTTP/1.1\0", "HTTP/1.0", "HTTP/1.2",
                    "HTTP/1.1 HTTP/1.1")),
            r -> {
                if (random.nextBoolean()) {
                    r.sep1 = bytes(pick("  ", "\t", "", " \0 ", "\r\n"));
                } else {
                    r.sep2 = bytes(pick("  ", "\t", "", " \0 "));
                }
            },
            r -> {
                r.eol = bytes(pick("\n", "\r", "\r\r\n", "\n\r"));
                r.incomplete = true; // a lone CR never ends the head
            },
            r -> r.prefix = bytes(pick("\r\n", "\r\n\r\n", "\0", " ", "\u0016\u0003\u0001\u0000\u00a5\u0001", "\n")),
            r -> r.removeHeader("Host"),
            r -> {
                r.removeHeader("Host");
                r.headers.add(bytes("Host: " + pick("{bad}", "a b", "\u00ff", "x:99999", "x:abc", "[::1", "x%zz", "",
                        "a@b", "x:1:2", "[zz]", "a/b", "a\\b", "${jndi:x}", "x:-1", "\t", "[::1]:80", "\u00e9.com")));
            },
            r -> r.headers.add(bytes("Host: second.example")),
            r -> r.headers.add(bytes(pick("Bad Header", ": v", "X\0: v", "X: \0\u0001", "X: a\rb", "X:\u007f",
                    "\u00ff: v", "X Y: z", "(: v", "X-Long-Name-" + "n".repeat(300) + ": v", "NoColon"))),
            r -> {
                r.headers.add(bytes("X-Folded: a"));
                r.headers.add(bytes(" folded continuation"));
            },
            r -> {
                for (int i = 0; i < 300; i++) {
                    r.headers.add(bytes("X-N" + i + ": v"));
                }
            },
            r -> r.headers.add(bytes("X-Big: " + "y".repeat(9000))),
            r -> {
                r.removeHeader("Authorization");
                r.headers.add(bytes("Authorization: " + pick("Bearer", "Bearer \u0001", "Basic !!!",
                        "Bearer " + "t".repeat(5000), "Bearer  " + token, "bearer " + token, "Bearer " + token + "x",
                        "Bearer \u00ff\u00fe", "Negotiate x", "")));
            },
            r -> {
                r.removeHeader("Content-Type");
                r.headers.add(bytes("Content-Type: " + pick(CONTENT_TYPES) + pick("", "\u00ff")));
            },
            r -> r.headers.add(bytes(pick("Accept: application/xml", "Accept: */*;q=x", "Accept: garbage",
                    "Accept-Encoding: gzip;q=abc", "Accept-Encoding: \u00ff", "Content-Encoding: gzip",
                    "Content-Encoding: br", "Content-Encoding: gzip, deflate", "Content-Encoding: deflate",
                    "Inference-Header-Content-Length: -1", "Inference-Header-Content-Length: abc",
                    "Inference-Header-Content-Length: 99999999999999999999", "Inference-Header-Content-Length: 0",
                    "Inference-Header-Content-Length:", "X-Request-Timeout-Ms: -1", "X-Request-Timeout-Ms: abc",
                    "X-Request-Timeout-Ms: 0", "X-Request-Timeout-Ms: 99999999999999999999", "Expect: 100-continue",
                    "Expect: garbage", "Upgrade: h2c", "Upgrade: websocket", "Connection: Upgrade, HTTP2-Settings",
                    "Transfer-Encoding: identity", "Cookie: JSESSIONID=\u00ff;;;", "Range: bytes=-1-"))),
            r -> {
                r.autoLength = false;
                int n = r.body.length;
                String length = pick(String.valueOf(Math.max(0, n - 1)), String.valueOf(n + 10), "-1", "abc",
                        "99999999999999999999", " " + n, n + ", " + n, "1e3", "0x10", "");
                r.headers.add(bytes("Content-Length: " + length));
                if (random.nextInt(4) == 0) {
                    r.headers.add(bytes("Content-Length: " + (n + 1)));
                }
                r.incomplete = true; // a longer length waits for bytes that never come
            },
            r -> {
                r.autoLength = false;
                r.headers.add(bytes("Transfer-Encoding: " + pick("chunked", "chunked", "gzip, chunked",
                        "chunked, gzip", "gzip", "identity", "chunked, chunked", "xchunked")));
                r.body = bytes(pick("zz\r\n", "5\r\nab\r\n0\r\n\r\n", "-1\r\n", "ffffffffffffffffff\r\nab\r\n",
                        "4\r\nabcd\r\n", "0\r\n\r\n", "2\r\n{}\r\n0\r\n\r\n", "2;ext=\u0000\r\n{}\r\n0\r\n\r\n",
                        "1\r\n{\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n", "\r\n\r\n"));
                if (random.nextBoolean()) {
                    r.headers.add(bytes("Content-Length: " + r.body.length));
                }
                r.incomplete = true;
            },
            r -> r.body = randomBytes(random.nextInt(2000)),
            r -> r.body = bytes("[".repeat(20000)),
            r -> r.body = Arrays.copyOf(r.body, r.body.length / 2));
    }

    /**
     * Sends the bytes, then reads answers until the server closes, or until an answer is complete and nothing more
     * comes for a moment (keep-alive), or 5 s pass.
     */
    private List<Answer> exchange(byte[] request, boolean closeOurSide) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(address, 5000);
            socket.setTcpNoDelay(true);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request);
                out.flush();
                if (closeOurSide) {
                    socket.shutdownOutput();
                }
            } catch (IOException e) {
                // the server answered and closed before reading all of it: read what it said
            }
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (System.nanoTime() < deadline) {
                List<Answer> sofar = parse(received.toByteArray(), true);
                boolean complete = sofar != null && !sofar.isEmpty();
                socket.setSoTimeout(complete ? 150 : 250);
                int n;
                try {
                    n = in.read(buffer);
                } catch (SocketTimeoutException e) {
                    if (complete) {
                        break;
                    }
                    continue;
                } catch (IOException e) {
                    break; // reset after the answer
                }
                if (n < 0) {
                    break;
                }
                received.write(buffer, 0, n);
            }
            List<Answer> answers = parse(received.toByteArray(), false);
            return answers == null ? List.of() : answers;
        }
    }

    /**
     * The answers in what was received; null when the last one is incomplete and {@code strict}, else the complete
     * ones (an answer without a length runs to the end).
     */
    private static List<Answer> parse(byte[] b, boolean strict) {
        List<Answer> answers = new ArrayList<>();
        int i = 0;
        while (i < b.length) {
            int headEnd = indexOf(b, bytes("\r\n\r\n"), i);
            if (headEnd < 0) {
                return strict ? null : answers;
            }
            String head = new String(b, i, headEnd - i, StandardCharsets.ISO_8859_1);
            String[] lines = head.split("\r\n");
            String[] status = lines[0].split(" ", 3);
            int code;
            try {
                code = Integer.parseInt(status[1]);
            } catch (RuntimeException e) {
                return strict ? null : answers;
            }
            String contentType = null;
            long length = -1;
            boolean chunked = false;
            for (int k = 1; k < lines.length; k++) {
                int colon = lines[k].indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String name = lines[k].substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = lines[k].substring(colon + 1).trim();
                switch (name) {
                    case "content-type" -> contentType = value;
                    case "content-length" -> length = parseLong(value);
                    case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                    default -> { }
                }
            }
            int bodyStart = headEnd + 4;
            if (code >= 100 && code < 200) {
                i = bodyStart;
                continue;
            }
            byte[] body;
            if (chunked) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                int p = bodyStart;
                while (true) {
                    int lineEnd = indexOf(b, bytes("\r\n"), p);
                    if (lineEnd < 0) {
                        return strict ? null : answers;
                    }
                    int size = (int) parseLong("0x" + new String(b, p, lineEnd - p, StandardCharsets.ISO_8859_1)
                            .split(";")[0].trim());
                    if (size < 0) {
                        return strict ? null : answers;
                    }
                    p = lineEnd + 2;
                    if (size == 0) {
                        int end = indexOf(b, bytes("\r\n"), p);
                        if (end < 0) {
                            return strict ? null : answers;
                        }
                        p = end + 2;
                        break;
                    }
                    if (p + size + 2 > b.length) {
                        return strict ? null : answers;
                    }
                    out.write(b, p, size);
                    p += size + 2;
                }
                body = out.toByteArray();
                i = p;
            } else if (length >= 0) {
                if (bodyStart + length > b.length) {
                    return strict ? null : answers;
                }
                body = Arrays.copyOfRange(b, bodyStart, (int) (bodyStart + length));
                i = (int) (bodyStart + length);
            } else if (code == 204 || code == 304) {
                body = new byte[0];
                i = bodyStart;
            } else {
                if (strict) {
                    return null; // runs to the end of the connection
                }
                body = Arrays.copyOfRange(b, bodyStart, b.length);
                i = b.length;
            }
            answers.add(new Answer(code, contentType, new String(body, StandardCharsets.UTF_8)));
        }
        return answers;
    }

    // ---- HttpClient cases: bodies, shapes, numbers, names, uploads ---------------------------------------------

    private void clientCase() {
        Route route = pick(routes);
        boolean changes = changes(route);
        String method = random.nextInt(8) == 0 ? pick(METHODS) : route.method();
        String path = fill(route, !changes && method.equals(route.method()));
        if (random.nextInt(6) == 0) {
            path += pick("?version=abc", "?version=-1", "?version=%00", "?version=99999999999", "?file_name=..%2F..%2Fx.pt",
                    "?file_name=a%2F..%2Fb&engine=PyTorch", "?engine=%00", "?make_default=maybe", "?x=%25%25",
                    "?version=1&version=2", "?" + "q=1&".repeat(500));
        }
        byte[] body = body(route);
        HttpRequest.Builder b;
        try {
            b = HttpRequest.newBuilder(base.resolve(path.substring(1))).timeout(Duration.ofSeconds(20));
        } catch (IllegalArgumentException e) {
            return; // not a URI Java's client sends: the raw cases cover those
        }
        int who = random.nextInt(10);
        if (who < 7) {
            b.header("Authorization", "Bearer " + token);
        } else if (who == 7) {
            b.header("Authorization", pick("Bearer wrong-token", "Bearer " + token + "x", "Basic Zm9vOmJhcg==",
                    "Bearer"));
        }
        String contentType = route.template().endsWith("/infer") && random.nextInt(3) == 0
                ? "application/octet-stream" : "application/json";
        if (random.nextInt(6) == 0) {
            contentType = pick(CONTENT_TYPES);
        }
        if (isUpload(route) && random.nextInt(3) > 0) {
            String boundary = "fuzz" + random.nextInt(1000);
            body = multipart(boundary);
            contentType = pick("multipart/form-data; boundary=" + boundary, "multipart/form-data; boundary=" + boundary,
                    "multipart/form-data", "multipart/form-data; boundary=other", "multipart/mixed; boundary="
                            + boundary);
        }
        b.header("Content-Type", contentType);
        StringBuilder headers = new StringBuilder("Content-Type: " + contentType);
        if (random.nextInt(5) == 0) {
            String[] h = pick(new String[][] {
                {"Content-Encoding", "gzip"}, {"Content-Encoding", "deflate"}, {"Content-Encoding", "br"},
                {"Content-Encoding", "gzip, gzip"}, {"Inference-Header-Content-Length", "-1"},
                {"Inference-Header-Content-Length", "abc"}, {"Inference-Header-Content-Length", "0"},
                {"Inference-Header-Content-Length", "99999999999999999999"},
                {"Inference-Header-Content-Length", String.valueOf(body.length + 1)},
                {"X-Request-Timeout-Ms", "-5"}, {"X-Request-Timeout-Ms", "abc"}, {"X-Request-Timeout-Ms", "0"},
                {"Accept", "application/xml"}, {"Accept", "text/html;q=abc"}, {"Accept-Encoding", "gzip;q=x, *"},
                {"Accept", "application/octet-stream"}});
            b.header(h[0], h[1]);
            headers.append(", ").append(h[0]).append(": ").append(h[1]);
            if (h[0].equals("Content-Encoding") && h[1].startsWith("gzip")) {
                body = pick(gzip(body), randomBytes(20), Arrays.copyOf(gzip(body), Math.max(1, gzip(body).length / 2)),
                        gzipBomb());
            }
        }
        if (route.template().endsWith("/infer") && random.nextInt(4) == 0) {
            byte[][] binary = binaryInfer();
            body = binary[0];
            String length = new String(binary[1], StandardCharsets.US_ASCII);
            b.header("Inference-Header-Content-Length", length);
            headers.append(", Inference-Header-Content-Length: ").append(length);
        }
        boolean head = method.equals("HEAD");
        try {
            b.method(method, body.length == 0 && (method.equals("GET") || method.equals("DELETE"))
                    ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        } catch (IllegalArgumentException e) {
            return;
        }
        if (who == 9 || who == 8) {
            headers.append(", ").append(who == 8 ? "wrong token" : "no token");
        }
        String shown = method + " " + path + " [" + headers + "] " + printable(body, 300);
        HttpRequest request;
        try {
            request = b.build();
        } catch (IllegalArgumentException | IllegalStateException e) {
            return;
        }
        try {
            HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            judge(shown, new Answer(response.statusCode(), response.headers().firstValue("Content-Type").orElse(null),
                    new String(response.body(), StandardCharsets.UTF_8)), head);
        } catch (IOException e) {
            noAnswer(shown, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Whether a call changes what the server serves (then it only gets names the server must refuse). */
    private static boolean changes(Route r) {
        String t = r.template();
        return switch (r.method()) {
            case "DELETE", "PUT" -> true;
            case "POST" -> !(t.endsWith("/prediction") || t.endsWith("/infer") || t.endsWith("/sendtomodelhost")
                    || t.endsWith("/repository/index") || t.endsWith("/load") || t.endsWith("/unload"));
            default -> false;
        };
    }

    private static boolean isUpload(Route r) {
        return r.method().equals("POST") && r.template().equals("/api/v1/models/{model}");
    }

    /** The route's path with its parameters filled in. */
    private String fill(Route route, boolean readOnly) {
        String path = route.template();
        if (path.contains("{model}")) {
            String name;
            if (isUpload(route) || path.endsWith("/default") || (path.endsWith("/information")
                    && route.method().equals("POST"))) {
                name = random.nextInt(5) == 0 ? UPLOAD_MODEL : pick(HOSTILE_NAMES);
            } else if (readOnly && random.nextBoolean()) {
                name = pick(READ_NAMES);
            } else {
                name = pick(HOSTILE_NAMES);
            }
            path = path.replace("{model}", name);
        }
        if (path.contains("{version}")) {
            path = path.replace("{version}", readOnly && random.nextBoolean() ? "1" : pick(VERSIONS));
        }
        if (path.contains("{id}")) {
            path = path.replace("{id}", pick(IDS));
        }
        return path;
    }

    // ---- bodies ----------------------------------------------------------------------------------------------

    private byte[] body(Route route) {
        String t = route.template();
        int kind = random.nextInt(10);
        if (kind == 0) {
            return junk();
        }
        if (t.endsWith("/infer")) {
            return json(kserve());
        }
        if (t.endsWith("/prediction")) {
            return json(v1());
        }
        if (t.endsWith("/default")) {
            return json(object("default", pickValue(-1, 0, 99999999999L, "x", HUGE, null, List.of(), 2.5, 1)));
        }
        if (t.endsWith("/information")) {
            return json(object("model_description", pickValue(5, null, List.of(), "x".repeat(100_000), "\u0000\u0001",
                    Map.of("a", 1))));
        }
        if (t.endsWith("/modelhosts") && route.method().equals("POST")) {
            ObjectNode o = JSON.createObjectNode();
            o.set("id", JSON.valueToTree(pickValue("../x", "a/b", "$x", "", "a b", "x".repeat(100), 5, null, ".x",
                    "-x", List.of("mh3"))));
            o.set("workers", JSON.valueToTree(pickValue(0, -1, HUGE, "x", 99999999999L, 2, null, 4294967298L)));
            o.set("queue_capacity", JSON.valueToTree(pickValue(0, -1, "x", 2e9, 64, null)));
            o.set("models", JSON.valueToTree(pickValue(5, "*", "../x", null, List.of("*"))));
            return json(o);
        }
        if (t.endsWith("/balancer")) {
            return json(object("strategy", pickValue("FASTEST", "", 5, null, "round-robin-x", "${jndi:x}", List.of())));
        }
        if (t.endsWith("/sendtomodelhost")) {
            return json(object("data", pickValue("x", 5, null, Map.of("a", 1), manyNumbers(20_000),
                    manyNumbers(3), nested(3000))));
        }
        if (t.endsWith("/repository/index")) {
            return json(object("ready", pickValue("x", 5, null, List.of(), true)));
        }
        if (t.endsWith("/load") || t.endsWith("/unload")) {
            return json(object("parameters", pickValue(Map.of("config", "{}"), Map.of("file:1/model.pt", "AAAA"),
                    "x", 5, List.of(), Map.of())));
        }
        return kind < 5 ? new byte[0] : junk();
    }

    /** Bodies no call takes: garbage bytes, cut JSON, deep nesting, huge numbers, non-finite tokens. */
    private byte[] junk() {
        return switch (random.nextInt(12)) {
            case 0 -> randomBytes(random.nextInt(4000));
            case 1 -> bytes("[".repeat(50_000) + "]".repeat(50_000));
            case 2 -> bytes("{\"a\":".repeat(5000) + "1" + "}".repeat(5000));
            case 3 -> bytes("{\"values\": [1" + "0".repeat(5000) + "]}");
            case 4 -> bytes("{\"values\": [NaN, Infinity, -Infinity, 1]}");
            case 5 -> bytes(pick("", " ", "null", "[]", "{}", "\"x\"", "1", "true", "{\"inputs\": ", "{\"inputs\"",
                    "{'inputs': []}", "{\"inputs\": [] /* */}", "\ufeff{}", "{\"a\":1}{\"b\":2}", "\u0000"));
            case 6 -> {
                byte[] v = json(kserve());
                yield Arrays.copyOf(v, random.nextInt(Math.max(1, v.length)));
            }
            case 7 -> bytes("{\"values\": \"" + "\\u0000".repeat(1000) + "\\ud800\"}");
            case 8 -> new byte[] {(byte) 0xff, (byte) 0xfe, '{', 0, '}', 0};
            case 9 -> bytes("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": "
                    + "[1e400, -1e400, 1e-400, 1]}]}");
            case 10 -> bytes("{\"values\": [[" + "1,".repeat(100_000) + "1]]}");
            default -> bytes("{\"values\": [1, 2, 3, 4], \"values\": {\"x\": 1}}");
        };
    }

    /** A v2 inference body with one or more things wrong (or none: the model answers). */
    private ObjectNode kserve() {
        ObjectNode input = JSON.createObjectNode();
        input.put("name", "input");
        ArrayNode shape = input.putArray("shape");
        shape.add(1).add(4);
        input.put("datatype", "FP32");
        ArrayNode data = input.putArray("data");
        data.add(5.1).add(3.5).add(1.4).add(0.2);
        ObjectNode request = JSON.createObjectNode();
        request.putArray("inputs").add(input);
        int wrongs = random.nextInt(3);
        for (int i = 0; i < wrongs; i++) {
            switch (random.nextInt(14)) {
                case 0 -> input.set("shape", JSON.valueToTree(pickValue(List.of(4611686018427387904L, 4),
                        List.of(-1, 4), List.of(0, 4), List.of(), List.of(1, 4, 1, 1, 1, 1, 1, 1, 1, 1),
                        List.of(4294967296L, 4294967296L, 4294967296L), List.of(100_000_000, 4), List.of("a"),
                        List.of(1.5, 4), List.of(Long.MAX_VALUE, 2), "1,4", null, List.of(HUGE),
                        List.of(-9223372036854775808L, -1), List.of(1, 4).subList(0, 1), manyNumbers(10_000))));
                case 1 -> input.set("datatype", JSON.valueToTree(pickValue("FP33", "", 5, null, "fp32", "BYTES",
                        "INT64", "BOOL", "UINT64", "FP16", "BF16", "INT8", "UINT8", "INT16", "\u0000", "TYPE_FP32")));
                case 2 -> input.set("data", JSON.valueToTree(pickValue(List.of(HUGE, 1, 1, 1), List.of(1e39, 1, 1, 1),
                        List.of("NaN", 1, 1, 1), List.of("a", "b", "c", "d"), List.of(List.of(1, 2), List.of(3)),
                        Map.of(), null, "string", true, List.of(1, 2, 3, 4, 5, 6, 7, 8, 9), List.of(1),
                        List.of(HUGE.negate(), 0, 0, 0), List.of(true, false, true, false), nested(2000),
                        List.of(99999999999999999999.0, 1, 1, 1), manyNumbers(40_000))));
                case 3 -> input.set("name", JSON.valueToTree(pickValue("", null, 5, "x".repeat(10_000), "zzz",
                        "INPUT__0", "INPUT__9", "\u0000", "../input")));
                case 4 -> request.set("inputs", JSON.valueToTree(pickValue(List.of(), Map.of(), null, "x",
                        java.util.Arrays.asList((Object) null), List.of(List.of()))));
                case 5 -> {
                    if (request.get("inputs") instanceof ArrayNode inputs) {
                        inputs.add(input.deepCopy());
                    }
                }
                case 6 -> request.set("outputs", JSON.valueToTree(pickValue(List.of("x"), List.of(Map.of("name", 5)),
                        List.of(Map.of("name", "nope")), "x", List.of(Map.of("name", "probabilities", "parameters",
                                Map.of("binary_data", "yes"))), List.of(Map.of("name", "probabilities", "parameters",
                                Map.of("classification", 3))))));
                case 7 -> request.set("parameters", JSON.valueToTree(pickValue(List.of(), "x",
                        Map.of("binary_data_output", "yes"), Map.of("timeout", -1), Map.of("timeout", "x"),
                        Map.of("timeout", HUGE), Map.of("timeout", 99999999999999999L))));
                case 8 -> request.set("id", JSON.valueToTree(pickValue(Map.of("a", 1), List.of(), 5, "x".repeat(1000))));
                case 9 -> input.set("parameters", JSON.valueToTree(pickValue(Map.of("binary_data_size", -4),
                        Map.of("binary_data_size", 16), Map.of("binary_data_size", "x"), List.of(), "x",
                        Map.of("binary_data_size", 99999999999L))));
                case 10 -> {
                    input.put("datatype", "BYTES");
                    input.set("data", JSON.valueToTree(pickValue(List.of("a", "b", "c", "d"), List.of(1, 2, 3, 4),
                            List.of("\u0000", "\ud800", "x", "y"))));
                }
                case 11 -> {
                    input.put("datatype", pick("FP16", "BF16", "FP64"));
                    input.set("data", JSON.valueToTree(pickValue(List.of(70000, 1, 1, 1), List.of(HUGE, 1, 1, 1),
                            List.of(1, 2, 3, 4))));
                }
                case 12 -> request.remove(pick("inputs", "outputs", "id"));
                default -> input.remove(pick("name", "shape", "datatype", "data"));
            }
        }
        return request;
    }

    /** A v1 prediction body with one or more things wrong (or none). */
    private ObjectNode v1() {
        Object values = pickValue(List.of(5.1, 3.5, 1.4, 0.2), List.of(HUGE, 1, 1, 1), List.of(1e39, 1, 1, 1),
                List.of(List.of(1, 2, 3, 4), List.of(1, 2)), List.of(), Map.of(), Map.of("input", List.of(1, 2, 3, 4)),
                Map.of("nope", List.of(1, 2, 3, 4)), Map.of("input", "x"), "x", 5, null, List.of("a", "b", "c", "d"),
                List.of(1, 2, 3), List.of(List.of(List.of(List.of(List.of(1))))), nested(900), manyNumbers(50_000),
                List.of(List.of(1, 2, 3, 4), List.of(5, 6, 7, 8)), List.of(true, false, true, false),
                List.of(Map.of("a", 1)), List.of(99999999999999999999.0, 1, 1, 1));
        ObjectNode body = JSON.createObjectNode();
        body.set(random.nextInt(12) == 0 ? pick("value", "Values", "") : "values", JSON.valueToTree(values));
        return body;
    }

    /** A binary v2 body: JSON header and tensors, with sizes, lengths and values that may not add up. */
    private byte[][] binaryInfer() {
        int floats = pick(new Integer[] {4, 4, 4, 3, 0, 8, 5});
        ByteBuffer data = ByteBuffer.allocate(floats * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < floats; i++) {
            data.putFloat(pick(new Float[] {1f, 2.5f, Float.NaN, Float.POSITIVE_INFINITY, -0f, Float.MAX_VALUE}));
        }
        long size = pick(new Long[] {(long) floats * 4, 16L, -4L, 99999999999L, 0L, 15L, 17L});
        String dtype = pick("FP32", "FP32", "FP16", "BYTES", "INT64", "BOOL");
        String header = "{\"inputs\": [{\"name\": \"input\", \"shape\": " + pick("[1, 4]", "[1, 4]", "[2, 4]",
                "[4611686018427387904, 4]", "[1, 1]", "[-1, 4]") + ", \"datatype\": \"" + dtype
                + "\", \"parameters\": {\"binary_data_size\": " + size + "}}]"
                + pick("", ", \"outputs\": [{\"name\": \"probabilities\", \"parameters\": {\"binary_data\": true}}]",
                        ", \"parameters\": {\"binary_data_output\": true}") + "}";
        byte[] h = bytes(header);
        byte[] tail = random.nextInt(5) == 0 ? randomBytes(random.nextInt(64)) : data.array();
        byte[] body = new byte[h.length + tail.length];
        System.arraycopy(h, 0, body, 0, h.length);
        System.arraycopy(tail, 0, body, h.length, tail.length);
        String length = pick(String.valueOf(h.length), String.valueOf(h.length), String.valueOf(h.length - 1),
                String.valueOf(h.length + 3), "0", "-1", String.valueOf(body.length + 100), "x");
        return new byte[][] {body, bytes(length)};
    }

    /** A multipart upload with hostile file names, parts and framing. */
    private byte[] multipart(String boundary) {
        String fileName = pick("../../x.pt", "a/../b", "C:\\models\\m.pt", "", "m\u0000.pt", "x".repeat(2000) + ".pt",
                "caf\u00e9.pt", "x.pt/../y", "..", "/etc/passwd", "model.pt", "m.PT", "m.onnx", "m.", ".pt",
                "m.p t", "%2e%2e%2fx.pt", "m.pt\r\nX: y", "m.toolongextension1234");
        StringBuilder b = new StringBuilder();
        int parts = random.nextInt(4);
        if (random.nextInt(6) > 0) {
            b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"")
                    .append(pick("path", "path", "path", "file", "", "pa\"th")).append("\"; filename=\"")
                    .append(fileName).append("\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .append(new String(randomBytes(1 + random.nextInt(64)), StandardCharsets.ISO_8859_1))
                    .append("\r\n");
        }
        for (int i = 0; i < parts; i++) {
            String field = pick("metadata", "engine", "model_description", "make_default", "path");
            String value = switch (field) {
                case "metadata" -> pick("{\"inputs\": [", "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"complex\"}]}",
                        "{\"labels\": {\"a\": [1]}}", "[]", "{\"unknown\": 1}", "\u0000");
                case "engine" -> pick("PyTorch", "", "../x", "${jndi:x}", "NoSuchEngine", "x".repeat(300));
                case "make_default" -> pick("false", "maybe", "");
                default -> pick("x", "\u0000", "y".repeat(10_000));
            };
            b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(field)
                    .append("\"\r\n\r\n").append(value).append("\r\n");
        }
        switch (random.nextInt(6)) {
            case 0 -> { } // no closing boundary
            case 1 -> b.append("--").append(boundary).append("\r\n"); // an open part at the end
            case 2 -> b.append("--other--\r\n");
            default -> b.append("--").append(boundary).append("--\r\n");
        }
        return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static byte[] json(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode object(String field, Object value) {
        ObjectNode o = JSON.createObjectNode();
        o.set(field, JSON.valueToTree(value));
        return o;
    }

    private static List<Integer> manyNumbers(int n) {
        List<Integer> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(i % 7);
        }
        return out;
    }

    /** {@code [[[...1...]]]}, {@code depth} deep, written as it is (Jackson refuses to write more than 1000 levels). */
    private static JsonNode nested(int depth) {
        return JSON.getNodeFactory().rawValueNode(new com.fasterxml.jackson.databind.util.RawValue(
                "[".repeat(depth) + "1" + "]".repeat(depth)));
    }

    private byte[] gzip(byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            z.write(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    private byte[] gzipBomb() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 8; i++) {
                z.write(zeros);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private byte[] insert(byte[] into, byte[] what, boolean anywhere) {
        int at = anywhere && into.length > 1 ? 1 + random.nextInt(into.length) : into.length;
        byte[] out = new byte[into.length + what.length];
        System.arraycopy(into, 0, out, 0, at);
        System.arraycopy(what, 0, out, at, what.length);
        System.arraycopy(into, at, out, at + what.length, into.length - at);
        return out;
    }

    @SafeVarargs
    private <T> T pick(T... options) {
        return options[random.nextInt(options.length)];
    }

    private <T> T pick(List<T> options) {
        return options.get(random.nextInt(options.size()));
    }

    private Object pickValue(Object... options) {
        return options[random.nextInt(options.length)];
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A decimal, or with 0x a hex number; -1 when it is not one. */
    private static long parseLong(String s) {
        try {
            return s.startsWith("0x") ? Long.parseLong(s.substring(2), 16) : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static int indexOf(byte[] b, byte[] what, int from) {
        outer:
        for (int i = from; i <= b.length - what.length; i++) {
            for (int k = 0; k < what.length; k++) {
                if (b[i + k] != what[k]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Bytes as a message shows them: printable ASCII as it is, the rest as \xNN, at most {@code max} of them. */
    static String printable(byte[] b, int max) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, max); i++) {
            int c = b[i] & 0xff;
            if (c == '\r') {
                s.append("\\r");
            } else if (c == '\n') {
                s.append("\\n");
            } else if (c >= 0x20 && c < 0x7f) {
                s.append((char) c);
            } else {
                s.append(String.format("\\x%02x", c));
            }
        }
        return b.length > max ? s + "... (" + b.length + " bytes)" : s.toString();
    }

    private static String shorten(String s, int max) {
        return s == null ? "" : s.length() > max ? s.substring(0, max) + "..." : s;
    }

    /** Standalone: {@code BASE_URL TOKEN [SEED] [CASES] [SERVER_HOME]}. */
    public static void main(String[] args) throws Exception {
        URI base = URI.create(args[0].endsWith("/") ? args[0] : args[0] + "/");
        String token = args[1];
        long seed = args.length > 2 ? Long.parseLong(args[2]) : 20261202L;
        int cases = args.length > 3 ? Integer.parseInt(args[3]) : 3000;
        List<String> forbidden = args.length > 4 ? List.of(args[4]) : List.of();
        HttpClient c = HttpClient.newHttpClient();
        JsonNode help = JSON.readTree(c.send(HttpRequest.newBuilder(base.resolve("help")).build(),
                HttpResponse.BodyHandlers.ofString()).body());
        HostileRequests fuzz = new HostileRequests(base, token, seed, routes(help), forbidden);
        Report report = fuzz.run(cases * 2 / 5, cases - cases * 2 / 5);
        System.out.println(report.summary());
        System.out.println(report.failureText());
    }
}
