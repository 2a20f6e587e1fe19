package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.bootDelegationPackage;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemPackage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.ServerSocket;
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
import java.util.List;
import java.util.Properties;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import javax.inject.Inject;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.options.UrlProvisionOption;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

/**
 * The base of every integration test: named option sets that describe the runtime a test class boots
 * (evaluated in the driver JVM), and the helpers its test methods use (run in the probe, inside the
 * framework).
 *
 * <p>Each test class gets an isolated server: its own {@code fractal.home}, its own deploy folder watched
 * by FileInstall, its own free ports. What the driver chose reaches the probe as framework properties,
 * read through the injected {@link BundleContext}.
 */
public abstract class FractalTestSupport {

    /** Framework property: the port the REST server of this test class listens on. */
    protected static final String REST_PORT = "fractal.it.rest.port";
    /** Framework property: the port of the metrics endpoint. */
    protected static final String METRICS_PORT = "fractal.it.metrics.port";
    /** Framework property: the deploy folder FileInstall watches. */
    protected static final String DEPLOY_DIR = "fractal.it.deploy";
    /** Framework property the bundles read as their home folder. */
    protected static final String FRACTAL_HOME = "fractal.home";

    /** The modelhosts every test server runs (both serve every model). */
    protected static final List<String> MODELHOSTS = List.of("mh1", "mh2");
    /** Tolerance on prediction values. */
    protected static final double TOLERANCE = 1e-4;
    /** Upper bound for a model to load (the first PyTorch start of a JVM extracts the natives). */
    protected static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    protected BundleContext context;

