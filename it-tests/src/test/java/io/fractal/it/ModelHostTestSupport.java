package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.options.CompositeOption;
import org.ops4j.pax.exam.options.FrameworkPropertyOption;
import org.osgi.framework.ServiceReference;

/**
 * What the modelhost, balancer, shell and metrics tests add to {@link FractalTestSupport}: a server whose
 * modelhosts the test class chooses, an HTTP client that also PUTs and reads any content type, the Gogo shell
 * through the {@link CommandProcessor} service, the Prometheus exposition parsed, and the modelhosts and balancer
 * as the REST API shows them.
 */
public abstract class ModelHostTestSupport extends FractalTestSupport {

    private static final ObjectMapper JSON = new ObjectMapper();

    // ------------------------------------------------------------------------------------------------
    // Option sets: run in the driver JVM
    // ------------------------------------------------------------------------------------------------

    /** One modelhost as its {@code deploy/io.fractal.modelhost-<id>.cfg} configures it. */
    protected record HostConfig(String id, int workers, int queueCapacity, String models) {
    }

    /**
     * An isolated server (as {@link #isolatedServer(String...)} prepares it: its own home, deploy folder and free
     * ports, the named sample models) whose modelhosts are the given ones instead of {@code mh1} and {@code mh2},
     * and whose deploy folder holds the given extra configurations ({@code pid -> key, value, ...}).
     */
    protected static Option serverWithModelhosts(List<HostConfig> hosts, Map<String, List<Object>> configs,
            String... sampleModels) {
        Option server = isolatedServer(sampleModels);
        Path deploy = Paths.get(propertyIn(server, DEPLOY_DIR));
        try {
            try (Stream<Path> files = Files.list(deploy)) {
                for (Path cfg : files.filter(f -> f.getFileName().toString().startsWith("io.fractal.modelhost-")).toList()) {
                    Files.delete(cfg);
                }
            }
            for (HostConfig host : hosts) {
                writeConfig(deploy.resolve("io.fractal.modelhost-" + host.id() + ".cfg"), "id", host.id(), "workers",
                        host.workers(), "queue.capacity", host.queueCapacity(), "models", host.models());
            }
            for (Map.Entry<String, List<Object>> config : configs.entrySet()) {
                writeConfig(deploy.resolve(config.getKey() + ".cfg"), config.getValue().toArray());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write the modelhost configurations into " + deploy, e);
        }
        return server;
    }

    private static String propertyIn(Option option, String key) {
        if (option instanceof FrameworkPropertyOption property && key.equals(property.getKey())) {
            return String.valueOf(property.getValue());
        }
        if (option instanceof CompositeOption composite) {
            for (Option inner : composite.getOptions()) {
                String value = propertyIn(inner, key);
                if (value != null) {
                    return value;
                }
            }
        }
        return null;
    }

    private static void writeConfig(Path file, Object... keyValues) throws IOException {
        Properties properties = new Properties();
        for (int i = 0; i < keyValues.length; i += 2) {
            properties.setProperty(String.valueOf(keyValues[i]), String.valueOf(keyValues[i + 1]));
        }
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.ISO_8859_1)) {
            properties.store(writer, "written by " + ModelHostTestSupport.class.getSimpleName());
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers for the test methods: run in the probe, inside the framework
    // ------------------------------------------------------------------------------------------------

    /** A client on the REST port that also PUTs, sends headers and reads any content type. */
    protected Client rest() {
        return new Client(URI.create("http://127.0.0.1:" + serverProperty(REST_PORT)));
    }

    /** A client on the metrics listener's port. */
    protected Client metricsListener() {
        return new Client(URI.create("http://127.0.0.1:" + serverProperty(METRICS_PORT)));
    }

    /** The remote shell's port (the {@code port} of {@code io.fractal.shell} this server was given). */
    protected int remoteShellPort() {
        return Integer.parseInt(serverProperty(SHELL_PORT));
    }

    protected String serverProperty(String key) {
        String value = context.getProperty(key);
        assertNotNull("framework property " + key, value);
        return value;
    }

    /** Writes a file into the deploy folder in one rename, so FileInstall never sees half of it. */
    protected Path dropIntoDeploy(String name, byte[] bytes) throws IOException {
        Path staging = Files.createDirectories(Paths.get(serverProperty(FRACTAL_HOME), "staging-" + getClass().getSimpleName()));
        Path file = Files.createTempFile(staging, name, ".tmp");
        Files.write(file, bytes);
        return Files.move(file, deployFolder().resolve(name), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
    }

    /** A modelhost {@code .cfg} file's content. */
    protected static byte[] modelhostCfg(String id, int workers, int queueCapacity, String models) {
        return ("id=" + id + "\nworkers=" + workers + "\nqueue.capacity=" + queueCapacity + "\nmodels=" + models + "\n")
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    // ---- modelhosts and the balancer as the REST API shows them

    /** {@code GET /api/v1/modelhosts}, which must answer 200. */
    protected JsonNode modelhosts() {
        Response list = rest().get("/api/v1/modelhosts");
        assertEquals(list.toString(), 200, list.status);
        return list.json;
    }

    /** The entry of a live modelhost in {@code GET /api/v1/modelhosts}, or null. */
    protected JsonNode modelhost(String id) {
        return find(modelhosts().path("modelhosts"), "id", id);
    }

    /** The ids {@code GET /api/v1/modelhosts} lists. */
    protected List<String> modelhostIds() {
        List<String> ids = new ArrayList<>();
        modelhosts().path("modelhosts").forEach(h -> ids.add(h.path("id").asText()));
        return ids;
    }

    /** {@code GET /api/v1/balancer}, which must answer 200. */
    protected JsonNode balancer() {
        Response balancer = rest().get("/api/v1/balancer");
        assertEquals(balancer.toString(), 200, balancer.status);
        return balancer.json;
    }

    /** The element of a JSON array whose {@code field} is {@code value}, or null. */
    protected static JsonNode find(JsonNode array, String field, String value) {
        for (JsonNode element : array) {
            if (value.equals(element.path(field).asText())) {
                return element;
            }
        }
        return null;
    }

    /** Waits until a model's default version is READY on each of these modelhosts. */
    protected void awaitReadyOn(String model, String... hosts) {
        awaitServer();
        await("model " + model + " READY on " + Arrays.toString(hosts)).atMost(READY_TIMEOUT)
                .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> {
                    Response view = rest().get("/api/v1/models/" + model);
                    assertEquals(view.toString(), 200, view.status);
                    int defaultVersion = view.json.path("default_version").asInt();
                    JsonNode version = null;
                    for (JsonNode v : view.json.path("versions")) {
                        if (v.path("version").asInt() == defaultVersion) {
                            version = v;
                        }
                    }
                    assertNotNull("default version in " + view, version);
                    for (String host : hosts) {
                        assertEquals("state on " + host + " in " + view, "READY",
                                version.path("modelhosts").path(host).asText());
                    }
                });
    }

    /** A JSON body. */
    protected static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- the Gogo shell

    /** A Gogo session of the framework's {@link CommandProcessor}, as the console and {@code bin/client} use it. */
    protected Shell shell() {
        ServiceReference<CommandProcessor> reference = context.getServiceReference(CommandProcessor.class);
        assertNotNull("no Gogo CommandProcessor service", reference);
        CommandProcessor processor = context.getService(reference);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        return new Shell(processor.createSession(java.io.InputStream.nullInputStream(), out, out), out);
    }

    /** One Gogo session; {@link #run} returns what the console would print for a command. */
    public static final class Shell implements AutoCloseable {
        private final CommandSession session;
        private final ByteArrayOutputStream out;

        Shell(CommandSession session, ByteArrayOutputStream out) {
            this.session = session;
            this.out = out;
        }

        /** Runs a command line; its result formatted as the console prints it, after anything it printed. */
        public String run(String command) throws Exception {
            out.reset();
            Object result = session.execute(command);
            String printed = out.toString(StandardCharsets.UTF_8);
            return printed + (result == null ? "" : String.valueOf(session.format(result, Converter.INSPECT)));
        }

        @Override
        public void close() {
            session.close();
        }
    }

    // ---- HTTP

    /** An answer: status, content type, headers and body (parsed when it is JSON). */
    public static final class Response {
        public final int status;
        public final String body;
        public final JsonNode json;
        public final HttpResponse<String> response;

        Response(HttpResponse<String> response) {
            this.response = response;
            this.status = response.statusCode();
            this.body = response.body();
            JsonNode parsed;
            try {
                parsed = body == null || body.isBlank() ? JSON.missingNode() : JSON.readTree(body);
            } catch (IOException e) {
                parsed = JSON.missingNode();
            }
            this.json = parsed;
        }

        public String header(String name) {
            return response.headers().firstValue(name).orElse(null);
        }

        public String error() {
            return json.path("error").asText(null);
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    /** A small HTTP/1.1 client: JSON in and out by default, any content type on request. */
    public static final class Client {
        static final HttpClient CLIENT = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        private static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);

        private final URI base;

        Client(URI base) {
            this.base = base;
        }

        public URI base() {
            return base;
        }

        public Response get(String path) {
            return send(request(path, "application/json").GET());
        }

        /** GETs with the {@code Accept} header a scraper sends. */
        public Response get(String path, String accept) {
            return send(request(path, accept).GET());
        }

        public Response delete(String path) {
            return send(request(path, "application/json").DELETE());
        }

        public Response post(String path, Object body) {
            return send(request(path, "application/json").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : toJson(body))));
        }

        /** A POST without a body (drain, resume). */
        public Response post(String path) {
            return send(request(path, "application/json").POST(HttpRequest.BodyPublishers.noBody()));
        }

        public Response put(String path, Object body) {
            return send(request(path, "application/json").header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : toJson(body))));
        }

        private HttpRequest.Builder request(String path, String accept) {
            HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path)).timeout(CALL_TIMEOUT);
            return accept == null ? builder : builder.header("Accept", accept);
        }

        private static Response send(HttpRequest.Builder request) {
            try {
                return new Response(CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    /** Key, value pairs as a map, in order (for JSON bodies with more than Map.of's ten entries or null values). */
    protected static Map<String, Object> body(Object... keyValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put(String.valueOf(keyValues[i]), keyValues[i + 1]);
        }
        return map;
    }

    /** Asserts a condition with the answer that broke it in the message. */
    protected static void assertAnswer(String what, boolean condition, Object answer) {
        assertTrue(what + ": " + answer, condition);
    }
}
