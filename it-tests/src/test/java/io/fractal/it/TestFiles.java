package io.fractal.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
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

    /**
     * A port nothing listens on, never handed out before in this JVM, and below the kernel's ephemeral range
     * ({@code ip_local_port_range}): a port the kernel gives an outgoing connection (between cluster nodes, from a
     * client to a server under test) would make the server that is told to listen on it fail with "address in use".
     * Where the range leaves no room below it, the kernel's own choice.
     */
    static int freePort() throws IOException {
        int high = ephemeralLow() - 1;
        if (high - LOWEST_PORT >= 1000) {
            for (int attempt = 0; attempt < 500; attempt++) {
                int port = ThreadLocalRandom.current().nextInt(LOWEST_PORT, high + 1);
                if (!GIVEN.contains(port) && nobodyListens(port) && GIVEN.add(port)) {
                    return port;
                }
            }
        }
        while (true) {
            try (ServerSocket s = new ServerSocket(0)) {
                if (GIVEN.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            }
        }
    }

    /** The lowest port the tests choose: above the well-known and most registered services' ports. */
    private static final int LOWEST_PORT = 20000;
    private static final Set<Integer> GIVEN = ConcurrentHashMap.newKeySet();

    private static int ephemeralLow() {
        try {
            return Integer.parseInt(Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim()
                    .split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768; // Linux's default
        }
    }

    private static boolean nobodyListens(int port) {
        try (ServerSocket s = new ServerSocket(port)) { // every address, as a server told 0.0.0.0 would take it
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
