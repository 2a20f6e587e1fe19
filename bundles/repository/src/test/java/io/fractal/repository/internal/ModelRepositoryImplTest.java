package io.fractal.repository.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelArtifact;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

class ModelRepositoryImplTest {

    private static final Logger LOG = Logger.getLogger("io.fractal.repository");
    private static final byte[] MODEL_A = "torchscript model A".getBytes(StandardCharsets.UTF_8);
    /** FileInstall's poll interval, as the framework says it: how long a deploy/ file must stay unchanged. */
    private static final long POLL_MS = 1000;
    private static final byte[] MODEL_B = "torchscript model B, retrained".getBytes(StandardCharsets.UTF_8);
    /** The sample model folder the distribution ships (model.json + model.pt). */
    private static final Path IRIS_FOLDER = Path.of("../../deploy/iris");
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path home;
    private Path dataDir;
    private final List<Registration> registrations = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<ModelRepositoryImpl> repositories = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<String> lockViolations = new java.util.concurrent.CopyOnWriteArrayList<>();
    private ModelRepositoryImpl repo;

    @BeforeAll
    static void quiet() {
        LOG.setLevel(Level.SEVERE);
    }

    @BeforeEach
    void start() throws IOException {
        dataDir = home.resolve("data").resolve("models");
        repo = repository();
    }

    @AfterEach
    void stop() {
        repositories.forEach(ModelRepositoryImpl::deactivate);
        assertEquals(List.of(), lockViolations);
    }

    // ---- uploads -------------------------------------------------------------------------------------------

    @Test
    void anUploadIsVersionOneAndTheDefault() throws Exception {
        ModelVersionDTO v = deploy("iris", MODEL_A, "first", false);
        assertEquals("iris", v.name);
        assertEquals(1, v.version);
        assertEquals("PyTorch", v.engine);
        assertEquals("first", v.description);
        assertEquals("upload", v.source);
        assertEquals(sha256(MODEL_A), v.sha256);
        assertEquals(MODEL_A.length, v.size);
        assertTrue(v.created > 0);
        assertEquals(ModelSignature.UNKNOWN, v.signature);

        ModelDTO m = repo.model("iris");
        assertEquals(1, m.defaultVersion);
        assertEquals(List.of(1), versions(m));
        assertEquals(1, repo.resolve("iris", null).version);
        assertEquals("model.pt", repo.fileName("iris", 1));
        assertArrayEquals(MODEL_A, Files.readAllBytes(dataDir.resolve("iris/1/model.pt")));
    }

    @Test
    void aVersionsMetadataIsTheSidecarThatDeploysAnEqualVersionElsewhere() throws Exception {
        String sidecar = "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 4]}], "
                + "\"labels\": [\"a\", \"b\"], \"max_batch_size\": 8, \"max_queue_delay_us\": 500}";
        ModelVersionDTO v = repo.deploy("iris", "model.pt", new java.io.ByteArrayInputStream(MODEL_A),
                new java.io.ByteArrayInputStream(sidecar.getBytes(java.nio.charset.StandardCharsets.UTF_8)), null,
                "first", false);
        repo.setDescription("iris", v.version, "changed");
        String json;
        try (java.io.InputStream in = repo.metadata("iris", v.version)) {
            json = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        com.fasterxml.jackson.databind.JsonNode tree = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        assertEquals(8, tree.path("max_batch_size").asInt(), json);
        assertEquals(500, tree.path("max_queue_delay_us").asLong(), json);
        assertEquals("changed", tree.path("description").asText(), json);
        assertEquals("PyTorch", tree.path("engine").asText(), json);
        assertEquals("[\"a\",\"b\"]", tree.path("labels").toString(), json);
        assertEquals("FP32", tree.path("inputs").path(0).path("datatype").asText(), json);
        for (String kept : List.of("sha256", "source", "created", "size", "origin", "sourceDigest")) {
            assertFalse(tree.has(kept), kept + " is the repository's own: " + json);
        }
        // deployed elsewhere with it: the same metadata
        ModelVersionDTO copy;
        ModelRepositoryImpl elsewhere = new ModelRepositoryImpl(bundleContext(), config(Map.of("data_dir",
                home.resolve("other").toString())));
        repositories.add(elsewhere);
        try (java.io.InputStream meta = new java.io.ByteArrayInputStream(json.getBytes(
                java.nio.charset.StandardCharsets.UTF_8))) {
            copy = elsewhere.deploy("iris", "model.pt", new java.io.ByteArrayInputStream(MODEL_A), meta, null, null,
                    false);
        }
        assertEquals(new io.fractal.api.inference.Batching(8, 500), copy.batching);
        assertEquals("changed", copy.description);
        assertEquals(v.signature, copy.signature);
    }

    @Test
    void eachVersionIsPublishedForTheModelhosts() throws Exception {
        deploy("iris", MODEL_A, null, true);
        Registration r = live("iris", 1);
        assertEquals("iris", r.properties.get(ModelArtifact.MODEL_NAME));
        assertEquals(1, r.properties.get(ModelArtifact.MODEL_VERSION));
        assertEquals("PyTorch", r.properties.get(ModelArtifact.ENGINE));
        assertEquals(sha256(MODEL_A), r.properties.get(ModelArtifact.SHA256));
        assertEquals(null, r.properties.get(ModelArtifact.WITHDRAWN));
        ModelArtifact artifact = r.service;
        assertEquals("iris", artifact.name());
        assertEquals(1, artifact.version());
        assertEquals("PyTorch", artifact.engine());
        assertArrayEquals(MODEL_A, Files.readAllBytes(artifact.file()));
    }

    @Test
    void aSecondUploadIsVersionTwo() throws Exception {
        deploy("iris", MODEL_A, null, false);
        ModelVersionDTO v2 = deploy("iris", MODEL_B, null, false);
        assertEquals(2, v2.version);
        assertEquals(List.of(1, 2), versions(repo.model("iris")));
        assertEquals(1, repo.model("iris").defaultVersion, "make_default=false kept the default");
        ModelVersionDTO v3 = deploy("iris", MODEL_A, null, true);
        assertEquals(3, v3.version);
        assertEquals(3, repo.model("iris").defaultVersion, "without a balancer the new default applies at once");
        assertEquals(Set.of("iris:1", "iris:2", "iris:3"), published());
    }

    @Test
    void theEngineComesFromTheFileTypeOrTheCaller() throws Exception {
        assertEquals("OnnxRuntime", repo.deploy("digits", "digits.ONNX", in(MODEL_A), null, null, true).engine);
        assertEquals("model.onnx", repo.fileName("digits", null));
        assertEquals("Custom", repo.deploy("custom", "weights.bin", in(MODEL_A), "Custom", null, true).engine);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> repo.deploy("x", "weights.bin", in(MODEL_A), null, null, true));
        assertTrue(e.getMessage().contains("cannot tell the engine of 'weights.bin'"), e.getMessage());
    }

