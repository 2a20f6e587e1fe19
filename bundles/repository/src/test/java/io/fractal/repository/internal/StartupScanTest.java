package io.fractal.repository.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When the repository has taken in what deploy/ held at start. */
class StartupScanTest {

    private static final Set<String> TYPES = Set.of("pt", "onnx");

    @TempDir
    Path deploy;

    @Test
    void settledOnceEveryModelFileAndFolderIsDeployedOrRefused() throws IOException {
        Files.write(deploy.resolve("a.pt"), new byte[] {1});
        Files.createDirectories(deploy.resolve("b"));
        Files.writeString(deploy.resolve("b/model.json"), "{}");
        Files.writeString(deploy.resolve("io.fractal.modelhost-mh1.cfg"), "id=mh1"); // not a model
        Files.writeString(deploy.resolve("prometheus.yml"), "x"); // not a model
        Files.createDirectories(deploy.resolve("notes")); // a folder without a sidecar: not a model
        Files.write(deploy.resolve(".hidden.pt"), new byte[] {1}); // FileInstall skips it
        StartupScan scan = new StartupScan(deploy, 0, 60_000);
        Set<String> handled = new HashSet<>();
        assertFalse(scan.settled(TYPES, handled::contains));
        handled.add("deploy:a.pt");
        assertFalse(scan.settled(TYPES, handled::contains), "b/ is still waiting");
        handled.add("deploy:b/"); // deployed, or refused (a corrupt file): either way taken in
        assertTrue(scan.settled(TYPES, handled::contains));
        handled.clear();
        assertTrue(scan.settled(TYPES, handled::contains), "once settled, settled");
    }

    @Test
    void notBeforeFileInstallHadTwoPollsAndAlwaysAfterTheTimeout() throws Exception {
        StartupScan early = new StartupScan(deploy, 60_000, 120_000);
        assertFalse(early.settled(TYPES, s -> true), "an empty folder, but FileInstall has not looked yet");
        Files.write(deploy.resolve("stuck.onnx"), new byte[] {1});
        StartupScan timedOut = new StartupScan(deploy, 0, 0);
        assertTrue(timedOut.settled(TYPES, s -> false), "past the timeout, what is missing is logged, not waited for");
        assertTrue(new StartupScan(null, 0, 60_000).settled(TYPES, s -> false), "no deploy folder: the store alone");
    }
}
