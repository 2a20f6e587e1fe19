package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.Version;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * Model bundles: the example jar of {@code examples/iris-model-bundle} dropped into deploy/ deploys its model, a new
 * build of it replaces the model by a new version, deleting it removes the model; and the same through the
 * framework API, as the shell's {@code install}, {@code stop} and {@code uninstall} do.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ModelBundleIT extends FractalTestSupport {

    /** System property (driver) and framework property (probe): the example model bundle's jar. */
    private static final String MODEL_BUNDLE = "fractal.it.modelBundle";
    private static final String SYMBOLIC_NAME = "io.fractal.examples.iris-model";
    private static final String MODEL = "iris-bundled";
    private static final String SIDECAR = "models/iris/model.json";
    /** Deploying, when the engine has already started in this JVM, takes a few seconds at most. */
    private static final Duration DEPLOY_TIMEOUT = Duration.ofSeconds(30);

    private static final ObjectMapper JSON = new ObjectMapper();

    /** No sample models: the deploy folder holds only the configuration. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries(),
                frameworkProperty(MODEL_BUNDLE).value(exampleJar().toAbsolutePath().toString()));
    }

    private static Path exampleJar() {
        String configured = System.getProperty(MODEL_BUNDLE);
        Path jar = configured != null ? Paths.get(configured) : null;
        if (jar == null) {
            Path target = Paths.get("../examples/iris-model-bundle/target");
            try (Stream<Path> files = Files.list(target)) {
                jar = files.filter(p -> p.getFileName().toString().matches("io\\.fractal\\.examples\\.iris-model-.*\\.jar"))
                        .findFirst().orElse(null);
            } catch (IOException e) {
                jar = null;
            }
        }
        if (jar == null || !Files.isRegularFile(jar)) {
            throw new IllegalStateException("No example model bundle at " + (jar == null ? "examples/iris-model-bundle/"
                    + "target" : jar.toAbsolutePath()) + ": build it first (mvn install -DskipTests in the repository root)");
        }
        return jar;
    }

    @Test
    public void modelBundleDroppedDeploysItsModelANewBuildReplacesItDeletingRemovesIt() throws Exception {
        awaitServer();
        HttpResult before = http().get("/api/v1/models/" + MODEL);
        assertEquals(before.toString(), 404, before.status);
        byte[] jar = Files.readAllBytes(Paths.get(context.getProperty(MODEL_BUNDLE)));

        Path dropped = drop(jar, "iris-model.jar");

        awaitReady(MODEL);
        JsonNode version = defaultVersion(1);
        assertEquals(version.toString(), "bundle:" + SYMBOLIC_NAME + "/" + MODEL, version.path("source").asText());
        assertEquals(version.toString(), "PyTorch", version.path("engine").asText());
        assertTrue(version.toString(), version.path("description").asText().startsWith("Iris classifier"));
        assertEquals(version.toString(), json(List.of("setosa", "versicolor", "virginica")), version.path("labels"));
        assertPredicts(1);

        // A new build: another Bundle-Version, a new description in model.json, the same model file.
        String description = "Iris classifier, shipped again as a bundle";
        drop(rebuilt(jar, Map.of("Bundle-Version", "0.1.1.rebuilt"), description), "iris-model.jar");

        await(MODEL + " version 2 replaces version 1").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> {
                    HttpResult view = http().get("/api/v1/models/" + MODEL);
                    assertEquals(view.toString(), 2, view.json.path("default_version").asInt());
                    assertEquals(view.toString(), 1, view.json.path("versions").size());
                });
        awaitReady(MODEL);
        assertEquals(new Version("0.1.1.rebuilt"), installedBundle(SYMBOLIC_NAME).getVersion());
        assertEquals(description, defaultVersion(2).path("description").asText());
        assertPredicts(2);

        Files.delete(dropped);

        await(MODEL + " removed").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> {
                    HttpResult view = http().get("/api/v1/models/" + MODEL);
                    assertEquals(view.toString(), 404, view.status);
                });
        HttpResult prediction = http().post("/api/v1/models/" + MODEL + "/prediction", Map.of("values", List.of(1, 2, 3, 4)));
        assertEquals(prediction.toString(), 404, prediction.status);
    }

    @Test
    public void installedWithoutStartDeploysBadClausesAreSkippedStopKeepsUninstallRemoves() throws Exception {
        awaitServer();
        byte[] jar = rebuilt(Files.readAllBytes(Paths.get(context.getProperty(MODEL_BUNDLE))), Map.of(
                "Bundle-SymbolicName", "io.fractal.it.shell-models",
                "Fractal-Model", "iris-shell;path=models/iris, missing;path=models/none, bad name;path=models/iris"),
                null);

        // what the shell's 'install' does: installed, not started
        Bundle bundle = context.installBundle("it:shell-models", new ByteArrayInputStream(jar));

        awaitReady("iris-shell");
        assertEquals("bundle:io.fractal.it.shell-models/iris-shell",
                http().get("/api/v1/models/iris-shell").json.path("versions").get(0).path("source").asText());
        assertEquals(404, http().get("/api/v1/models/missing").status);

        bundle.start();
        bundle.stop();
        await("iris-shell stays after a stop").during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> http().get("/api/v1/models/iris-shell").status == 200);

        bundle.uninstall();

        await("iris-shell removed").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(100))
                .until(() -> http().get("/api/v1/models/iris-shell").status == 404);
    }

    /**
     * A model bundle updated again and again the way FileInstall updates one (a transient stop, {@code update}, a
     * refresh of the bundle, {@code start}), the next update as soon as the model of the last one serves: each update's model
     * deploys. The refreshes close the bundle's content while the extender may be reading it ("Stream closed"); the
     * extender must read it again from the current revision, not give that revision up.
     */
    @Test
    public void aModelBundleUpdatedAndRefreshedAgainAndAgainDeploysEachUpdate() throws Exception {
        awaitServer();
        String model = "iris-updated";
        byte[] jar = Files.readAllBytes(Paths.get(context.getProperty(MODEL_BUNDLE)));
        Map<String, String> headers = Map.of("Bundle-SymbolicName", "io.fractal.it.updated-models",
                "Fractal-Model", model + ";path=models/iris");
        Bundle bundle = context.installBundle("it:updated-models", new ByteArrayInputStream(rebuilt(jar, headers, "round 0")));
        bundle.start();
        awaitDescription(model, "round 0");
        FrameworkWiring wiring = context.getBundle(0).adapt(FrameworkWiring.class);

        for (int round = 1; round <= 6; round++) {
            String description = "round " + round;
            bundle.stop(Bundle.STOP_TRANSIENT); // as FileInstall does before an update
            bundle.update(new ByteArrayInputStream(rebuilt(jar, headers, description)));
            CountDownLatch refreshed = new CountDownLatch(1);
            FrameworkEvent[] ended = new FrameworkEvent[1];
            wiring.refreshBundles(List.of(bundle), e -> {
                ended[0] = e;
                refreshed.countDown();
            });
            assertTrue("refresh of round " + round + " ended", refreshed.await(60, TimeUnit.SECONDS));
            assertEquals(String.valueOf(ended[0].getThrowable()), FrameworkEvent.PACKAGES_REFRESHED, ended[0].getType());
            bundle.start();

            awaitDescription(model, description);
        }

        bundle.uninstall();
        await(model + " removed").atMost(DEPLOY_TIMEOUT).pollInterval(Duration.ofMillis(100))
                .until(() -> http().get("/api/v1/models/" + model).status == 404);
    }

    /** Waits until the model's only version has that description (one version per update), and is ready. */
    private void awaitDescription(String model, String description) {
        await(model + " deployed with description '" + description + "'").atMost(DEPLOY_TIMEOUT)
                .pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
                    HttpResult view = http().get("/api/v1/models/" + model);
                    assertEquals(view.toString(), 200, view.status);
                    assertEquals(view.toString(), 1, view.json.path("versions").size());
                    assertEquals(view.toString(), description, view.json.path("versions").get(0).path("description").asText());
                });
        awaitReady(model);
    }

    /** The model's default version, which must be {@code expected}, as GET /api/v1/models/<model> shows it. */
    private JsonNode defaultVersion(int expected) {
        HttpResult view = http().get("/api/v1/models/" + MODEL);
        assertEquals(view.toString(), 200, view.status);
        assertEquals(view.toString(), expected, view.json.path("default_version").asInt());
        for (JsonNode v : view.json.path("versions")) {
            if (v.path("version").asInt() == expected) {
                return v;
            }
        }
        throw new AssertionError("no version " + expected + " in " + view);
    }

    /** The five reference rows of expected/iris.json give the reference probabilities and labels. */
    private void assertPredicts(int version) {
        JsonNode expected = expected("iris");
        HttpResult prediction = http().post("/api/v1/models/" + MODEL + "/prediction",
                Map.of("values", expected.path("inputs").path("input").path("data")));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), MODEL, prediction.json.path("model").asText());
        assertEquals(prediction.toString(), version, prediction.json.path("version").asInt());
        assertValues("values", expected.path("outputs").path("probabilities").path("data"), prediction.json.path("values"));
        assertEquals(prediction.toString(), expected.path("predicted"), prediction.json.path("labels"));
    }

    /** Writes a jar into the deploy folder atomically (replacing one of that name), so FileInstall never sees half. */
    private Path drop(byte[] jar, String name) throws IOException {
        Path staging = Paths.get(context.getProperty(FRACTAL_HOME)).resolveSibling(name + ".staging");
        Files.write(staging, jar);
        return Files.move(staging, deployFolder().resolve(name), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
    }

    /** A copy of a jar with manifest headers set and, unless null, a new description in the model's model.json. */
    private static byte[] rebuilt(byte[] jar, Map<String, String> headers, String description) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JarInputStream in = new JarInputStream(new ByteArrayInputStream(jar))) {
            Manifest manifest = new Manifest(in.getManifest());
            headers.forEach(manifest.getMainAttributes()::putValue);
            try (JarOutputStream out = new JarOutputStream(bytes, manifest)) {
                for (JarEntry entry = in.getNextJarEntry(); entry != null; entry = in.getNextJarEntry()) {
                    byte[] content = in.readAllBytes();
                    if (description != null && entry.getName().equals(SIDECAR)) {
                        ObjectNode sidecar = (ObjectNode) JSON.readTree(content);
                        sidecar.put("description", description);
                        content = JSON.writeValueAsBytes(sidecar);
                    }
                    out.putNextEntry(new JarEntry(entry.getName()));
                    out.write(content);
                    out.closeEntry();
                }
            }
        }
        return bytes.toByteArray();
    }
}
