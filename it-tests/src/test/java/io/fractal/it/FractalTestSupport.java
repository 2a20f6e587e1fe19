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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    /** Framework property: the port of the SSH console. */
    protected static final String SSH_PORT = "fractal.it.ssh.port";
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
    /** The management token of the test servers; {@link Http} sends it unless made {@link Http#anonymous()}. */
    protected static final String MANAGEMENT_TOKEN = "it-management-token-0123456789";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Settings of the distribution's config.properties that the launcher or this harness handles itself: the
     * framework cache and start levels (Pax Exam's), the system packages and boot delegation (added to Pax
     * Exam's own), the shutdown hook (the test JVM's).
     */
    private static final Set<String> LAUNCHER_ONLY = Set.of(
            "org.osgi.framework.storage", "org.osgi.framework.storage.clean",
            "org.osgi.framework.startlevel.beginning", "org.osgi.framework.system.packages.extra",
            "org.osgi.framework.bootdelegation", "felix.shutdown.hook");

    @Inject
    protected BundleContext context;

    // In the probe, one class loader per test class: what an earlier test of the class found out, so that a server
    // that never came up fails each test at once instead of after another timeout.
    private static volatile String serverProblem;
    private static final Map<String, String> notReady = new java.util.concurrent.ConcurrentHashMap<>();

    /** The default runtime: the whole distribution, an isolated server with the sample models, test libraries. */
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("iris", "digits"), testLibraries());
    }

    // ------------------------------------------------------------------------------------------------
    // Option sets: run in the driver JVM
    // ------------------------------------------------------------------------------------------------

    /**
     * The distribution as {@code runtime/} assembles it, read from its {@code conf/config.properties}, the one
     * place that lists what the launcher does: every jar of {@code bundle/} installed and started (at the
     * {@code felix.auto.deploy.startlevel}, 2), except the bundles the file names in {@code felix.auto.start.<n>} /
     * {@code felix.auto.install.<n>}, which get start level {@code n}; and the packages the system bundle exports
     * ({@code org.osgi.framework.system.packages.extra}), whose jars are on this JVM's class path as they are on
     * the launcher's.
     */
    protected static Option distribution() {
        Path dist = distributionFolder();
        Properties config = loadProperties(dist.resolve("conf/config.properties"));
        List<Option> options = new ArrayList<>();
        // Pax Exam exports packages of its own from the system bundle: a systemPackage option adds to that list
        // where a frameworkProperty would replace it.
        String extra = resolved(config, "org.osgi.framework.system.packages.extra", dist);
        if (extra != null && !extra.isBlank()) {
            options.add(systemPackage(compact(extra)));
        }
        String bootDelegation = resolved(config, "org.osgi.framework.bootdelegation", dist);
        if (bootDelegation != null && !bootDelegation.isBlank()) {
            for (String pkg : compact(bootDelegation).split(",")) {
                options.add(bootDelegationPackage(pkg));
            }
        }
        // the rest of the framework configuration (FileInstall's modes, SCR's log level, ...), as the launcher
        // passes it; the settings that name folders of the server's home come with isolatedServer()
        for (String key : config.stringPropertyNames()) {
            if (!LAUNCHER_ONLY.contains(key) && !key.startsWith("felix.auto.")
                    && !config.getProperty(key).contains("${" + FRACTAL_HOME + "}")) {
                options.add(frameworkProperty(key).value(resolved(config, key, dist)));
            }
        }
        options.addAll(bundles(dist, config));
        // what the launcher sets when headless: the shell neither reads stdin (the test JVM's belongs to
        // failsafe) nor stops the framework when it ends
        options.add(frameworkProperty("gosh.args").value("--nointeractive --noshutdown"));
        options.add(cleanCaches(true));
        return composite(options.toArray(new Option[0]));
    }

    /**
     * An isolated server: a fresh home folder under {@code target/it-work} (the settings of config.properties that
     * name folders of {@code ${fractal.home}} point into it: {@code deploy/}, {@code data/config}, ...), FileInstall
     * polling its {@code deploy/} every 200 ms, free ports for REST, metrics and the SSH console, the modelhosts
     * {@code mh1} and {@code mh2}, and copies of the named sample model folders of the repository's {@code deploy/}.
     */
    protected static Option isolatedServer(String... sampleModels) {
        try {
            Path dist = distributionFolder();
            Properties config = loadProperties(dist.resolve("conf/config.properties"));
            Path work = Files.createDirectories(Paths.get(System.getProperty("fractal.it.work", "target/it-work")));
            Path home = Files.createTempDirectory(work, "home-").toAbsolutePath();
            Path deploy = Files.createDirectories(home.resolve("deploy"));
            int[] ports = freePorts(3);

            // The listeners' ports go straight into Config Admin's store, so the listeners start on them: a .cfg in
            // deploy/ arrives a moment after the components first activate on the default ports (8001, 8002, 8101),
            // which another server on the machine may hold.
            Path configStore = home.resolve("data/config");
            TestFiles.storedConfig(configStore, "io.fractal.rest", "host", "127.0.0.1", "port", ports[0]);
            TestFiles.storedConfig(configStore, "io.fractal.metrics", "port", ports[1]);
            TestFiles.storedConfig(configStore, "io.fractal.ssh", "host", "127.0.0.1", "port", ports[2]);
            // A known management token, so the helpers can send it; the generated one is tested with the launcher.
            TestFiles.storedConfig(configStore, "io.fractal.auth", "management.token", MANAGEMENT_TOKEN);
            // No warm-up requests of the server's own (ProcessLifecycleIT tests them on the distribution): the
            // tests here count requests, engine calls and picks of modelhosts from the moment their models are READY.
            TestFiles.storedConfig(configStore, "io.fractal.inferrer", "warmup.ms", 0);
            for (String host : MODELHOSTS) {
                writeConfig(deploy.resolve("io.fractal.modelhost-" + host + ".cfg"),
                        "id", host, "workers", 2, "queue.capacity", 64, "models", "*");
            }
            Path samples = Paths.get(System.getProperty("fractal.samples", "../deploy"));
            for (String model : sampleModels) {
                Path sample = samples.resolve(model);
                if (!Files.isDirectory(sample)) {
                    throw new IllegalStateException("No sample model at " + sample.toAbsolutePath());
                }
                TestFiles.copyTree(sample, deploy.resolve(model));
            }

            List<Option> options = new ArrayList<>();
            for (String key : config.stringPropertyNames()) {
                if (!LAUNCHER_ONLY.contains(key) && !key.startsWith("felix.auto.")
                        && config.getProperty(key).contains("${" + FRACTAL_HOME + "}")) {
                    options.add(frameworkProperty(key).value(resolved(config, key, home)));
                }
            }
            options.add(frameworkProperty(FRACTAL_HOME).value(home.toString()));
            options.add(frameworkProperty("felix.fileinstall.dir").value(deploy.toString()));
            options.add(frameworkProperty("felix.fileinstall.poll").value("200"));
            options.add(frameworkProperty("felix.fileinstall.noInitialDelay").value("true"));
            options.add(frameworkProperty("felix.fileinstall.bundles.new.start").value("true"));
            options.add(frameworkProperty(REST_PORT).value(String.valueOf(ports[0])));
            options.add(frameworkProperty(METRICS_PORT).value(String.valueOf(ports[1])));
            options.add(frameworkProperty(SSH_PORT).value(String.valueOf(ports[2])));
            options.add(frameworkProperty(DEPLOY_DIR).value(deploy.toString()));
            return composite(options.toArray(new Option[0]));
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

    /** The distribution under test ({@code runtime/target/fractal-server}). */
    protected static Path distributionFolder() {
        Path dist = Paths.get(System.getProperty("fractal.dist", "../runtime/target/fractal-server"));
        if (!Files.isDirectory(dist.resolve("bundle")) || !Files.isRegularFile(dist.resolve("conf/config.properties"))) {
            throw new IllegalStateException("No distribution at " + dist.toAbsolutePath()
                    + ": build it first (mvn install -DskipTests in the repository root)");
        }
        return dist;
    }

    /** The bundles of the distribution, each once, with the start level the launcher gives it. */
    private static List<Option> bundles(Path dist, Properties config) {
        String deployLevel = resolved(config, "felix.auto.deploy.startlevel", dist);
        int defaultLevel = deployLevel == null ? 2 : Integer.parseInt(deployLevel.trim());
        String deployAction = resolved(config, "felix.auto.deploy.action", dist);
        boolean deployStarts = deployAction == null || deployAction.contains("start");
        // felix.auto.start.<n> / felix.auto.install.<n>: space-separated locations, to start (or only install) at level n
        Map<URI, Integer> levels = new LinkedHashMap<>();
        Map<URI, Boolean> starts = new LinkedHashMap<>();
        for (String key : config.stringPropertyNames()) {
            Matcher auto = Pattern.compile("felix\\.auto\\.(start|install)\\.(\\d+)").matcher(key);
            if (auto.matches()) {
                for (String location : resolved(config, key, dist).trim().split("\\s+")) {
                    if (!location.isEmpty()) {
                        URI uri = Paths.get(URI.create(location)).toAbsolutePath().normalize().toUri();
                        levels.put(uri, Integer.parseInt(auto.group(2)));
                        starts.merge(uri, auto.group(1).equals("start"), Boolean::logicalOr);
                    }
                }
            }
        }
        List<Option> options = new ArrayList<>();
        try (Stream<Path> jars = Files.list(dist.resolve("bundle"))) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                URI uri = jar.toAbsolutePath().normalize().toUri();
                options.add(provision(jar, levels.getOrDefault(uri, defaultLevel), deployStarts || starts.getOrDefault(uri, false)));
                levels.remove(uri);
            }
            // named in config.properties but not in bundle/
            for (Map.Entry<URI, Integer> other : levels.entrySet()) {
                options.add(provision(Paths.get(other.getKey()), other.getValue(), starts.get(other.getKey())));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return options;
    }

    private static Option provision(Path jar, int startLevel, boolean start) throws IOException {
        UrlProvisionOption option = org.ops4j.pax.exam.CoreOptions.bundle(jar.toUri().toString()).startLevel(startLevel);
        // a fragment cannot be started; it attaches to its host
        return start && !isFragment(jar) ? option.start() : option.noStart();
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

    /**
     * A property with Felix-style {@code ${name}} references replaced: {@code fractal.home} by {@code home}, other
     * names from the same file or the system properties.
     */
    private static String resolved(Properties properties, String key, Path home) {
        String value = properties.getProperty(key);
        for (int guard = 0; value != null && value.contains("${") && guard < 20; guard++) {
            int start = value.indexOf("${");
            int end = value.indexOf('}', start);
            if (end < 0) {
                break;
            }
            String name = value.substring(start + 2, end);
            String replacement = FRACTAL_HOME.equals(name)
                    ? home.toAbsolutePath().normalize().toString()
                    : properties.getProperty(name, System.getProperty(name, ""));
            value = value.substring(0, start) + replacement + value.substring(end + 1);
        }
        return value;
    }

    private static String compact(String list) {
        return list.replaceAll("\\s+", "").replaceAll(",+", ",").replaceAll("^,|,$", "");
    }

    private static int[] freePorts(int count) throws IOException {
        int[] ports = new int[count];
        for (int i = 0; i < count; i++) {
            ports[i] = TestFiles.freePort();
        }
        return ports;
    }
    /** Writes a FileInstall {@code .cfg} (a properties file) from key, value pairs. */
    protected static void writeConfig(Path file, Object... keyValues) throws IOException {
        Properties properties = new Properties();
        for (int i = 0; i < keyValues.length; i += 2) {
            properties.setProperty(String.valueOf(keyValues[i]), String.valueOf(keyValues[i + 1]));
        }
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.ISO_8859_1)) {
            properties.store(writer, "written by " + FractalTestSupport.class.getSimpleName());
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
        if (serverProblem != null) {
            fail("The REST server did not answer in an earlier test of this class: " + serverProblem);
        }
        try {
            await("the REST server answers GET / on " + http().base()).atMost(READY_TIMEOUT)
                    .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(100))
                    .ignoreExceptions()
                    .until(() -> http().get("/").status == 200);
        } catch (RuntimeException | AssertionError e) {
            serverProblem = e.getMessage();
            throw e;
        }
    }

    /**
     * Waits until the model's default version is READY on every modelhost, as {@code GET /api/v1/models/<model>}
     * reports it, and {@code GET /v2/models/<model>/ready} agrees.
     */
    protected void awaitReady(String model) {
        awaitServer();
        String earlier = notReady.get(model);
        if (earlier != null) {
            fail("Model " + model + " did not become ready in an earlier test of this class: " + earlier);
        }
        try {
            await("model " + model + " READY on " + MODELHOSTS).atMost(READY_TIMEOUT)
                    .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(200))
                    .untilAsserted(() -> assertReady(model));
        } catch (RuntimeException | AssertionError e) {
            notReady.put(model, e.getMessage());
            throw e;
        }
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
        Path staging = Files.createDirectories(Paths.get(property(FRACTAL_HOME), "staging")).resolve(name);
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

    /** A framework property this server was given, such as {@link #REST_PORT}. */
    protected String property(String key) {
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

        /** The first value of a response header, or null. */
        public String header(String name) {
            return response.headers().firstValue(name).orElse(null);
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

    /** A small HTTP/1.1 client on the server's base address: JSON in and out by default, any content type on request. */
    public static final class Http {
        private static final HttpClient CLIENT = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        /** No call may hang a test: a server that does not answer fails it. */
        private static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);

        private final URI base;
        private final String token;

        Http(URI base) {
            this(base, MANAGEMENT_TOKEN);
        }

        private Http(URI base, String token) {
            this.base = base;
            this.token = token;
        }

        public URI base() {
            return base;
        }

        /** The same client without a bearer token, as a stranger calls. */
        public Http anonymous() {
            return new Http(base, null);
        }

        /** The same client with another bearer token. */
        public Http withToken(String other) {
            return new Http(base, other);
        }

        public HttpResult get(String path) {
            return send(request(path).GET());
        }

        /** GETs with another {@code Accept} header (none for null), such as a scraper's. */
        public HttpResult get(String path, String accept) {
            return send(request(path, accept).GET());
        }

        public HttpResult delete(String path) {
            return send(request(path).DELETE());
        }

        /** POSTs a body as it is (which may be malformed on purpose). */
        public HttpResult post(String path, String body) {
            return send(request(path).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)));
        }

        /** POSTs a JSON body with one more header. */
        public HttpResult postWithHeader(String path, String body, String header, String value) {
            return send(request(path).header("Content-Type", "application/json").header(header, value)
                    .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)));
        }

        /** POSTs a value serialised as JSON. */
        public HttpResult post(String path, Object body) {
            return post(path, toJson(body));
        }

        /** A POST without a body (drain, resume). */
        public HttpResult post(String path) {
            return send(request(path).POST(HttpRequest.BodyPublishers.noBody()));
        }

        /** Any method with a JSON body as it is (GET and DELETE without one). */
        public HttpResult send(String method, String path, String body) {
            HttpRequest.BodyPublisher publisher = method.equals("GET") || method.equals("DELETE")
                    ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8);
            return send(request(path, "*/*").header("Content-Type", "application/json").method(method, publisher));
        }

        /** PUTs a body as it is. */
        public HttpResult put(String path, String body) {
            return send(request(path).header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)));
        }

        /** PUTs a value serialised as JSON. */
        public HttpResult put(String path, Object body) {
            return put(path, toJson(body));
        }

        private static String toJson(Object value) {
            try {
                return JSON.writeValueAsString(value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private HttpRequest.Builder request(String path) {
            return request(path, "application/json");
        }

        private HttpRequest.Builder request(String path, String accept) {
            HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path)).timeout(CALL_TIMEOUT);
            if (token != null) {
                builder.header("Authorization", "Bearer " + token);
            }
            return accept == null ? builder : builder.header("Accept", accept);
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

    // --- model management helpers: uploads, downloads, model views and versions, files dropped into deploy/

    /** A file part of a multipart upload: the file name the client sends, its content type and its bytes. */
    protected record FilePart(String fileName, String contentType, byte[] bytes) {

        public static FilePart of(String fileName, byte[] bytes) {
            return new FilePart(fileName, fileName.endsWith(".json") ? "application/json" : "application/octet-stream",
                    bytes);
        }
    }

    /** POSTs {@code multipart/form-data}: {@link FilePart} values as files, any other value as a text field. */
    protected HttpResult postMultipart(String path, Map<String, ?> fields) {
        String boundary = "fractal-it-" + java.util.UUID.randomUUID();
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        for (Map.Entry<String, ?> field : fields.entrySet()) {
            StringBuilder head = new StringBuilder("--").append(boundary).append("\r\n")
                    .append("Content-Disposition: form-data; name=\"").append(field.getKey()).append('"');
            byte[] content;
            if (field.getValue() instanceof FilePart file) {
                head.append("; filename=\"").append(file.fileName()).append("\"\r\n")
                        .append("Content-Type: ").append(file.contentType()).append("\r\n");
                content = file.bytes();
            } else {
                head.append("\r\nContent-Type: text/plain; charset=UTF-8\r\n");
                content = String.valueOf(field.getValue()).getBytes(StandardCharsets.UTF_8);
            }
            head.append("\r\n");
            body.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
            body.writeBytes(content);
            body.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return postBytes(path, "multipart/form-data; boundary=" + boundary, body.toByteArray());
    }

    /** POSTs a body of bytes as it is, with its content type. */
    protected HttpResult postBytes(String path, String contentType, byte[] body) {
        return Http.send(http().request(path).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    /** GETs a body as bytes (a download): status, headers and the exact bytes. */
    protected HttpResponse<byte[]> getBytes(String path) {
        try {
            return Http.CLIENT.send(http().request(path).setHeader("Accept", "*/*").GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A file of the repository's sample model folders ({@code deploy/} at its root), such as {@code iris/model.pt}. */
    protected static Path sampleFile(String relative) {
        Path file = Paths.get(System.getProperty("fractal.samples", "../deploy")).resolve(relative).toAbsolutePath();
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException("No sample file " + file);
        }
        return file;
    }

    /** A test resource's bytes, such as {@code /models/iris.onnx}. */
    protected static byte[] resourceBytes(String path) {
        try (InputStream in = resource(path)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The SHA-256 of bytes in lower-case hex, as the model views show it. */
    protected static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The iris reference rows give the reference probabilities (and, with the sidecar's labels, the labels), from the given version. */
    protected void assertPredictsIris(String model, int version, boolean labels) {
        JsonNode expected = expected("iris");
        HttpResult prediction = http().post("/api/v1/models/" + model + "/prediction",
                Map.of("values", expected.path("inputs").path("input").path("data")));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), version, prediction.json.path("version").asInt());
        assertValues(model, expected.path("outputs").path("probabilities").path("data"), prediction.json.path("values"));
        if (labels) {
            assertEquals(prediction.toString(), expected.path("predicted"), prediction.json.path("labels"));
        }
    }

    /** {@code GET /api/v1/models/<model>}, which must answer 200. */
    protected JsonNode modelView(String model) {
        HttpResult view = http().get("/api/v1/models/" + model);
        assertEquals("GET /api/v1/models/" + model + " -> " + view, 200, view.status);
        return view.json;
    }

    /** The entry of {@code version} in a model view's {@code versions}, or null. */
    protected static JsonNode versionOf(JsonNode view, int version) {
        for (JsonNode v : view.path("versions")) {
            if (v.path("version").asInt() == version) {
                return v;
            }
        }
        return null;
    }

    /** The version numbers a model view lists. */
    protected static List<Integer> versionNumbers(JsonNode view) {
        List<Integer> numbers = new ArrayList<>();
        view.path("versions").forEach(v -> numbers.add(v.path("version").asInt()));
        return numbers;
    }

    /**
     * Waits until the model's default version is one that {@code matches} accepts, READY on every modelhost, and,
     * with {@code onlyVersion}, the only version left; returns that version's entry.
     */
    protected JsonNode awaitDefaultVersion(String model, java.util.function.Predicate<JsonNode> matches,
            boolean onlyVersion, Duration timeout) {
        JsonNode[] found = new JsonNode[1];
        await("model " + model + ": the awaited default version READY" + (onlyVersion ? " and alone" : ""))
                .atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    HttpResult view = http().get("/api/v1/models/" + model);
                    assertEquals(view.toString(), 200, view.status);
                    for (JsonNode v : view.json.path("versions")) {
                        if (matches.test(v) && MODELHOSTS.stream()
                                .allMatch(h -> "FAILED".equals(v.path("modelhosts").path(h).asText()))) {
                            // no point waiting
                            throw new IllegalStateException("the awaited version of " + model + " FAILED: " + view);
                        }
                    }
                    JsonNode version = versionOf(view.json, view.json.path("default_version").asInt());
                    assertTrue("default version in " + view, version != null && matches.test(version));
                    for (String host : MODELHOSTS) {
                        assertEquals("state on " + host + " in " + view, "READY",
                                version.path("modelhosts").path(host).asText());
                    }
                    if (onlyVersion) {
                        assertEquals("versions in " + view, 1, view.json.path("versions").size());
                    }
                    found[0] = version;
                });
        return found[0];
    }

    /**
     * Writes bytes into the deploy folder as {@code relative} (a file, or a file of a model folder), atomically (a
     * rename of a file written beside the server's home), so FileInstall never sees half of it.
     */
    protected Path deployBytes(byte[] bytes, String relative) throws IOException {
        Path target = deployFolder().resolve(relative);
        Files.createDirectories(target.getParent());
        Path staging = Files.createTempFile(Files.createDirectories(Paths.get(property(FRACTAL_HOME), "staging")),
                "deploy-", ".tmp");
        Files.write(staging, bytes);
        return Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Moves a model folder into the deploy folder as {@code name} in one rename, so FileInstall sees all its files at
     * once; {@code files} maps each file name to its bytes.
     */
    protected Path deployModelFolder(String name, Map<String, byte[]> files) throws IOException {
        Path staging = Files.createTempDirectory(Files.createDirectories(Paths.get(property(FRACTAL_HOME), "staging")),
                name + "-");
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            Files.write(staging.resolve(file.getKey()), file.getValue());
        }
        return Files.move(staging, deployFolder().resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    /** Takes a model folder out of the deploy folder in one rename (what FileInstall sees of {@code rm -r}). */
    protected void undeployModelFolder(String name) throws IOException {
        Path gone = Files.createDirectories(Paths.get(property(FRACTAL_HOME), "undeployed"))
                .resolve(name + "-" + System.nanoTime());
        Files.move(deployFolder().resolve(name), gone, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The jar in the distribution's {@code bundle/} folder whose file name starts with {@code prefix}. */
    protected static Path distributionJar(String prefix) throws IOException {
        try (Stream<Path> jars = Files.list(distributionFolder().resolve("bundle"))) {
            return jars.filter(p -> p.getFileName().toString().startsWith(prefix) && p.toString().endsWith(".jar"))
                    .findFirst()
                    .orElseThrow(() -> new IllegalStateException("No " + prefix + "*.jar in the distribution's bundle/"));
        }
    }
}