    /** An upload's file name gives only its type: a path in it reaches no file (it was a 500 naming the staging path). */
    @Test
    void fileNamesThatArePathsGiveOnlyTheirType() throws Exception {
        assertEquals("model.pt", repo.fileName("p", repo.deploy("p", "../../x/../a.pt", in(MODEL_A), null, null, true)
                .version));
        for (String name : new String[] {"a/../b", "x.pt/../y", "..\\..\\", "a./b", "a.p t", "m.\u0000pt", ""}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> repo.deploy("q", name, in(MODEL_A), null, null, true), name);
            assertTrue(e.getMessage().startsWith("cannot tell the engine of '") && !e.getMessage().contains(
                    home.toString()), e.getMessage());
        }
        // with the engine named, the stored file is model.bin whatever the name says
        assertEquals("model.bin", repo.fileName("r", repo.deploy("r", "a/../b", in(MODEL_A), "PyTorch", null, true)
                .version));
        assertEquals("", ModelRepositoryImpl.extension("a.pt/"));
        assertEquals("onnx", ModelRepositoryImpl.extension("C:\\models\\m.ONNX"));
    }

    @Test
    void anInvalidNameIsRefusedBeforeItsSidecarIsRead() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> repo.deploy("${jndi:ldap://x/a}",
                "model.pt", in(MODEL_A), in("{\"inputs\": ["), null, null, true));
        assertTrue(e.getMessage().startsWith("invalid model name '${jndi:ldap://x/a}'"), e.getMessage());
        InvalidInputException longName = assertThrows(InvalidInputException.class, () -> repo.deploy(
                "x".repeat(5000) + "/", "model.pt", in(MODEL_A), null, null, true));
        assertTrue(longName.getMessage().length() < 300, longName.getMessage());
    }

    @Test
    void aBoundEngineAddsItsFileTypes() throws Exception {
        assertThrows(InvalidInputException.class, () -> repo.deploy("m", "m.fake", in(MODEL_A), null, null, true));
        repo.bindEngine(engine("Fake", "fake"));
        assertEquals("Fake", repo.deploy("m", "m.fake", in(MODEL_A), null, null, true).engine);
    }

    @Test
    void badUploadsAreRejectedAndLeaveNothingBehind() throws Exception {
        InvalidInputException empty = assertThrows(InvalidInputException.class,
                () -> repo.deploy("iris", "model.pt", in(new byte[0]), null, null, true));
        assertEquals("the model file of iris is empty", empty.getMessage());
        assertThrows(InvalidInputException.class, () -> repo.deploy("../etc", "model.pt", in(MODEL_A), null, null, true));
        assertThrows(InvalidInputException.class, () -> repo.deploy("a/b", "model.pt", in(MODEL_A), null, null, true));
        assertEquals(List.of(), repo.models());
        try (Stream<Path> left = Files.list(dataDir)) {
            assertEquals(List.of(), left.toList());
        }
        assertFalse(Files.exists(home.resolve("etc")));
        assertEquals(Set.of(), published());
    }

    @Test
    void unknownModelsAndVersionsAreNotFound() throws Exception {
        assertThrows(ModelNotFoundException.class, () -> repo.model("iris"));
        deploy("iris", MODEL_A, null, true);
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class, () -> repo.resolve("iris", 7));
        assertEquals("model 'iris' has no version 7 (versions: [1])", e.getMessage());
        assertThrows(ModelNotFoundException.class, () -> repo.open("iris", 7));
        assertThrows(ModelNotFoundException.class, () -> repo.setDefaultVersion("iris", 7));
        assertThrows(ModelNotFoundException.class, () -> repo.delete("iris", 7));
        assertThrows(ModelNotFoundException.class, () -> repo.model("../iris"));
    }

    @Test
    void anUploadMayCarryItsSidecar() throws Exception {
        String json = """
                {"engine": "PyTorch", "description": "from the sidecar",
                 "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}], "labels": ["a", "b", "c"]}
                """;
        ModelVersionDTO v = repo.deploy("iris", "model.pt", in(MODEL_A), in(json), null, null, true);
        assertEquals("from the sidecar", v.description);
        assertEquals(List.of(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})), v.signature.inputs());
        assertEquals(List.of("a", "b", "c"), v.signature.labels());
        assertEquals("upload", v.source);
        ModelVersionDTO given = repo.deploy("iris", "model.pt", in(MODEL_A), in(json), null, "given", true);
        assertEquals("given", given.description, "the caller's description wins");
        assertEquals(2, given.version, "an upload is always a new version");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> repo.deploy("iris", "model.pt", in(MODEL_A), in("{oops"), null, null, true));
        assertTrue(e.getMessage().startsWith("invalid model.json of model iris: "), e.getMessage());
    }

    // ---- changing ------------------------------------------------------------------------------------------

    @Test
    void setDefaultVersion() throws Exception {
        deploy("iris", MODEL_A, null, true);
        deploy("iris", MODEL_B, null, true);
        repo.setDefaultVersion("iris", 1);
        assertEquals(1, repo.model("iris").defaultVersion);
        assertEquals(1, repo.resolve("iris", null).version);
        assertArrayEquals(MODEL_A, read(repo.open("iris", null)));
    }

    @Test
    void setDescriptionOfTheDefaultOrOfAVersion() throws Exception {
        deploy("iris", MODEL_A, "first", true);
        deploy("iris", MODEL_B, "second", true);
        repo.setDescription("iris", null, "MLP 4-16-3");
        repo.setDescription("iris", 1, "the old one");
        assertEquals("the old one", repo.resolve("iris", 1).description);
        assertEquals("MLP 4-16-3", repo.resolve("iris", 2).description);
    }

    @Test
    void deletingTheDefaultVersionMovesTheDefault() throws Exception {
        deploy("iris", MODEL_A, null, true);
        deploy("iris", MODEL_B, null, true);
        deploy("iris", MODEL_A, null, false);
        repo.setDefaultVersion("iris", 2);
        repo.delete("iris", 2);
        ModelDTO m = repo.model("iris");
        assertEquals(List.of(1, 3), versions(m));
        assertEquals(3, m.defaultVersion);
        assertFalse(Files.exists(dataDir.resolve("iris/2")));
        assertEquals(Set.of("iris:1", "iris:3"), published());
        assertTrue(registration("iris", 2).unregistered);
        assertTrue(registration("iris", 2).withdrawn, "a deleted version is withdrawn, not merely unregistered");
    }

    @Test
    void versionNumbersAreNeverReused() throws Exception {
        deploy("iris", MODEL_A, null, true);
        deploy("iris", MODEL_B, null, true);
        repo.delete("iris", 2);
        assertEquals(3, deploy("iris", MODEL_B, null, true).version);
    }

    @Test
    void deletingTheModelRemovesItsFolder() throws Exception {
        deploy("iris", MODEL_A, null, true);
        deploy("iris", MODEL_B, null, true);
        deploy("digits", MODEL_A, null, true);
        repo.delete("iris", null);
        assertThrows(ModelNotFoundException.class, () -> repo.model("iris"));
        assertFalse(Files.exists(dataDir.resolve("iris")));
        assertEquals(List.of("digits"), repo.models().stream().map(m -> m.name).toList());
        assertEquals(Set.of("digits:1"), published());
    }

    @Test
    void deletingTheLastVersionRemovesTheModel() throws Exception {
        deploy("iris", MODEL_A, null, true);
        repo.delete("iris", 1);
        assertThrows(ModelNotFoundException.class, () -> repo.model("iris"));
        assertFalse(Files.exists(dataDir.resolve("iris")));
    }

    @Test
    void openReturnsTheExactBytes() throws Exception {
        byte[] binary = new byte[70_000];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) (i * 31);
        }
        deploy("bin", binary, null, true);
        deploy("bin", MODEL_B, null, false);
        assertArrayEquals(binary, read(repo.open("bin", 1)));
        assertArrayEquals(binary, read(repo.open("bin", null)));
        assertArrayEquals(MODEL_B, read(repo.open("bin", 2)));
    }

    // ---- deploying from a source ---------------------------------------------------------------------------

    @Test
    void deployingTheSameBytesFromTheSameSourceAgainChangesNothing() throws Exception {
        ModelVersionDTO first = repo.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_A), null);
        ModelVersionDTO again = repo.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_A), null);
        assertEquals(1, first.version);
        assertEquals(1, again.version);
        assertEquals(first.created, again.created);
        assertEquals(List.of(1), versions(repo.model("iris")));
        assertEquals(1, registrations.size());
    }

    @Test
    void newBytesFromTheSameSourceReplaceItsOlderVersion() throws Exception {
        repo.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_A), null);
        ModelVersionDTO v2 = repo.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_B), null);
        assertEquals(2, v2.version);
        assertEquals("bundle:acme/iris", v2.source);
        ModelDTO m = repo.model("iris");
        assertEquals(List.of(2), versions(m));
        assertEquals(2, m.defaultVersion);
        assertTrue(registration("iris", 1).unregistered);
        assertTrue(registration("iris", 1).withdrawn, "a replaced version is withdrawn");
        assertFalse(Files.exists(dataDir.resolve("iris/1")));
        assertArrayEquals(MODEL_B, read(repo.open("iris", null)));
    }

    @Test
    void aSourceReplacesOnlyItsOwnVersions() throws Exception {
        deploy("iris", MODEL_A, "uploaded", true);
        repo.deployFrom("deploy:iris.pt", "iris", "iris.pt", in(MODEL_A), null);
        repo.deployFrom("deploy:iris.pt", "iris", "iris.pt", in(MODEL_B), null);
        assertEquals(List.of(1, 3), versions(repo.model("iris")));
        assertEquals("upload", repo.resolve("iris", 1).source);
        assertEquals(3, repo.model("iris").defaultVersion);
    }

    @Test
    void undeploySourceRemovesItsVersionsOnly() throws Exception {
        deploy("iris", MODEL_A, null, true);
        repo.deployFrom("bundle:acme/models", "iris", "model.pt", in(MODEL_B), null);
        repo.deployFrom("bundle:acme/models", "digits", "model.onnx", in(MODEL_A), null);
        repo.deployFrom("bundle:other", "adder", "model.pt", in(MODEL_A), null);
        assertEquals(2, repo.undeploySource("bundle:acme/models"));
        assertEquals(List.of("adder", "iris"), repo.models().stream().map(m -> m.name).toList());
        assertEquals(List.of(1), versions(repo.model("iris")));
        assertEquals(1, repo.model("iris").defaultVersion);
        assertEquals(Set.of("adder:1", "iris:1"), published());
        assertEquals(0, repo.undeploySource("bundle:unknown"));
    }

    @Test
    void aSidecarGivesTheSignatureAndDescription() throws Exception {
        String json = """
                {"engine": "PyTorch", "file": "net.pt", "description": "Iris classifier",
                 "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}],
                 "outputs": [{"datatype": "float32", "shape": [-1, 3]}],
                 "labels": ["setosa", "versicolor", "virginica"], "unknown_field": 1}
                """;
        ModelVersionDTO v = repo.deployFrom("bundle:acme/iris", "iris", "net.pt", in(MODEL_A), in(json));
        assertEquals("Iris classifier", v.description);
        assertEquals(new ModelSignature(List.of(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})),
                List.of(new TensorSpec("output0", DataType.FP32, new long[] {-1, 3})),
                List.of("setosa", "versicolor", "virginica")), v.signature);
        assertEquals(v.signature, live("iris", 1).service.signature());
        // The same model with another sidecar is another deployment.
        ModelVersionDTO v2 = repo.deployFrom("bundle:acme/iris", "iris", "net.pt", in(MODEL_A),
                in(json.replace("Iris classifier", "Iris, relabelled")));
        assertEquals(2, v2.version);
        assertEquals("Iris, relabelled", repo.resolve("iris", null).description);
    }

    @Test
    void anInvalidSidecarIsRejectedNamingTheFile() {
        InvalidInputException bad = assertThrows(InvalidInputException.class,
                () -> repo.deployFrom("s", "iris", "model.pt", in(MODEL_A), in("{\"inputs\": [")));
        assertTrue(bad.getMessage().startsWith("invalid model.json of model iris: "), bad.getMessage());
        InvalidInputException field = assertThrows(InvalidInputException.class,
                () -> repo.deployFrom("s", "iris", "model.pt", in(MODEL_A), in("{\"labels\": {\"a\": [1]}}")));
        assertFalse(field.getMessage().matches("(?s).*(java\\.|io\\.fractal|`).*"), field.getMessage());
        InvalidInputException type = assertThrows(InvalidInputException.class,
                () -> repo.deployFrom("s", "iris", "model.pt", in(MODEL_A),
                        in("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"complex\"}]}")));
        assertTrue(type.getMessage().contains("model.json") && type.getMessage().contains("unknown datatype 'complex'"),
                type.getMessage());
        assertEquals(List.of(), repo.models());
    }

    // ---- restart -------------------------------------------------------------------------------------------

    @Test
    void aRestartSeesTheSameModelsVersionsDefaultsAndDescriptions() throws Exception {
        deploy("iris", MODEL_A, "first", true);
        deploy("iris", MODEL_B, "second", true);
        deploy("iris", MODEL_A, "third", true);
        repo.setDefaultVersion("iris", 2);
        repo.setDescription("iris", 1, "edited");
        repo.delete("iris", 3);
        String json = "{\"labels\": [\"a\", \"b\"], \"inputs\": [{\"name\": \"x\", \"datatype\": \"FP64\"}]}";
        repo.deployFrom("bundle:acme/digits", "digits", "model.onnx", in(MODEL_B), in(json));
        List<ModelDTO> before = repo.models();
        List<Registration> liveBefore = registrations.stream().filter(r -> !r.unregistered).toList();
        repo.deactivate();
        assertEquals(Set.of(), published(), "deactivate unregisters every version");
        assertTrue(liveBefore.stream().noneMatch(r -> r.withdrawn),
                "but withdraws none: modelhosts keep them for the repository's return");

        ModelRepositoryImpl restarted = repository();
        List<ModelDTO> after = restarted.models();
        assertEquals(before.toString(), after.toString(), "DTOs compare by their content");
        assertEquals(2, restarted.model("iris").defaultVersion);
        assertEquals("edited", restarted.resolve("iris", 1).description);
        assertEquals("second", restarted.resolve("iris", null).description);
        assertEquals(List.of("a", "b"), restarted.resolve("digits", null).signature.labels());
        assertArrayEquals(MODEL_B, read(restarted.open("iris", 2)));
        assertEquals(Set.of("iris:1", "iris:2", "digits:1"), published());
        // It carries on numbering where it stopped, and the same source bytes are still a no-op.
        assertEquals(4, restarted.deploy("iris", "model.pt", in(MODEL_B), null, null, false).version);
        assertEquals(1, restarted.deployFrom("bundle:acme/digits", "digits", "model.onnx", in(MODEL_B), in(json)).version);
    }

    // ---- signatures learned from a first call ------------------------------------------------------------

    private static final ModelSignature ADDER = new ModelSignature(
            List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 3}),
                    new TensorSpec("y", DataType.FP32, new long[] {-1, 3})),
            List.of(new TensorSpec("output0", DataType.FP32, new long[] {-1, 3})), List.of(),
            ModelSignature.MODEL_FILE + " + " + ModelSignature.FIRST_CALL);

    @Test
    void aLearnedSignatureIsKeptApartFromTheDeclaredOneAndSurvivesARestart() throws Exception {
        deploy("adder", MODEL_A, null, true);
        assertEquals(null, repo.resolve("adder", 1).learned, "nothing learned yet");

        repo.learnSignature("adder", 1, ADDER);
        ModelVersionDTO v = repo.resolve("adder", 1);
        assertEquals(ADDER.withOrigin(ModelSignature.FIRST_CALL), v.learned);
        assertEquals(ModelSignature.UNKNOWN, v.signature, "the declared signature is not changed");
        assertEquals(ModelSignature.UNKNOWN, live("adder", 1).service.signature(), "engines never get it");
        assertEquals(v.learned, repo.model("adder").versions.get(0).learned);
        String stored = Files.readString(dataDir.resolve("adder/1/version.json"));
        assertTrue(stored.contains("\"learnedInputs\"") && stored.contains("\"learnedOutputs\""), stored);
        assertFalse(stored.contains("\"inputs\"") || stored.contains("\"outputs\""), stored);

        // once learned, it stays as the first call showed it
        repo.learnSignature("adder", 1, new ModelSignature(List.of(new TensorSpec("x", DataType.FP64,
                new long[] {-1, 3})), ADDER.outputs(), List.of(), ModelSignature.FIRST_CALL));
        assertEquals(ADDER.withOrigin(ModelSignature.FIRST_CALL), repo.resolve("adder", 1).learned);

        repo.deactivate();
        ModelRepositoryImpl restarted = repository();
        ModelVersionDTO after = restarted.resolve("adder", 1);
        assertEquals(ADDER.withOrigin(ModelSignature.FIRST_CALL), after.learned, "read back from version.json");
        assertEquals(ModelSignature.UNKNOWN, after.signature);
        assertEquals(ModelSignature.UNKNOWN, live("adder", 1).service.signature());
        // the same file from the same source is still the same version
        assertEquals(v.sha256, after.sha256);
    }

    @Test
    void onlyACompleteSignatureIsLearnedAndNeverForAVersionThatDeclaresOneOrIsGone() throws Exception {
        deploy("bare", MODEL_A, null, true);
        repo.learnSignature("bare", 1, new ModelSignature(List.of(new TensorSpec("x", null, null)),
                ADDER.outputs(), List.of(), ModelSignature.FIRST_CALL));
        repo.learnSignature("bare", 1, null);
        assertEquals(null, repo.resolve("bare", 1).learned, "an incomplete signature is not learned");

        String json = """
                {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]},
                            {"name": "y", "datatype": "FP32", "shape": [-1, 3]}],
                 "outputs": [{"name": "sum", "datatype": "FP32", "shape": [-1, 3]}]}
                """;
        repo.deployFrom("bundle:acme/declared", "declared", "model.pt", in(MODEL_A), in(json));
        repo.learnSignature("declared", 1, ADDER);
        assertEquals(null, repo.resolve("declared", 1).learned, "a complete declared signature needs nothing");

        repo.learnSignature("bare", 7, ADDER);
        repo.learnSignature("nobody", 1, ADDER);
        repo.learnSignature("../bad", 1, ADDER);
        repo.delete("bare", null);
        repo.learnSignature("bare", 1, ADDER);
        assertThrows(ModelNotFoundException.class, () -> repo.model("bare"));
        assertFalse(Files.exists(dataDir.resolve("bare")), "a removed version's folder is not written again");
    }

    @Test
    void aSidecarCannotDeclareALearnedSignature() throws Exception {
        String json = """
                {"learnedInputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}],
                 "learnedOutputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]}
                """;
        ModelVersionDTO v = repo.deployFrom("bundle:acme/sly", "sly", "model.pt", in(MODEL_A), in(json));
        assertEquals(null, v.learned);
        assertFalse(Files.readString(dataDir.resolve("sly/1/version.json")).contains("learned"));
    }

    // ---- promotion: a new default once a modelhost reports it READY ----------------------------------------

    @Test
    void aReplacingVersionBecomesTheDefaultWhenAModelhostReportsItReady() throws Exception {
        repo.deployFrom("deploy:iris/", "iris", "model.pt", in(MODEL_A), null);
        repo.balancer = balancer();
        ModelVersionDTO v2 = repo.deployFrom("deploy:iris/", "iris", "model.pt", in(MODEL_B), null);
        assertEquals(2, v2.version);
        assertEquals(1, repo.model("iris").defaultVersion, "the old version serves until the new one is ready");
        assertEquals(Set.of("iris:1", "iris:2"), published());

        repo.stateChanged("mh1", status("iris", 2, ModelState.LOADING));
        repo.stateChanged("mh2", status("iris", 2, ModelState.FAILED));
        repo.stateChanged("mh3", status("digits", 1, ModelState.READY)); // another model: nothing to do with it
        assertEquals(1, repo.model("iris").defaultVersion);
        repo.stateChanged("mh1", status("iris", 2, ModelState.READY));
        await().atMost(WAIT).until(() -> repo.model("iris").defaultVersion == 2);
        await().atMost(WAIT).until(() -> registration("iris", 1).unregistered);
        assertTrue(registration("iris", 1).withdrawn);
        assertEquals(List.of(2), versions(repo.model("iris")));
        assertEquals(List.of(), balancerCalls, "a READY report needs no look at the balancer");
    }

    @Test
    void aVersionThatFailsOnEveryModelhostLeavesTheOldOneServing() throws Exception {
        repo.deployFrom("deploy:iris/", "iris", "model.pt", in(MODEL_A), null);
        repo.balancer = balancer();
        repo.deployFrom("deploy:iris/", "iris", "model.pt", in(MODEL_B), null);
        balancerView.put("mh1", status("iris", 2, ModelState.FAILED));
        balancerView.put("mh2", status("iris", 2, ModelState.LOADING));
        repo.stateChanged("mh1", status("iris", 2, ModelState.FAILED));
        // mh2 has not reported yet, but the balancer sees it loading: no verdict.
        await().atMost(WAIT).until(() -> balancerCalls.size() == 1);
        assertEquals(1, repo.model("iris").defaultVersion);

        balancerView.put("mh2", status("iris", 2, ModelState.FAILED));
        repo.stateChanged("mh2", status("iris", 2, ModelState.FAILED));
        await().atMost(WAIT).until(() -> balancerCalls.size() == 2);
        await().atMost(WAIT).until(() -> !Files.readString(dataDir.resolve("iris/model.json")).contains("pending"));
        assertEquals(1, repo.model("iris").defaultVersion);
        assertEquals(List.of(1, 2), versions(repo.model("iris")), "the failed version stays, to be looked at");
        repo.stateChanged("mh1", status("iris", 2, ModelState.READY)); // decided: too late
        assertEquals(1, repo.model("iris").defaultVersion);
        assertFalse(registration("iris", 1).unregistered);
    }

    @Test
    void withoutAnyReportTheVersionIsPromotedAfterTheSwapTimeout() throws Exception {
        ModelRepositoryImpl r = new ModelRepositoryImpl(bundleContext(), config(Map.of("swap_timeout_seconds", 1)));
        repositories.add(r);
        r.deploy("iris", "model.pt", in(MODEL_A), null, null, true);
        r.balancer = balancer();
        r.deploy("iris", "model.pt", in(MODEL_B), null, null, true);
        assertEquals(1, r.model("iris").defaultVersion);
        await().atMost(WAIT).until(() -> r.model("iris").defaultVersion == 2);
        assertEquals(List.of(1, 2), versions(r.model("iris")), "an upload retires nothing");
    }

    @Test
    void aPromotionInProgressResumesAfterARestart() throws Exception {
        repo.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_A), null);
        repo.balancer = balancer();
        repo.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_B), null);
        repo.stateChanged("mh1", status("iris", 2, ModelState.LOADING));
        repo.deactivate(); // an update of the repository bundle, while version 2 loads
        assertTrue(registrations.stream().noneMatch(r -> r.withdrawn));

        ModelRepositoryImpl restarted = repository();
        restarted.balancer = balancer();
        assertEquals(1, restarted.model("iris").defaultVersion);
        assertEquals(Set.of("iris:1", "iris:2"), published());
        // The modelhosts tell the new repository what they hold as soon as it listens.
        restarted.stateChanged("mh1", status("iris", 2, ModelState.READY));
        await().atMost(WAIT).until(() -> restarted.model("iris").defaultVersion == 2);
        assertEquals(List.of(2), versions(restarted.model("iris")));
        assertEquals(Set.of("iris:2"), published());
        assertTrue(registration("iris", 1).withdrawn);
        // The same bytes from the same source again are still a no-op.
        assertEquals(2, restarted.deployFrom("bundle:acme/iris", "iris", "model.pt", in(MODEL_B), null).version);
    }

    @Test
    void deletingAWaitingVersionEndsItsPromotion() throws Exception {
        repo.deploy("iris", "model.pt", in(MODEL_A), null, null, true);
        repo.balancer = balancer();
        repo.deploy("iris", "model.pt", in(MODEL_B), null, null, true);
        repo.delete("iris", 2);
        repo.stateChanged("mh1", status("iris", 2, ModelState.READY));
        assertEquals(1, repo.model("iris").defaultVersion);
        assertFalse(Files.readString(dataDir.resolve("iris/model.json")).contains("pending"));
    }

    @Test
    void aModelDeletedAndDeployedAgainStartsAfresh() throws Exception {
        deploy("iris", MODEL_A, null, true);
        deploy("iris", MODEL_B, null, true);
        repo.delete("iris", null);
        assertEquals(1, deploy("iris", MODEL_B, null, true).version);
        assertArrayEquals(MODEL_B, read(repo.open("iris", 1)));
        try (Stream<Path> left = Files.list(dataDir)) {
            assertEquals(List.of("iris"), left.map(f -> f.getFileName().toString()).toList(), "nothing left over");
        }
    }

    // ---- FileInstall ---------------------------------------------------------------------------------------

    @Test
    void canHandleModelFilesAndModelFolders() throws Exception {
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        assertTrue(repo.canHandle(file(deploy.resolve("iris.pt"), MODEL_A)));
        assertTrue(repo.canHandle(file(deploy.resolve("digits.onnx"), MODEL_A)));
        Path folder = Files.createDirectories(deploy.resolve("adder"));
        assertTrue(repo.canHandle(file(folder.resolve("model.json"), "{}".getBytes(StandardCharsets.UTF_8))));
        assertTrue(repo.canHandle(file(folder.resolve("model.pt"), MODEL_A)));
        assertFalse(repo.canHandle(file(folder.resolve("README.md"), MODEL_A)), "other files of a model folder");
        assertFalse(repo.canHandle(file(deploy.resolve(".iris.pt"), MODEL_A)), "hidden files");
        assertFalse(repo.canHandle(file(deploy.resolve("notes.txt"), MODEL_A)), "unknown types");
        assertFalse(repo.canHandle(file(deploy.resolve("io.fractal.modelhost-mh3.cfg"), MODEL_A)), "configurations");
        assertFalse(repo.canHandle(file(deploy.resolve("bundle.jar"), MODEL_A)), "bundles");
        assertFalse(repo.canHandle(file(deploy.resolve("bad name.pt"), MODEL_A)), "invalid model names");
        assertFalse(repo.canHandle(deploy.resolve("missing.pt").toFile()), "files that are not there");
        assertFalse(repo.canHandle(Files.createDirectories(deploy.resolve("dir.pt")).toFile()), "folders");
        Path hiddenFolder = Files.createDirectories(deploy.resolve(".git"));
        file(hiddenFolder.resolve("model.json"), "{}".getBytes(StandardCharsets.UTF_8));
        assertFalse(repo.canHandle(file(hiddenFolder.resolve("model.pt"), MODEL_A)), "a folder that is no model name");
        assertFalse(repo.canHandle(file(deploy.resolve("custom.fake"), MODEL_A)));
        repo.bindEngine(engine("Fake", "fake"));
        assertTrue(repo.canHandle(deploy.resolve("custom.fake").toFile()), "an engine's file types");
    }

    @Test
    void installingAModelFileDeploysItUnderItsName() throws Exception {
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        File file = file(deploy.resolve("adder.pt"), MODEL_A);
        repo.install(file);
        ModelVersionDTO v = repo.resolve("adder", null);
        assertEquals(1, v.version);
        assertEquals("deploy:adder.pt", v.source);
        file(file.toPath(), MODEL_B);
        repo.update(file); // a change: read once a check a poll later finds the file as it was
        await().atMost(WAIT).until(() -> versions(repo.model("adder")).equals(List.of(2)));
        repo.uninstall(file);
        assertThrows(ModelNotFoundException.class, () -> repo.model("adder"));
    }

    /**
     * FileInstall reports a file it knows on the first poll that sees it change, even while it is still being
     * written: the repository reads it only once a check a poll later finds it unchanged, whatever it was told
     * meanwhile.
     */
    @Test
    void aReplacementStillBeingWrittenIsReadOnceItStaysUnchanged() throws Exception {
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        File file = file(deploy.resolve("adder.pt"), MODEL_A);
        repo.install(file);
        assertEquals(List.of(1), versions(repo.model("adder")));

        byte[] replacement = "torchscript model B, a longer one than A".getBytes(StandardCharsets.UTF_8);
        Files.write(file.toPath(), Arrays.copyOf(replacement, replacement.length / 2)); // half of it, just now
        repo.update(file);
        assertEquals(List.of(1), versions(repo.model("adder")), "read half-written");
        Thread.sleep(POLL_MS / 5);
        Files.write(file.toPath(), replacement); // the rest, within a poll
        repo.update(file);
        repo.update(file);
        assertEquals(List.of(1), versions(repo.model("adder")), "read while it changed");

        await().atMost(WAIT).until(() -> repo.model("adder").defaultVersion == 2);
        Thread.sleep(POLL_MS + 200); // the check scheduled for the half file must not make a version of its own
        assertEquals(List.of(2), versions(repo.model("adder")));
        assertEquals(sha256(replacement), repo.resolve("adder", null).sha256);
    }

    @Test
    void installingAModelFolderDeploysItWithTheSidecarsSignature() throws Exception {
        Path folder = Files.createDirectories(home.resolve("deploy").resolve("iris"));
        settled(Files.copy(IRIS_FOLDER.resolve("model.json"), folder.resolve("model.json")));
        settled(Files.copy(IRIS_FOLDER.resolve("model.pt"), folder.resolve("model.pt")));
        repo.install(folder.resolve("model.pt").toFile());
        // FileInstall reports the sidecar too: it stands for the same folder, so nothing changes.
        repo.install(folder.resolve("model.json").toFile());

        ModelDTO m = repo.model("iris");
        assertEquals(List.of(1), versions(m));
        ModelVersionDTO v = repo.resolve("iris", null);
        assertEquals("PyTorch", v.engine);
        assertEquals("deploy:iris/", v.source);
        assertTrue(v.description.startsWith("Iris classifier"), v.description);
        assertEquals(List.of(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})), v.signature.inputs());
        assertEquals(List.of(new TensorSpec("probabilities", DataType.FP32, new long[] {-1, 3})),
                v.signature.outputs());
        assertEquals(List.of("setosa", "versicolor", "virginica"), v.signature.labels());
        assertArrayEquals(Files.readAllBytes(IRIS_FOLDER.resolve("model.pt")), read(repo.open("iris", 1)));
        assertEquals(sha256(Files.readAllBytes(IRIS_FOLDER.resolve("model.pt"))), v.sha256);

        // Removing the sidecar while the model file stays keeps the model; removing the folder removes it.
        repo.uninstall(folder.resolve("model.json").toFile());
        assertEquals(List.of(1), versions(repo.model("iris")));
    }

    @Test
    void anInvalidSidecarInAFolderIsRejectedNamingTheFile() throws Exception {
        Path folder = Files.createDirectories(home.resolve("deploy").resolve("broken"));
        file(folder.resolve("model.json"), "{\"engine\": \"PyTorch\", \"inputs\": [".getBytes(StandardCharsets.UTF_8));
        file(folder.resolve("model.pt"), MODEL_A);
        Exception e = assertThrows(Exception.class, () -> repo.install(folder.resolve("model.pt").toFile()));
        assertTrue(e.getMessage().contains("model.json"), e.getMessage());
        assertThrows(ModelNotFoundException.class, () -> repo.model("broken"));
    }

    @Test
    void aFolderWithoutItsModelFileIsRejected() throws Exception {
        Path folder = Files.createDirectories(home.resolve("deploy").resolve("empty"));
        file(folder.resolve("model.json"), "{\"file\": \"model.pt\"}".getBytes(StandardCharsets.UTF_8));
        IOException e = assertThrows(IOException.class, () -> repo.install(folder.resolve("model.json").toFile()));
        assertTrue(e.getMessage().contains("has no model file 'model.pt'"), e.getMessage());
        file(folder.resolve("model.json"), "{\"file\": \"../../secret.pt\"}".getBytes(StandardCharsets.UTF_8));
        file(home.resolve("secret.pt"), MODEL_A);
        assertThrows(IOException.class, () -> repo.install(folder.resolve("model.json").toFile()));
        assertThrows(ModelNotFoundException.class, () -> repo.model("empty"));
    }

    @Test
    void aConfiguredDataFolderIsUsed() throws Exception {
        Path elsewhere = home.resolve("elsewhere");
        ModelRepositoryImpl r = new ModelRepositoryImpl(bundleContext(), config(Map.of("data_dir", elsewhere.toString())));
        repositories.add(r);
        r.deploy("iris", "model.pt", in(MODEL_A), null, null, true);
        assertTrue(Files.isRegularFile(elsewhere.resolve("iris/1/model.pt")));
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /** What the fake balancer answers to status(), and the calls it had. */
    private final Map<String, ModelStatusDTO> balancerView = new java.util.concurrent.ConcurrentHashMap<>();
    private final List<String> balancerCalls = new java.util.concurrent.CopyOnWriteArrayList<>();

    private LoadBalancer balancer() {
        return (LoadBalancer) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {LoadBalancer.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "status" -> {
                        balancerCalls.add(args[0] + ":" + args[1]);
                        yield new HashMap<>(balancerView);
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "LoadBalancer";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static ModelStatusDTO status(String model, int version, ModelState state) {
        ModelStatusDTO s = new ModelStatusDTO();
        s.model = model;
        s.version = version;
        s.state = state;
        return s;
    }

    private ModelVersionDTO deploy(String name, byte[] bytes, String description, boolean makeDefault)
            throws IOException {
        return repo.deploy(name, "model.pt", in(bytes), null, description, makeDefault);
    }

    private static InputStream in(byte[] bytes) {
        return new ByteArrayInputStream(bytes);
    }

    private static InputStream in(String text) {
        return in(text.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] read(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }

    /** A file written a while ago, as FileInstall reports one: unchanged for more than a poll. */
    private static File file(Path path, byte[] bytes) throws IOException {
        return settled(Files.write(path, bytes)).toFile();
    }

    private static Path settled(Path path) throws IOException {
        Files.setLastModifiedTime(path, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        return path;
    }

    private static List<Integer> versions(ModelDTO m) {
        return m.versions.stream().map(v -> v.version).toList();
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private Set<String> published() {
        Set<String> out = new java.util.HashSet<>();
        for (Registration r : registrations) {
            if (!r.unregistered) {
                out.add(r.service.name() + ":" + r.service.version());
            }
        }
        return out;
    }

    private Registration live(String name, int version) {
        return registrations.stream().filter(r -> !r.unregistered && r.service.name().equals(name)
                && r.service.version() == version).findFirst().orElseThrow();
    }

    private Registration registration(String name, int version) {
        return registrations.stream().filter(r -> r.service.name().equals(name) && r.service.version() == version)
                .reduce((a, b) -> b).orElseThrow();
    }

    private ModelRepositoryImpl repository() throws IOException {
        ModelRepositoryImpl r = new ModelRepositoryImpl(bundleContext(), config(Map.of()));
        repositories.add(r);
        return r;
    }

    /** One service registration the repository made. */
    static final class Registration {
        final ModelArtifact service;
        final Map<String, Object> properties = new java.util.concurrent.ConcurrentHashMap<>();
        volatile boolean unregistered;
        /** Whether {@link ModelArtifact#WITHDRAWN} was set on it before it was unregistered. */
        volatile boolean withdrawn;

        Registration(ModelArtifact service, Dictionary<String, ?> props) {
            this.service = service;
            update(props);
        }

        void update(Dictionary<String, ?> props) {
            properties.clear();
            for (java.util.Enumeration<String> keys = props.keys(); keys.hasMoreElements();) {
                String k = keys.nextElement();
                properties.put(k, props.get(k));
            }
        }
    }

    /** Fails the test if a service is registered or unregistered under a repository's lock. */
    private void assertNoRepositoryLockHeld(String what) {
        for (ModelRepositoryImpl r : repositories) {
            if (Thread.holdsLock(r)) {
                lockViolations.add(what + " under the repository's lock");
            }
        }
    }

    /** The bundle context, as far as the repository uses it: fractal.home, and service registrations. */
    private BundleContext bundleContext() {
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getProperty" -> switch ((String) args[0]) {
                        case "fractal.home" -> home.toString();
                        case "felix.fileinstall.poll" -> String.valueOf(POLL_MS);
                        default -> null;
                    };
                    case "registerService" -> {
                        assertSame(ModelArtifact.class, args[0]);
                        assertNoRepositoryLockHeld("registerService");
                        @SuppressWarnings("unchecked")
                        Dictionary<String, ?> props = (Dictionary<String, ?>) args[2];
                        Registration r = new Registration((ModelArtifact) args[1], props);
                        registrations.add(r);
                        yield registration(r);
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "BundleContext";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private ServiceRegistration<?> registration(Registration r) {
        return (ServiceRegistration<?>) Proxy.newProxyInstance(ModelRepositoryImplTest.class.getClassLoader(),
                new Class<?>[] {ServiceRegistration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "unregister" -> {
                        assertNoRepositoryLockHeld("unregister");
                        if (r.unregistered) {
                            throw new IllegalStateException("already unregistered");
                        }
                        r.withdrawn = Boolean.TRUE.equals(r.properties.get(ModelArtifact.WITHDRAWN));
                        r.unregistered = true;
                        yield null;
                    }
                    case "setProperties" -> {
                        assertNoRepositoryLockHeld("setProperties");
                        if (r.unregistered) {
                            throw new IllegalStateException("already unregistered");
                        }
                        @SuppressWarnings("unchecked")
                        Dictionary<String, ?> props = (Dictionary<String, ?>) args[0];
                        r.update(props);
                        yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "ServiceRegistration[" + r.service + "]";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** The configuration annotation as Declarative Services builds it: the given values, else the defaults. */
    static RepositoryConfiguration config(Map<String, Object> values) {
        return (RepositoryConfiguration) Proxy.newProxyInstance(RepositoryConfiguration.class.getClassLoader(),
                new Class<?>[] {RepositoryConfiguration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "annotationType" -> RepositoryConfiguration.class;
                    case "toString" -> "RepositoryConfiguration" + values;
                    case "hashCode" -> values.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> values.containsKey(method.getName()) ? values.get(method.getName())
                            : method.getDefaultValue();
                });
    }

    private static InferenceEngine engine(String name, String extension) {
        return new InferenceEngine() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String platform() {
                return name.toLowerCase();
            }

            @Override
            public Set<String> fileExtensions() {
                return Set.of(extension);
            }

            @Override
            public LoadedModel load(ModelArtifact artifact, int workers) {
                throw new UnsupportedOperationException();
            }
        };
    }
}