    /** The default runtime: the whole distribution, an isolated server with the sample models, test libraries. */
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("iris", "digits"), testLibraries());
    }

    // ------------------------------------------------------------------------------------------------
    // Option sets: run in the driver JVM
    // ------------------------------------------------------------------------------------------------

    /**
     * The distribution as {@code runtime/} assembles it: every jar of {@code boot/} (start level 1, when there
     * is such a folder) and of {@code bundle/}, started; the packages the system bundle exports taken from
     * its {@code conf/config.properties}, the one place that lists them.
     */
    protected static Option distribution() {
        Path dist = distributionFolder();
        Properties config = loadProperties(dist.resolve("conf/config.properties"));
        List<Option> options = new ArrayList<>();
        // Pax Exam adds its own system packages; a systemPackage option joins the list instead of replacing it.
        String extra = resolved(config, "org.osgi.framework.system.packages.extra");
        if (extra != null && !extra.isBlank()) {
            options.add(systemPackage(compact(extra)));
        }
        String bootDelegation = resolved(config, "org.osgi.framework.bootdelegation");
        if (bootDelegation != null && !bootDelegation.isBlank()) {
            for (String pkg : compact(bootDelegation).split(",")) {
                options.add(bootDelegationPackage(pkg));
            }
        }
        options.addAll(bundlesOf(dist.resolve("boot"), 1));
        options.addAll(bundlesOf(dist.resolve("bundle"), 2));
        // what the launcher sets when headless: the shell neither reads stdin (the test JVM's belongs to
        // failsafe) nor stops the framework when it ends
        options.add(frameworkProperty("gosh.args").value("--nointeractive --noshutdown"));
        options.add(cleanCaches(true));
        return composite(options.toArray(new Option[0]));
    }

    /**
     * An isolated server: a fresh home and deploy folder under {@code target/it-work}, free ports for REST and
     * metrics, the modelhosts {@code mh1} and {@code mh2}, and copies of the named sample model folders of
     * the repository's {@code deploy/}.
     */
    protected static Option isolatedServer(String... sampleModels) {
        try {
            Path work = Files.createDirectories(Paths.get(System.getProperty("fractal.it.work", "target/it-work")));
            Path home = Files.createTempDirectory(work, "home-");
            Path deploy = Files.createTempDirectory(work, "deploy-");
            int[] ports = freePorts(2);

            writeConfig(deploy.resolve("io.fractal.rest.cfg"), "host", "127.0.0.1", "port", ports[0]);
            writeConfig(deploy.resolve("io.fractal.metrics.cfg"), "port", ports[1]);
            for (String host : MODELHOSTS) {
                writeConfig(deploy.resolve("io.fractal.modelhost-" + host + ".cfg"),
                        "id", host, "workers", 2, "queue.capacity", 64, "models", "*");
            }
            Path samples = Paths.get(System.getProperty("fractal.samples", "../deploy"));
            for (String model : sampleModels) {
                copyTree(samples.resolve(model), deploy.resolve(model));
            }

            return composite(
                    frameworkProperty(FRACTAL_HOME).value(home.toAbsolutePath().toString()),
                    frameworkProperty("felix.cm.dir").value(home.resolve("data/config").toAbsolutePath().toString()),
                    frameworkProperty("ds.loglevel").value("warn"),
                    frameworkProperty("felix.fileinstall.dir").value(deploy.toAbsolutePath().toString()),
                    frameworkProperty("felix.fileinstall.poll").value("200"),
                    frameworkProperty("felix.fileinstall.noInitialDelay").value("true"),
                    frameworkProperty("felix.fileinstall.bundles.new.start").value("true"),
                    frameworkProperty(REST_PORT).value(String.valueOf(ports[0])),
                    frameworkProperty(METRICS_PORT).value(String.valueOf(ports[1])),
                    frameworkProperty(DEPLOY_DIR).value(deploy.toAbsolutePath().toString()));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot prepare the test server's folders", e);
        }
    }

    /** JUnit for the probe, and Awaitility (with its Hamcrest 2) to wait without sleeping. */
    protected static Option testLibraries() {
        return composite(
                junitBundles(),
                mavenBundle("org.hamcrest", "hamcrest").versionAsInProject(),
                mavenBundle("org.awaitility", "awaitility").versionAsInProject());
    }

    private static Path distributionFolder() {
        Path dist = Paths.get(System.getProperty("fractal.dist", "../runtime/target/fractal-server"));
        if (!Files.isDirectory(dist.resolve("bundle")) || !Files.isRegularFile(dist.resolve("conf/config.properties"))) {
            throw new IllegalStateException("No distribution at " + dist.toAbsolutePath()
                    + ": build it first (mvn install -DskipTests in the repository root)");
        }
        return dist;
    }

    private static List<Option> bundlesOf(Path folder, int startLevel) {
        List<Option> options = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return options;
        }
        try (Stream<Path> jars = Files.list(folder)) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                UrlProvisionOption option = org.ops4j.pax.exam.CoreOptions.bundle(jar.toUri().toString()).startLevel(startLevel);
                // a fragment cannot be started; it attaches to its host
                options.add(isFragment(jar) ? option.noStart() : option.start());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return options;
    }

    private static boolean isFragment(Path jar) throws IOException {
        try (JarFile file = new JarFile(jar.toFile())) {
            Attributes main = file.getManifest() == null ? null : file.getManifest().getMainAttributes();
            return main != null && main.getValue("Fragment-Host") != null;
        }
    }

    private static Properties loadProperties(Path file) {
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
            properties.load(reader);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties;
    }

    /** A property with Felix-style {@code ${name}} references replaced from the same file or the system. */
    private static String resolved(Properties properties, String key) {
        String value = properties.getProperty(key);
        for (int guard = 0; value != null && value.contains("${") && guard < 20; guard++) {
            int start = value.indexOf("${");
            int end = value.indexOf('}', start);
            if (end < 0) {
                break;
            }
            String name = value.substring(start + 2, end);
            String replacement = properties.getProperty(name, System.getProperty(name, ""));
            value = value.substring(0, start) + replacement + value.substring(end + 1);
        }
        return value;
    }

    private static String compact(String list) {
        return list.replaceAll("\\s+", "").replaceAll(",+", ",").replaceAll("^,|,$", "");
    }

    private static int[] freePorts(int count) throws IOException {
        ServerSocket[] sockets = new ServerSocket[count];
        int[] ports = new int[count];
        try {
            for (int i = 0; i < count; i++) {
                sockets[i] = new ServerSocket(0);
                ports[i] = sockets[i].getLocalPort();
            }
        } finally {
            for (ServerSocket socket : sockets) {
                if (socket != null) {
                    socket.close();
                }
            }
        }
        return ports;
    }

    /** Writes a FileInstall {@code .cfg} (a properties file) from key, value pairs. */
    private static void writeConfig(Path file, Object... keyValues) throws IOException {
        Properties properties = new Properties();
        for (int i = 0; i < keyValues.length; i += 2) {
            properties.setProperty(String.valueOf(keyValues[i]), String.valueOf(keyValues[i + 1]));
        }
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.ISO_8859_1)) {
            properties.store(writer, "written by " + FractalTestSupport.class.getSimpleName());
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        if (!Files.isDirectory(from)) {
            throw new IllegalStateException("No sample model at " + from.toAbsolutePath());
        }
        try (Stream<Path> files = Files.walk(from)) {
            for (Path source : files.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers for the test methods: run in the probe, inside the framework
    // ------------------------------------------------------------------------------------------------

    /** An HTTP client on this test class's server. */
    protected Http http() {
        return new Http(URI.create("http://127.0.0.1:" + property(REST_PORT)));
    }

    /** The folder FileInstall watches for this test class. */
    protected Path deployFolder() {
        return Paths.get(property(DEPLOY_DIR));
    }

    /** Waits until the REST server answers {@code GET /}. */
    protected void awaitServer() {
        await("the REST server answers GET /").atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(100))
                .ignoreExceptions()
                .until(() -> http().get("/").status == 200);
    }

    /**
     * Waits until the model's default version is READY on every modelhost, as {@code GET /api/v1/models/<model>}
     * reports it, and {@code GET /v2/models/<model>/ready} agrees.
     */
    protected void awaitReady(String model) {
        awaitServer();
        await("model " + model + " READY on " + MODELHOSTS).atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(200))
                .untilAsserted(() -> assertReady(model));
    }

    private void assertReady(String model) {
        HttpResult ready = http().get("/v2/models/" + model + "/ready");
        assertTrue("GET /v2/models/" + model + "/ready -> " + ready, ready.status == 200 && ready.json.path("ready").asBoolean());
        HttpResult view = http().get("/api/v1/models/" + model);
        assertEquals("GET /api/v1/models/" + model + " -> " + view, 200, view.status);
        int defaultVersion = view.json.path("default_version").asInt();
        JsonNode version = null;
        for (JsonNode v : view.json.path("versions")) {
            if (v.path("version").asInt() == defaultVersion) {
                version = v;
            }
        }
        assertTrue("no default version in " + view, version != null);
        for (String host : MODELHOSTS) {
            assertEquals("state on " + host + " in " + view, "READY", version.path("modelhosts").path(host).asText());
        }
    }

    /** The expected inputs and outputs of a test model ({@code expected/<model>.json} of the test resources). */
    protected static JsonNode expected(String model) {
        return readJson("/expected/" + model + ".json");
    }

    /** A test resource's bytes (the probe carries the test resources). */
    protected static InputStream resource(String path) {
        InputStream in = FractalTestSupport.class.getResourceAsStream(path);
        if (in == null) {
            throw new IllegalStateException("No test resource " + path);
        }
        return in;
    }

    /** Copies a test resource into the deploy folder as {@code name}, atomically so FileInstall never sees half a file. */
    protected Path deploy(String resourcePath, String name) throws IOException {
        Path staging = Paths.get(property(FRACTAL_HOME)).resolveSibling(name + ".staging");
        try (InputStream in = resource(resourcePath)) {
            Files.copy(in, staging, StandardCopyOption.REPLACE_EXISTING);
        }
        return Files.move(staging, deployFolder().resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    /** The installed bundle with this symbolic name. */
    protected Bundle installedBundle(String symbolicName) {
        return Arrays.stream(context.getBundles())
                .filter(b -> symbolicName.equals(b.getSymbolicName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("No bundle " + symbolicName + " installed"));
    }

    private static JsonNode readJson(String path) {
        try (InputStream in = resource(path)) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String property(String key) {
        String value = context.getProperty(key);
        if (value == null) {
            throw new IllegalStateException("Framework property " + key + " is not set");
        }
        return value;
    }

    // ---- JSON and numbers

    /** A JSON tree from Java values (maps, lists, numbers, strings). */
    protected static JsonNode json(Object value) {
        return JSON.valueToTree(value);
    }

    /** A JSON tree from text. */
    protected static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** All numbers of a (nested) JSON array, in row-major order. */
    protected static double[] flatten(JsonNode array) {
        List<Double> values = new ArrayList<>();
        flattenInto(array, values);
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flattenInto(JsonNode node, List<Double> values) {
        if (node.isArray()) {
            node.forEach(child -> flattenInto(child, values));
        } else if (node.isNumber()) {
            values.add(node.asDouble());
        } else {
            fail("Not a number: " + node);
        }
    }

    /** Asserts two (nested) arrays hold the same numbers within {@link #TOLERANCE}. */
    protected static void assertValues(String message, JsonNode expected, JsonNode actual) {
        double[] e = flatten(expected);
        double[] a = flatten(actual);
        assertEquals(message + ": number of values in " + actual, e.length, a.length);
        for (int i = 0; i < e.length; i++) {
            assertEquals(message + ": value " + i + " of " + actual, e[i], a[i], TOLERANCE);
        }
    }

    // ---- HTTP

    /** Status, headers and the body, parsed as JSON when it is JSON. */
    public static final class HttpResult {
        public final int status;
        public final String body;
        public final JsonNode json;
        public final HttpResponse<String> response;

        HttpResult(HttpResponse<String> response) {
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

        /** The {@code error} message of an error body. */
        public String error() {
            return json.path("error").asText(null);
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    /** A small JSON client on the server's base address. */
    public static final class Http {
        private static final HttpClient CLIENT = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        /** No call may hang a test: a server that does not answer fails it. */
        private static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);

        private final URI base;

        Http(URI base) {
            this.base = base;
        }

        public URI base() {
            return base;
        }

        public HttpResult get(String path) {
            return send(request(path).GET());
        }

        public HttpResult delete(String path) {
            return send(request(path).DELETE());
        }

        /** POSTs a body as it is (which may be malformed on purpose). */
        public HttpResult post(String path, String body) {
            return send(request(path).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)));
        }

        /** POSTs a value serialised as JSON. */
        public HttpResult post(String path, Object body) {
            try {
                return post(path, JSON.writeValueAsString(body));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private HttpRequest.Builder request(String path) {
            return HttpRequest.newBuilder(base.resolve(path))
                    .timeout(CALL_TIMEOUT)
                    .header("Accept", "application/json");
        }

        private static HttpResult send(HttpRequest.Builder request) {
            try {
                return new HttpResult(CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
