package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/**
 * The model repository keeps its models on disk: restarted as a restart of the server would (its bundle stopped and
 * started; FileInstall hands it the deploy/ files again), it serves the same models, versions, default versions,
 * descriptions and bytes, and a model deployed from deploy/ is not deployed twice. What a bare TorchScript file's first
 * call showed of its signature is kept too, and describes the model after it is reloaded, before any call.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class PersistenceIT extends FractalTestSupport {

    private static final String REPOSITORY = "io.fractal.repository";
    private static final Duration SWAP_TIMEOUT = Duration.ofSeconds(30);

    /** No sample models: one model is uploaded, one dropped into deploy/. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries());
    }

    @Test
    public void repositoryRestartKeepsModelsVersionsDefaultsDescriptionsAndBytes() throws Exception {
        awaitServer();
        byte[] irisPt = Files.readAllBytes(sampleFile("iris/model.pt"));
        byte[] irisJson = Files.readAllBytes(sampleFile("iris/model.json"));
        byte[] irisOnnx = resourceBytes("/models/iris.onnx");
        byte[] adderPt = resourceBytes("/models/adder.pt");

        // kept: version 1 (TorchScript) and version 2 (ONNX), default set back to 1, described
        Map<String, Object> first = new LinkedHashMap<>();
        first.put("path", FilePart.of("model.pt", irisPt));
        first.put("metadata", FilePart.of("model.json", irisJson));
        first.put("model_description", "TorchScript");
        assertEquals(201, postMultipart("/api/v1/models/kept", first).status);
        Map<String, Object> second = new LinkedHashMap<>();
        second.put("path", FilePart.of("iris.onnx", irisOnnx));
        // the same signature and labels, without the sidecar's "engine": PyTorch (the file's type picks the engine)
        ObjectNode onnxSidecar = (ObjectNode) json(new String(irisJson, java.nio.charset.StandardCharsets.UTF_8));
        onnxSidecar.remove("engine");
        onnxSidecar.remove("file");
        second.put("metadata", FilePart.of("model.json", onnxSidecar.toString().getBytes(
                java.nio.charset.StandardCharsets.UTF_8)));
        second.put("model_description", "ONNX export");
        assertEquals(201, postMultipart("/api/v1/models/kept", second).status);
        awaitDefaultVersion("kept", v -> v.path("version").asInt() == 2, false, SWAP_TIMEOUT);
        assertEquals(200, http().post("/api/v1/models/kept/default", Map.of("default", 1)).status);
        assertEquals(200, http().post("/api/v1/models/kept/information",
                Map.of("model_description", "TorchScript, described after the upload")).status);
        // filed: dropped into deploy/
        deploy("/models/adder.pt", "filed.pt");
        awaitReady("kept");
        awaitReady("filed");
        JsonNode keptBefore = modelView("kept");
        // a first call completes the bare TorchScript file's signature (datatypes, shapes): take the view after it
        assertEquals(200, http().post("/api/v1/models/filed/prediction", Map.of("values", adderValues())).status);
        JsonNode filedBefore = modelView("filed");
        // what that call showed is kept with the version, apart from its (empty) declared signature
        awaitLearned("filed");
        assertEquals(keptBefore.toString(), 1, keptBefore.path("default_version").asInt());
        assertEquals(keptBefore.toString(), "TorchScript, described after the upload",
                versionOf(keptBefore, 1).path("description").asText());

        Bundle repository = installedBundle(REPOSITORY);
        repository.stop();
        await("the models are gone with the repository").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> http().get("/api/v1/models/kept").status != 200);
        repository.start();

        awaitReady("kept");
        awaitReady("filed");
        JsonNode keptAfter = modelView("kept");
        assertEquals(keptAfter.toString(), withoutStates(keptBefore), withoutStates(keptAfter));
        assertEquals(keptAfter.toString(), 1, keptAfter.path("default_version").asInt());
        assertEquals(keptAfter.toString(), List.of(1, 2), versionNumbers(keptAfter));
        assertEquals(keptAfter.toString(), "OnnxRuntime", versionOf(keptAfter, 2).path("engine").asText());
        assertDownload("/api/v1/models/kept/download", irisPt);
        assertDownload("/api/v1/models/kept/download?version=2", irisOnnx);
        assertDownload("/api/v1/models/filed/download", adderPt);
        assertPredictsIris("kept", 1, true);
        assertPredictsIris("kept:2", 2, true);
        HttpResult adder = http().post("/api/v1/models/filed/prediction", Map.of("values", adderValues()));
        assertEquals(adder.toString(), 200, adder.status);
        assertValues("filed", expected("adder").path("outputs").path("output").path("data"), adder.json.path("values"));

        // FileInstall installs filed.pt again: the same bytes from the same file are still one version
        await("filed stays one version").during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> assertEquals(List.of(1), versionNumbers(modelView("filed"))));
        JsonNode filedAfter = modelView("filed");
        assertEquals(filedAfter.toString(), withoutStates(filedBefore), withoutStates(filedAfter));
        assertAdderConfig("filed");
        assertTrue(Files.readString(versionFile("filed")).contains("learnedInputs"));

        // and the restarted repository takes new versions after the old ones
        HttpResult third = postBytes("/api/v1/models/kept?file_name=model.pt&make_default=false",
                "application/octet-stream", irisPt);
        assertEquals(third.toString(), 201, third.status);
        assertEquals(third.toString(), 3, third.json.path("version").asInt());
        assertTrue(modelView("kept").path("default_version").asInt() == 1);
    }

    /**
     * A bare TorchScript file names its inputs but says neither datatypes nor shapes; its first call shows them, and
     * the repository keeps what it showed: after the engine reloaded the model (what it completed in memory lost)
     * and the inferrer restarted (what it cached lost), {@code /v2/models/{m}/config} is complete before any new
     * call, as a load tool such as perf_analyzer reads it first.
     */
    @Test
    public void aSignatureLearnedFromTheFirstCallDescribesTheModelAfterItIsReloaded() throws Exception {
        awaitServer();
        deploy("/models/adder.pt", "learner.pt");
        awaitReady("learner");
        HttpResult unknown = http().get("/v2/models/learner/config");
        assertEquals(unknown.toString(), 200, unknown.status);
        assertEquals(unknown.toString(), "TYPE_INVALID", unknown.json.path("input").get(0).path("data_type").asText());
        assertEquals(200, http().post("/api/v1/models/learner/prediction", Map.of("values", adderValues())).status);
        awaitLearned("learner");
        assertAdderConfig("learner");

        Bundle engine = installedBundle(PYTORCH);
        Bundle inferrer = installedBundle(INFERRER);
        try {
            engine.stop();
            await("learner leaves the modelhosts with its engine").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> http().get("/v2/models/learner/ready").status != 200);
            inferrer.stop();
            // the REST application drops the stopped inferrer's resources (and their cache) a moment later
            await("the REST application without the inferrer's resources").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> http().get("/v2/models/learner/config").status != 200);
        } finally {
            inferrer.start();
            engine.start();
        }
        awaitReady("learner");

        // before any call: complete from what the repository kept, and said so
        assertAdderConfig("learner");
        HttpResult metadata = http().get("/v2/models/learner");
        assertEquals(metadata.toString(), "model file + first call",
                metadata.json.path("parameters").path("signature_origin").asText());
        String stored = Files.readString(versionFile("learner"));
        assertTrue(stored, stored.contains("learnedInputs") && !stored.contains("\"inputs\""));
        // described, never enforced: the model still takes what it takes
        HttpResult adder = http().post("/api/v1/models/learner/prediction", Map.of("values", adderValues()));
        assertEquals(adder.toString(), 200, adder.status);
        assertValues("learner", expected("adder").path("outputs").path("output").path("data"),
                adder.json.path("values"));
    }

    // ------------------------------------------------------------------------------------------------

    private static final String PYTORCH = "io.fractal.engine.pytorch";
    private static final String INFERRER = "io.fractal.inferrer";

    /** The adder's Triton configuration, complete: x and y, and the output, FP32 of shape [-1, 3]. */
    private void assertAdderConfig(String model) {
        HttpResult config = http().get("/v2/models/" + model + "/config");
        assertEquals(config.toString(), 200, config.status);
        for (String part : List.of("input", "output")) {
            assertTrue(config.toString(), config.json.path(part).size() > 0);
            for (JsonNode tensor : config.json.path(part)) {
                assertEquals(config.toString(), "TYPE_FP32", tensor.path("data_type").asText());
                assertEquals(config.toString(), json(List.of(-1, 3)), tensor.path("dims"));
            }
        }
        assertEquals(config.toString(), List.of("x", "y"), List.of(config.json.path("input").get(0).path("name")
                .asText(), config.json.path("input").get(1).path("name").asText()));
    }

    /** The {@code version.json} of a model's version 1, where the repository keeps what it learned. */
    private Path versionFile(String model) {
        return Paths.get(property(FRACTAL_HOME), "data", "models", model, "1", "version.json");
    }

    /** Waits until the repository keeps the signature a first call showed (it is told off the request's thread). */
    private void awaitLearned(String model) {
        await(model + "'s learned signature in its version.json").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                .until(() -> Files.readString(versionFile(model)).contains("learnedOutputs"));
    }

    /** A model view without what is not kept on disk: the modelhosts' states. */
    private static JsonNode withoutStates(JsonNode view) {
        JsonNode copy = view.deepCopy();
        for (JsonNode version : copy.path("versions")) {
            ((ObjectNode) version).remove(List.of("modelhosts", "failures"));
        }
        return copy;
    }

    private Map<String, Object> adderValues() {
        JsonNode expected = expected("adder");
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("x", expected.path("inputs").path("x").path("data"));
        values.put("y", expected.path("inputs").path("y").path("data"));
        return values;
    }

    private void assertDownload(String path, byte[] expected) {
        HttpResponse<byte[]> download = getBytes(path);

        assertEquals(path, 200, download.statusCode());
        assertArrayEquals(path + ": the stored bytes", expected, download.body());
    }
}
