package io.fractal.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/** Files and ports the tests prepare servers with: shared by the Pax Exam support and the process tests. */
final class TestFiles {

    private TestFiles() {
    }

    /**
     * A configuration in Felix Config Admin's file store ({@code felix.cm.dir}, {@code <home>/data/config} in the
     * distribution): {@code a/b/c.config} for pid a.b.c, read before any component activates.
     */
    static void storedConfig(Path store, String pid, Object... keyValues) throws IOException {
        StringBuilder text = new StringBuilder("service.pid=\"" + pid + "\"\n");
        for (int i = 0; i < keyValues.length; i += 2) {
            text.append(keyValues[i]).append("=\"").append(keyValues[i + 1]).append("\"\n");
        }
        Path file = store.resolve(pid.replace('.', '/') + ".config");
        Files.createDirectories(file.getParent());
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    /** Copies a folder with its files' attributes, replacing what is there. */
    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path source : files.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING,
                            StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
