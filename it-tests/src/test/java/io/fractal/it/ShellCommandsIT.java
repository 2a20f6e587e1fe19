package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.engine.InferenceEngine;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Security;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.sshd.client.session.ClientSession;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;

/**
 * The Gogo shell administers everything: each {@code fractal:*} command run through the framework's
 * {@code CommandProcessor} as the console runs it, checked against what the REST API then shows; and the SSH
 * console over SSH for real: Apache SSHD's client with the key the server generated for the operator, a stranger's
 * key and passwords refused, a password configured as a hash, {@code bin/client} and OpenSSH end to end.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ShellCommandsIT extends ModelHostTestSupport {

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?");

    @Before
    public void modelsReady() {
        awaitReady("iris");
        awaitReady("digits");
    }

    @Test
    public void modelsAndModelListTheModelsWithTheirVersionsAndStates() throws Exception {
        try (Shell shell = shell()) {
            String models = shell.run("fractal:models");

            assertTrue(models, models.startsWith("MODEL"));
            String iris = line(models, "iris");
            assertTrue(models, iris.contains("PyTorch") && iris.contains("mh1=READY") && iris.contains("mh2=READY"));
            assertTrue(models, line(models, "digits").contains("PyTorch"));

            String model = shell.run("fractal:model iris");

            JsonNode view = http().get("/api/v1/models/iris").json;
            assertTrue(model, model.startsWith("iris (default version " + view.path("default_version").asInt() + ")"));
            String sha256 = view.path("versions").get(0).path("sha256").asText();
            assertFalse("sha256 in " + view, sha256.isBlank());
            String version = line(model, "1 ");
            assertTrue("version 1 with the first 12 digits of its sha256 " + sha256 + ": " + model,
                    version.contains(sha256.substring(0, 12)) && version.contains("PyTorch")
                            && version.contains("mh1=READY"));

            Exception unknown = runFails(shell, "fractal:model nosuch");
            assertTrue(String.valueOf(unknown.getMessage()), String.valueOf(unknown.getMessage()).contains("nosuch"));
        }
    }

    @Test
    public void deploySetDefaultDescribeAndUndeployAModel() throws Exception {
        Path file = deployFolder().resolve("iris/model.pt");
        try (Shell shell = shell()) {
            String first = shell.run("fractal:deploy flower \"" + file + "\"");

            assertEquals("deployed flower:1 (PyTorch)", first.trim());
            awaitReady("flower");
            String second = shell.run("fractal:deploy flower \"" + file + "\"");
            assertEquals("deployed flower:2 (PyTorch)", second.trim());
            await("flower:2 becomes the default once ready").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> http().get("/api/v1/models/flower").json.path("default_version").asInt() == 2);
            awaitReady("flower");
            assertTrue(shell.run("fractal:models"), line(shell.run("fractal:models"), "flower").contains("[1, 2]"));

            String setDefault = shell.run("fractal:setdefault flower 1");

            assertEquals("flower now defaults to version 1", setDefault.trim());
            assertEquals(1, http().get("/api/v1/models/flower").json.path("default_version").asInt());
            HttpResult predicted = http().post("/api/v1/models/flower/prediction", "{\"values\": [5.1, 3.5, 1.4, 0.2]}");
            assertEquals(predicted.toString(), 200, predicted.status);
            assertEquals(predicted.toString(), 1, predicted.json.path("version").asInt());

            String described = shell.run("fractal:describe flower \"petal classifier\"");

            assertEquals("described flower", described.trim());
            JsonNode v1 = versionIn(http().get("/api/v1/models/flower").json, 1);
            assertEquals(v1.toString(), "petal classifier", v1.path("description").asText());
            assertTrue(shell.run("fractal:model flower"), shell.run("fractal:model flower").contains("petal classifier"));

            String removedVersion = shell.run("fractal:undeploy flower 2");

            assertEquals("removed flower:2", removedVersion.trim());
            JsonNode view = http().get("/api/v1/models/flower").json;
            assertEquals(view.toString(), 1, view.path("versions").size());
            assertEquals(view.toString(), 1, view.path("versions").get(0).path("version").asInt());

            String removed = shell.run("fractal:undeploy flower");

            assertEquals("removed flower", removed.trim());
            HttpResult gone = http().get("/api/v1/models/flower");
            assertEquals(gone.toString(), 404, gone.status);
            assertFalse(shell.run("fractal:models"), shell.run("fractal:models").contains("flower"));
        }
    }

    @Test
    public void modelhostCommandsAddDrainResumeAndRemoveModelhosts() throws Exception {
        try (Shell shell = shell()) {
            String listed = shell.run("fractal:modelhosts");
            assertTrue(listed, listed.startsWith("ID"));
            for (String id : MODELHOSTS) {
                String row = line(listed, id);
                assertTrue(listed, row.contains("RUNNING") && row.contains("iris:1=READY") && row.contains("digits:1=READY"));
            }

            assertEquals("modelhost mh7 added", shell.run("fractal:addmodelhost mh7").trim());
            assertEquals("modelhost mh8 added", shell.run("fractal:addmodelhost mh8 1 8 iris").trim());
            await("mh7 and mh8 are live").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> modelhostIds().containsAll(List.of("mh7", "mh8")));
            JsonNode mh7 = modelhost("mh7");
            assertEquals(mh7.toString(), 2, mh7.path("workers").asInt());
            assertEquals(mh7.toString(), 64, mh7.path("queue_capacity").asInt());
            assertEquals(mh7.toString(), "*", mh7.path("models").asText());
            JsonNode mh8 = modelhost("mh8");
            assertEquals(mh8.toString(), 1, mh8.path("workers").asInt());
            assertEquals(mh8.toString(), 8, mh8.path("queue_capacity").asInt());
            assertEquals(mh8.toString(), "iris", mh8.path("models").asText());
            assertTrue(shell.run("fractal:modelhosts"), line(shell.run("fractal:modelhosts"), "mh8").contains("RUNNING"));
            Exception duplicate = runFails(shell, "fractal:addmodelhost mh7");
            assertTrue(String.valueOf(duplicate.getMessage()), String.valueOf(duplicate.getMessage()).contains("mh7"));

            assertEquals("modelhost mh7 draining", shell.run("fractal:drain mh7").trim());

            assertEquals("DRAINING", modelhost("mh7").path("state").asText());
            assertTrue(line(shell.run("fractal:modelhosts"), "mh7").contains("DRAINING"));

            assertEquals("modelhost mh7 resumed", shell.run("fractal:resume mh7").trim());

            assertEquals("RUNNING", modelhost("mh7").path("state").asText());
            assertEquals("no live modelhost nosuch", shell.run("fractal:drain nosuch").trim());
            assertEquals("no live modelhost nosuch", shell.run("fractal:resume nosuch").trim());

            assertEquals("modelhost mh7 removed", shell.run("fractal:removemodelhost mh7").trim());
            assertEquals("modelhost mh8 removed", shell.run("fractal:removemodelhost mh8").trim());

            await("mh7 and mh8 are gone").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> modelhostIds().equals(MODELHOSTS));
            assertFalse(shell.run("fractal:modelhosts").contains("mh7"));
            assertEquals("no modelhost nosuch", shell.run("fractal:removemodelhost nosuch").trim());
        }
    }

    @Test
    public void balancerAndStrategyShowAndSwitchTheStrategyLive() throws Exception {
        try (Shell shell = shell()) {
            String balancer = shell.run("fractal:balancer");
            String strategy = balancer().path("strategy").asText();
            assertTrue(balancer, balancer.startsWith("strategy " + strategy + ", "));
            assertTrue(balancer, line(balancer, "mh1").contains("false") && line(balancer, "mh2").contains("false"));

            try {
                assertEquals("strategy LEAST_OUTSTANDING", shell.run("fractal:strategy LEAST_OUTSTANDING").trim());

                assertEquals("LEAST_OUTSTANDING", balancer().path("strategy").asText());
                assertTrue(shell.run("fractal:balancer").startsWith("strategy LEAST_OUTSTANDING, "));
                String unknown = shell.run("fractal:strategy FASTEST");
                assertTrue(unknown, unknown.contains("unknown strategy 'FASTEST'"));
                assertEquals("LEAST_OUTSTANDING", balancer().path("strategy").asText());
            } finally {
                shell.run("fractal:strategy " + strategy);
            }
            assertEquals(strategy, balancer().path("strategy").asText());
        }
    }

    @Test
    public void enginesListsEveryEngineServiceWithItsPlatformAndFileTypes() throws Exception {
        try (Shell shell = shell()) {
            String engines = shell.run("fractal:engines");

            assertTrue(engines, engines.startsWith("ENGINE"));
            List<String> names = new ArrayList<>();
            for (ServiceReference<InferenceEngine> reference : context.getServiceReferences(InferenceEngine.class, null)) {
                InferenceEngine engine = context.getService(reference);
                try {
                    names.add(engine.name());
                    String row = line(engines, engine.name());
                    assertTrue(engines, row.contains(engine.platform()) && row.contains("ACTIVE"));
                    for (String type : engine.fileExtensions()) {
                        assertTrue(type + " in " + row, row.contains(type));
                    }
                } finally {
                    context.ungetService(reference);
                }
            }
            assertTrue("PyTorch and OnnxRuntime are running: " + names, names.containsAll(List.of("PyTorch", "OnnxRuntime")));
            assertEquals(engines, names.size() + 1, engines.strip().split("\n").length);
        }
    }

    @Test
    public void predictAnswersTheModelsProbabilities() throws Exception {
        try (Shell shell = shell()) {
            String answer = shell.run("fractal:predict iris [5.1,3.5,1.4,0.2]");

            assertTrue(answer, answer.startsWith("iris:1 on mh"));
            HttpResult rest = http().post("/api/v1/models/iris/prediction", "{\"values\": [5.1, 3.5, 1.4, 0.2]}");
            assertEquals(rest.toString(), 200, rest.status);
            assertValues("fractal:predict against the REST answer: " + answer, rest.json.path("values"),
                    json(probabilities(answer)));

            JsonNode expected = expected("iris");
            JsonNode row = expected.path("inputs").path("input").path("data").get(1);
            StringBuilder list = new StringBuilder("[");
            row.forEach(v -> list.append(list.length() > 1 ? "," : "").append(v.asDouble()));
            String second = shell.run("fractal:predict iris " + list.append(']'));
            assertValues("fractal:predict of the expected row 1: " + second,
                    expected.path("outputs").path("probabilities").path("data").get(1), json(probabilities(second)));
        }
    }

    @Test
    public void statsListsRequestLatencyOfThePredictions() throws Exception {
        for (int i = 0; i < 3; i++) {
            HttpResult prediction = http().post("/api/v1/models/iris/prediction", "{\"values\": [5.1, 3.5, 1.4, 0.2]}");
            assertEquals(prediction.toString(), 200, prediction.status);
        }
        try (Shell shell = shell()) {
            String stats = shell.run("fractal:stats");

            String count = line(stats, "fractal_request_seconds_count{model=\"iris\",version=\"1\"}");
            assertTrue(stats, Double.parseDouble(count.substring(count.lastIndexOf(' ') + 1)) >= 3);
            for (String quantile : List.of("0.5", "0.9", "0.99")) {
                assertNotNull(stats, line(stats, "fractal_request_seconds{model=\"iris\",version=\"1\",quantile=\"" + quantile + "\"}"));
            }
            assertTrue(stats, stats.contains("fractal_modelhosts_live"));
            assertTrue(stats, stats.contains("process_resident_memory_bytes"));
        }
    }

    @Test
    public void sshRunsOneCommandWithTheOperatorKeyAndExitsWithItsStatus() throws Exception {
        SshConsoleClient.Result models = sshExec("fractal:models");

        assertEquals(models.toString(), 0, models.status());
        assertTrue(models.out(), models.out().startsWith("MODEL"));
        assertTrue(models.out(), line(models.out(), "iris").contains("mh1=READY"));
        assertTrue(models.out(), line(models.out(), "digits").contains("PyTorch"));

        SshConsoleClient.Result unknown = sshExec("fractal:nosuch");

        assertEquals(unknown.toString(), 1, unknown.status());
        assertTrue(unknown.toString(), unknown.err().startsWith("error:") && unknown.err().contains("nosuch"));

        // Gogo's own commands as well (gogo.command's lb prints through the session's output)
        SshConsoleClient.Result bundles = sshExec("lb -s");
        assertEquals(bundles.toString(), 0, bundles.status());
        assertTrue(bundles.out(), bundles.out().contains("io.fractal.ssh") && bundles.out().contains("org.apache.sshd.osgi"));
    }

    @Test
    public void anInteractiveSshSessionRunsLinesUntilExit() throws Exception {
        try (SshConsoleClient ssh = sshConsole(); ClientSession session = ssh.login("admin", operatorKey(), null)) {
            SshConsoleClient.Result screen = SshConsoleClient.interactive(session,
                    "fractal:modelhosts\rfractal:nosuch\rfractal:models\rexit\r");

            assertEquals(screen.toString(), 0, screen.status());
            String text = screen.out();
            assertTrue(text, text.contains("fractal> fractal:modelhosts\r\nID"));
            assertTrue("the session goes on after an error: " + text, text.contains("fractal> fractal:nosuch\r\nerror:")
                    && text.contains("fractal> fractal:models\r\nMODEL"));
            assertTrue(text, text.endsWith("fractal> exit\r\n"));
        }
    }

    @Test
    public void sshRefusesStrangersAndTakesAPasswordOnlyAsAConfiguredHash() throws Exception {
        KeyPair stranger = newKey();
        try (SshConsoleClient ssh = sshConsole()) {
            assertRefused(() -> ssh.login("admin", stranger, null));
            assertRefused(() -> ssh.login("admin", null, "admin"));
            assertRefused(() -> ssh.login("root", operatorKey(), null));

            String hash = hashPassword("it console password");
            assertTrue(hash, hash.matches("\\$pbkdf2-sha256\\$\\d+\\$[A-Za-z0-9+/]+\\$[A-Za-z0-9+/]+"));
            Path cfg = deployFolder().resolve("io.fractal.ssh.cfg");
            writeConfig(cfg, "host", "127.0.0.1", "port", sshPort(), "password.hash", hash);
            try {
                await("the console takes the password").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                        .ignoreExceptions().until(() -> {
                            try (ClientSession session = ssh.login("admin", null, "it console password")) {
                                return SshConsoleClient.exec(session, "fractal:models").out().startsWith("MODEL");
                            }
                        });
                assertRefused(() -> ssh.login("admin", null, "it console password "));
                assertRefused(() -> ssh.login("operator", null, "it console password"));
                assertRefused(() -> ssh.login("admin", stranger, null));
                assertEquals(0, sshExec("fractal:models").status());
            } finally {
                writeConfig(cfg, "host", "127.0.0.1", "port", sshPort());
                await("the password is gone").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                        .until(() -> refused(() -> ssh.login("admin", null, "it console password")));
            }
        }
    }

    /** bin/client of the distribution, on this test's server: what the operator types, end to end through OpenSSH. */
    @Test
    public void binClientRunsCommandsWithTheKeyTheServerGenerated() throws Exception {
        assumeTrue("no OpenSSH client on this machine (.ci/run installs openssh-client)", onPath("ssh"));

        Ran models = binClient("fractal:models");

        assertEquals(models.toString(), 0, models.status());
        assertTrue(models.out(), models.out().startsWith("MODEL") && models.out().contains("iris"));

        Ran unknown = binClient("fractal:nosuch");

        assertEquals(unknown.toString(), 1, unknown.status());
        assertTrue(unknown.toString(), unknown.err().contains("error:"));

        Ran modelhosts = binClient("fractal:modelhosts");
        assertTrue(modelhosts.toString(), modelhosts.status() == 0 && modelhosts.out().startsWith("ID"));
    }

    /**
     * OpenSSH with an ed25519 key of the operator's own (what ssh-keygen makes by default now): refused, then logged
     * in once its public key is in authorized_keys, which the console reads again when it changes. ed25519 is Bouncy
     * Castle's, which SSHD keeps to itself: the JVM's providers do not list it.
     */
    @Test
    public void opensshWithAnEd25519KeyLogsInOnceTheKeyIsAuthorized() throws Exception {
        assumeTrue("no OpenSSH client on this machine (.ci/run installs openssh-client)",
                onPath("ssh") && onPath("ssh-keygen"));
        Path dir = Files.createTempDirectory(Paths.get(property(FRACTAL_HOME)), "operator-");
        Path key = dir.resolve("id_ed25519");
        Ran made = run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "it@fractal", "-f", key.toString()),
                Map.of());
        assertEquals(made.toString(), 0, made.status());
        List<String> ssh = List.of("ssh", "-F", "/dev/null", "-i", key.toString(), "-p", String.valueOf(sshPort()),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "admin@127.0.0.1", "fractal:models");

        Ran before = run(ssh, Map.of());
        assertEquals("refused before its key is authorized: " + before, 255, before.status());

        Files.writeString(sshFolder().resolve("authorized_keys"), Files.readString(Paths.get(key + ".pub")),
                StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        Ran after = run(ssh, Map.of());

        assertEquals(after.toString(), 0, after.status());
        assertTrue(after.out(), after.out().startsWith("MODEL"));
        assertNull("SSHD registered Bouncy Castle with the JVM", Security.getProvider("BC"));
    }

    // ---- helpers

    private record Ran(int status, String out, String err) {
    }

    /** Runs a program (at most 60 s) with its standard input empty; its exit status and output. */
    private static Ran run(List<String> command, Map<String, String> env) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(env);
        java.lang.Process p = builder.start();
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getErrorStream().readAllBytes();
            } catch (IOException e) {
                return new byte[0];
            }
        });
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(command + " ended within 60 s", p.waitFor(60, TimeUnit.SECONDS));
        return new Ran(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                new String(err.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8));
    }

    /** The distribution's bin/client, for this test's server (its home holds data/ssh/ssh_config). */
    private Ran binClient(String... command) throws Exception {
        List<String> line = new ArrayList<>(List.of(distributionFolder().resolve("bin/client").toString()));
        line.addAll(List.of(command));
        return run(line, Map.of("FRACTAL_HOME", property(FRACTAL_HOME)));
    }

    /** The distribution's bin/fractal hash-password, given the password on its standard input. */
    private static String hashPassword(String password) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(distributionFolder().resolve("bin/fractal").toString(), "hash-password");
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        java.lang.Process p = builder.redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write((password + "\n").getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue("bin/fractal hash-password ended within 60 s", p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("bin/fractal hash-password: " + out, 0, p.exitValue());
        return out.strip();
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Paths.get(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private static KeyPair newKey() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        return generator.generateKeyPair();
    }

    private interface Login {
        ClientSession login() throws Exception;
    }

    private static boolean refused(Login login) {
        try (ClientSession session = login.login()) {
            return false;
        } catch (Exception e) {
            return true;
        }
    }

    private static void assertRefused(Login login) {
        assertTrue("the login should have been refused", refused(login));
    }

    private static Exception runFails(Shell shell, String command) {
        try {
            String answer = shell.run(command);
            throw new AssertionError(command + " should fail, but answered: " + answer);
        } catch (AssertionError e) {
            throw e;
        } catch (Exception expected) {
            return expected;
        }
    }

    /** The first line of a command's output that starts with {@code start}. */
    private static String line(String output, String start) {
        for (String line : output.split("\n")) {
            if (line.startsWith(start)) {
                return line;
            }
        }
        throw new AssertionError("no line starting with '" + start + "' in:\n" + output);
    }

    /** The numbers of the {@code probabilities} output line: {@code probabilities [1, 3] [a, b, c]}. */
    private static List<Double> probabilities(String answer) {
        String line = line(answer, "probabilities ");
        String values = line.substring(line.lastIndexOf('['));
        List<Double> numbers = new ArrayList<>();
        Matcher m = NUMBER.matcher(values);
        while (m.find()) {
            numbers.add(Double.parseDouble(m.group()));
        }
        return numbers;
    }

    private static JsonNode versionIn(JsonNode view, int version) {
        for (JsonNode v : view.path("versions")) {
            if (v.path("version").asInt() == version) {
                return v;
            }
        }
        throw new AssertionError("no version " + version + " in " + view);
    }
}
