package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.apache.sshd.client.session.ClientSession;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.options.CompositeOption;
import org.ops4j.pax.exam.options.FrameworkPropertyOption;
import org.osgi.framework.ServiceReference;

/**
 * What the modelhost, balancer, shell and metrics tests add to {@link FractalTestSupport}: a server whose
 * modelhosts the test class chooses, a client on the metrics listener, the Gogo shell
 * through the {@link CommandProcessor} service, the Prometheus exposition parsed, and the modelhosts and balancer
 * as the REST API shows them.
 */
public abstract class ModelHostTestSupport extends FractalTestSupport {

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

    // ------------------------------------------------------------------------------------------------
    // Helpers for the test methods: run in the probe, inside the framework
    // ------------------------------------------------------------------------------------------------

    /** A client on the metrics listener's port. */
    protected Http metricsListener() {
        return new Http(URI.create("http://127.0.0.1:" + property(METRICS_PORT)));
    }

    /** The SSH console's port (the {@code port} of {@code io.fractal.ssh} this server was given). */
    protected int sshPort() {
        return Integer.parseInt(property(SSH_PORT));
    }

    /** The server's {@code data/ssh/} folder: host key, authorized keys, the operator's client key, ssh_config. */
    protected Path sshFolder() {
        return Paths.get(property(FRACTAL_HOME), "data", "ssh");
    }

    /** The key pair the server generated for the operator on its first start ({@code data/ssh/client_key}). */
    protected KeyPair operatorKey() throws IOException {
        return SshConsoleClient.readKey(sshFolder().resolve("client_key"));
    }

    /** An SSH client on this server's console (close it). */
    protected SshConsoleClient sshConsole() {
        return new SshConsoleClient(sshPort());
    }

    /** Logs in as admin with the operator's key, runs one command on an exec channel, and leaves. */
    protected SshConsoleClient.Result sshExec(String command) throws IOException {
        try (SshConsoleClient ssh = sshConsole(); ClientSession session = ssh.login("admin", operatorKey(), null)) {
            return SshConsoleClient.exec(session, command);
        }
    }

    /** A modelhost {@code .cfg} file's content. */
    protected static byte[] modelhostCfg(String id, int workers, int queueCapacity, String models) {
        return ("id=" + id + "\nworkers=" + workers + "\nqueue.capacity=" + queueCapacity + "\nmodels=" + models + "\n")
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    // ---- modelhosts and the balancer as the REST API shows them

    /** {@code GET /api/v1/modelhosts}, which must answer 200. */
    protected JsonNode modelhosts() {
        HttpResult list = http().get("/api/v1/modelhosts");
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
        HttpResult balancer = http().get("/api/v1/balancer");
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
                    HttpResult view = http().get("/api/v1/models/" + model);
                    assertEquals(view.toString(), 200, view.status);
                    JsonNode version = versionOf(view.json, view.json.path("default_version").asInt());
                    assertNotNull("default version in " + view, version);
                    for (String host : hosts) {
                        assertEquals("state on " + host + " in " + view, "READY",
                                version.path("modelhosts").path(host).asText());
                    }
                });
    }

    // ---- the Gogo shell

    /** A Gogo session of the framework's {@link CommandProcessor}, as the console and the SSH console use it. */
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

    /** Asserts a condition with the answer that broke it in the message. */
    protected static void assertAnswer(String what, boolean condition, Object answer) {
        assertTrue(what + ": " + answer, condition);
    }
}
