package io.fractal.repository.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Whether what was in {@code deploy/} when the repository started has been taken in: FileInstall reports files
 * on its own schedule and says nothing when a scan ends, so the repository looks at the folder itself. Settled
 * once every model file or model folder there has been deployed or refused, and FileInstall has had two polls to
 * report them; or, whatever is left, after the start-up timeout (what is still missing is logged). Once settled,
 * it stays settled.
 */
final class StartupScan {

    private static final Logger LOG = Logger.getLogger(StartupScan.class.getName());

    private final Path deployDir;
    private final long notBefore;
    private final long deadline;
    private volatile boolean settled;

    /**
     * @param deployDir  FileInstall's folder, or null when there is none (then only the store counts)
     * @param pollMillis FileInstall's poll interval
     */
    StartupScan(Path deployDir, long pollMillis, long timeoutMillis) {
        long now = System.nanoTime();
        this.deployDir = deployDir;
        this.notBefore = now + TimeUnit.MILLISECONDS.toNanos(2 * Math.max(0, pollMillis));
        this.deadline = now + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    }

    /**
     * @param extensions the model file types known now
     * @param handled    whether a deploy source ({@code deploy:<file>} or {@code deploy:<folder>/}) was deployed or
     *                   refused
     */
    boolean settled(Set<String> extensions, Predicate<String> handled) {
        if (settled) {
            return true;
        }
        long now = System.nanoTime();
        if (now - notBefore < 0) {
            return false;
        }
        List<String> waiting = waiting(extensions, handled);
        if (waiting.isEmpty()) {
            settled = true;
            LOG.info("Start-up scan of deploy/ done: every model there is taken in");
        } else if (now - deadline >= 0) {
            settled = true;
            LOG.warning("Start-up scan of deploy/: still not taken in after the timeout, counted as done: " + waiting);
        }
        return settled;
    }

    private List<String> waiting(Set<String> extensions, Predicate<String> handled) {
        List<String> waiting = new ArrayList<>();
        if (deployDir == null || !Files.isDirectory(deployDir)) {
            return waiting;
        }
        try (Stream<Path> entries = Files.list(deployDir)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String name = p.getFileName().toString();
                if (name.startsWith(".")) {
                    continue;
                }
                String source;
                if (Files.isDirectory(p)) {
                    if (!Files.isRegularFile(p.resolve(ModelMetadata.SIDECAR))) {
                        continue;
                    }
                    source = "deploy:" + name + "/";
                } else {
                    int dot = name.lastIndexOf('.');
                    if (dot < 0 || !extensions.contains(name.substring(dot + 1).toLowerCase(java.util.Locale.ROOT))) {
                        continue;
                    }
                    source = "deploy:" + name;
                }
                if (!handled.test(source)) {
                    waiting.add(source);
                }
            }
        } catch (IOException e) {
            // unreadable folder: nothing to wait for
        }
        return waiting;
    }
}
