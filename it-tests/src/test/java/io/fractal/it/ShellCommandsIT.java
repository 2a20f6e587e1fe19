package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fractal.api.engine.InferenceEngine;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;

/**
 * The Gogo shell administers everything: each {@code fractal:*} command run through the framework's
 * {@code CommandProcessor} as the console runs it, checked against what the REST API then shows; and the remote
 * shell {@code bin/client} talks to, over its socket.
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
    public void remoteShellAnswersEachCommandUpToANulByte() throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", remoteShellPort()), 5000);
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();

            String models = ask(out, in, "fractal:models");

            assertTrue(models, models.startsWith("MODEL"));
            assertTrue(models, line(models, "iris").contains("mh1=READY"));
            assertTrue(models, line(models, "digits").contains("PyTorch"));

            String unknown = ask(out, in, "fractal:nosuch");

            assertTrue(unknown, unknown.startsWith("error:"));

            String modelhosts = ask(out, in, "fractal:modelhosts");
            assertTrue("the session goes on after an error: " + modelhosts,
                    modelhosts.startsWith("ID") && modelhosts.contains("mh1") && modelhosts.contains("mh2"));
        }
    }

    // ---- helpers

    /** Sends one command line and reads its answer, which ends with a NUL byte. */
    private static String ask(OutputStream out, InputStream in, String command) throws IOException {
        out.write((command + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != 0) {
            if (b < 0) {
                throw new IOException("the remote shell closed the connection after " + answer.toString(StandardCharsets.UTF_8));
            }
            answer.write(b);
        }
        return answer.toString(StandardCharsets.UTF_8);
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
