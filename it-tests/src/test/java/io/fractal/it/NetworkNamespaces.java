package io.fractal.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Network namespaces for a real partition between nodes on one machine (needs root with CAP_NET_ADMIN and
 * iproute2). Namespace {@code i} has {@code 10.77.S.2/24} on a veth whose root side is {@code 10.77.S.1}, with its
 * default route through it; the root namespace forwards between them ({@code ip_forward=1}), and the test JVM, in the
 * root namespace, reaches every namespace directly. A partition is a pair of {@code ip rule ... blackhole} rules per
 * pair of namespaces across the cut: the root namespace silently drops what one sends the other, while the test's
 * own traffic (from the {@code .1} addresses) still passes. Names and subnets are unique per run; {@link #close()}
 * removes the rules, namespaces and veths it made (and restores {@code ip_forward}), whatever happened.
 */
final class NetworkNamespaces implements AutoCloseable {

    private static final Path IP_FORWARD = Paths.get("/proc/sys/net/ipv4/ip_forward");

    private final String run = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
    private final int firstSubnet = 10 + 4 * ThreadLocalRandom.current().nextInt(0, 60);
    private final List<String> namespaces = new ArrayList<>();
    private final List<String> rootLinks = new ArrayList<>();
    /** What to undo, newest first. */
    private final Deque<List<String>> undo = new ArrayDeque<>();
    private final List<String[]> cut = new ArrayList<>();
    private String forwardBefore;

    /**
     * Why namespaces cannot be made here, or null if they can: tried for real (a namespace made and removed), since
     * root alone is not enough (a container without CAP_NET_ADMIN).
     */
    static String unavailable() {
        try {
            String probe = "fxprobe" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
            Ran add = run(List.of("ip", "netns", "add", probe));
            if (add.status != 0) {
                return "cannot create a network namespace (root with CAP_NET_ADMIN and iproute2 needed): " + add.out;
            }
            run(List.of("ip", "netns", "del", probe));
            return null;
        } catch (IOException e) {
            return "no 'ip' command (iproute2; .ci/run installs it): " + e.getMessage();
        }
    }

    /** The namespace of node {@code i} (0-based). */
    String namespace(int i) {
        return namespaces.get(i);
    }

    /** The address of node {@code i} inside its namespace. */
    String address(int i) {
        return "10.77." + (firstSubnet + i) + ".2";
    }

    /** The command prefix that runs a program in namespace {@code i}. */
    List<String> exec(int i) {
        return List.of("ip", "netns", "exec", namespace(i));
    }

    /** Makes {@code count} namespaces, each with its veth to the root namespace and a default route. */
    void create(int count) throws IOException {
        forwardBefore = Files.readString(IP_FORWARD).strip();
        if (!"1".equals(forwardBefore)) {
            Files.writeString(IP_FORWARD, "1");
        }
        for (int i = 0; i < count; i++) {
            String ns = "fx" + run + "n" + i;
            String root = "fx" + run + "r" + i;
            String peer = "fx" + run + "p" + i;
            String net = "10.77." + (firstSubnet + i);
            must(List.of("ip", "netns", "add", ns), List.of("ip", "netns", "del", ns));
            namespaces.add(ns);
            must(List.of("ip", "link", "add", root, "type", "veth", "peer", "name", peer),
                    List.of("ip", "link", "del", root));
            rootLinks.add(root);
            must(List.of("ip", "link", "set", peer, "netns", ns), null);
            must(List.of("ip", "addr", "add", net + ".1/24", "dev", root), null);
            must(List.of("ip", "link", "set", root, "up"), null);
            must(List.of("ip", "netns", "exec", ns, "ip", "addr", "add", net + ".2/24", "dev", peer), null);
            must(List.of("ip", "netns", "exec", ns, "ip", "link", "set", peer, "up"), null);
            must(List.of("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"), null);
            must(List.of("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", net + ".1"), null);
        }
    }

    /** Cuts every namespace of {@code left} from every one of {@code right}, both ways. */
    void partition(int[] left, int[] right) throws IOException {
        for (int l : left) {
            for (int r : right) {
                for (String[] pair : List.of(new String[] {address(l), address(r)},
                        new String[] {address(r), address(l)})) {
                    must(List.of("ip", "rule", "add", "from", pair[0], "to", pair[1], "blackhole"), null);
                    cut.add(pair);
                }
            }
        }
    }

    /** Removes the partition's rules. */
    void heal() throws IOException {
        List<String[]> rules = new ArrayList<>(cut);
        cut.clear();
        IOException first = null;
        for (String[] pair : rules) {
            Ran r = run(List.of("ip", "rule", "del", "from", pair[0], "to", pair[1], "blackhole"));
            if (r.status != 0 && first == null) {
                first = new IOException("ip rule del from " + pair[0] + " to " + pair[1] + ": " + r.out);
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Whether what was made is gone (checked after {@link #close()}). */
    boolean leftNothing() throws IOException {
        String netns = run(List.of("ip", "netns", "list")).out;
        String links = run(List.of("ip", "-o", "link")).out;
        String rules = run(List.of("ip", "rule", "list")).out;
        return namespaces.stream().noneMatch(netns::contains) && rootLinks.stream().noneMatch(links::contains)
                && !rules.contains("10.77." + firstSubnet + ".2");
    }

    @Override
    public void close() {
        try {
            heal();
        } catch (IOException e) {
            System.err.println("partition rules: " + e.getMessage());
        }
        while (!undo.isEmpty()) {
            List<String> command = undo.pop();
            try {
                Ran r = run(command);
                if (r.status != 0 && !r.out.contains("Cannot find") && !r.out.contains("No such")) {
                    System.err.println(String.join(" ", command) + ": " + r.out);
                }
            } catch (IOException e) {
                System.err.println(String.join(" ", command) + ": " + e.getMessage());
            }
        }
        if (forwardBefore != null && !"1".equals(forwardBefore)) {
            try {
                Files.writeString(IP_FORWARD, forwardBefore);
            } catch (IOException e) {
                System.err.println("ip_forward not restored: " + e.getMessage());
            }
        }
    }

    private void must(List<String> command, List<String> undoCommand) throws IOException {
        Ran r = run(command);
        if (r.status != 0) {
            throw new IOException(String.join(" ", command) + " failed (" + r.status + "): " + r.out);
        }
        if (undoCommand != null) {
            undo.push(undoCommand);
        }
    }

    private record Ran(int status, String out) {
    }

    private static Ran run(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Ran(-1, "timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return new Ran(-1, "interrupted");
        }
        return new Ran(p.exitValue(), out);
    }
}
