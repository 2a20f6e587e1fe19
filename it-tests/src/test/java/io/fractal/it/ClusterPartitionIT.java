package io.fractal.it;

import static io.fractal.it.ClusterNodes.await;
import static io.fractal.it.ClusterNodes.hosts;
import static io.fractal.it.ClusterNodes.members;
import static io.fractal.it.ClusterNodes.ms;
import static io.fractal.it.ClusterNodes.sha256;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import io.fractal.it.ClusterNodes.Load;
import io.fractal.it.ClusterNodes.Node;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.After;
import org.junit.Assume;
import org.junit.Test;

/**
 * A real network partition between three nodes (issue 12): each node runs in a network namespace of its own
 * ({@link NetworkNamespaces}), so that the root namespace can drop what A and {B, C} send each other while this test
 * still reaches all three. With load through A and through B (every answer counted, its values checked):
 * <ol>
 *   <li>the partition {A} | {B, C}: each side ejects the other side's modelhosts and goes on serving what it holds,
 *       no request failing on either side;</li>
 *   <li>healed: the two sides merge back into one cluster of three members, and each side's load is served by the
 *       other side's modelhosts again, no request failing.</li>
 * </ol>
 * Skipped (an assumption, said in the report) where namespaces cannot be made: not root, no CAP_NET_ADMIN, no iproute2.
 */
public class ClusterPartitionIT {

    private NetworkNamespaces net;
    private ClusterNodes cluster;
    private boolean passed;

    @After
    public void cleanUp() throws IOException {
        try {
            if (cluster != null) {
                cluster.stop(passed);
            }
        } finally {
            if (net != null) {
                net.close();
                assertTrue("namespaces, veths or rules left behind", net.leftNothing());
            }
        }
    }

    @Test
    public void bothSidesOfAPartitionServeWhatTheyHoldAndMergeWhenItHeals() throws Exception {
        String why = NetworkNamespaces.unavailable();
        Assume.assumeTrue("network partition test skipped: " + why, why == null);
        net = new NetworkNamespaces();
        net.create(3);
        cluster = new ClusterNodes("partition");
        int port = 5701;
        String members = net.address(0) + ":" + port + "," + net.address(1) + ":" + port + "," + net.address(2) + ":"
                + port;
        Node a = cluster.node("a", net.address(0), port, members, true);
        Node b = cluster.node("b", net.address(1), port, members, false);
        Node c = cluster.node("c", net.address(2), port, members, false);
        List<Node> all = List.of(a, b, c);
        for (int i = 0; i < all.size(); i++) {
            all.get(i).launcher = net.exec(i);
            all.get(i).start();
        }

        // ---- one cluster: every node lists the others' modelhosts and holds iris (copied from A)
        for (Node n : all) {
            await("node " + n.name + " lists every modelhost", 120, () -> hosts(n).containsAll(
                    List.of("mh1", "mh1@a", "mh1@b", "mh1@c").stream().filter(h -> !h.equals("mh1@" + n.name))
                            .toList()));
        }
        String sha = sha256(a, "iris");
        assertNotNull("iris on A", sha);
        await("iris copied to B and C", 60, () -> sha.equals(sha256(b, "iris")) && sha.equals(sha256(c, "iris")));
        for (Node n : all) {
            await(n.name + " counts three members", 20, () -> members(n) == 3);
        }

        List<String> table = new ArrayList<>();
        try (Load throughA = new Load(a, 2); Load throughB = new Load(b, 2)) {
            throughA.awaitServed("mh1", 30);
            throughB.awaitServed("mh1@a", 30);
            await("A's load served on B's or C's modelhost", 30, () -> throughA.firstServed.containsKey("mh1@b")
                    || throughA.firstServed.containsKey("mh1@c"));

            // ---- the partition {A} | {B, C}
            throughA.mark();
            throughB.mark();
            long cutAt = System.nanoTime();
            net.partition(new int[] {0}, new int[] {1, 2});
            await("A ejects B's and C's modelhosts", 30, () -> {
                List<String> h = hosts(a);
                return !h.contains("mh1@b") && !h.contains("mh1@c");
            });
            long aEjected = ms(System.nanoTime() - cutAt);
            await("B and C eject A's modelhost", 30, () -> !hosts(b).contains("mh1@a") && !hosts(c).contains("mh1@a"));
            long bcEjected = ms(System.nanoTime() - cutAt);
            await("A counts one member, B and C two", 30, () -> members(a) == 1 && members(b) == 2
                    && members(c) == 2);
            assertTrue("B and C still see each other: " + hosts(b), hosts(b).contains("mh1@c"));
            // each side serves what it holds, for a while
            throughA.forget("mh1");
            throughB.forget("mh1");
            throughA.awaitServed("mh1", 10);
            throughB.awaitServed("mh1", 10);
            Thread.sleep(3000);
            table.add(throughA.row("partition {A}|{B,C}: through A (A ejects B, C)", aEjected));
            table.add(throughB.row("partition {A}|{B,C}: through B (B, C eject A)", bcEjected));
            long servedA = throughA.totalSinceMark();
            long servedB = throughB.totalSinceMark();
            assertTrue("A served during the partition: " + servedA, servedA > 0);
            assertTrue("B served during the partition: " + servedB, servedB > 0);

            // ---- healed: one cluster again, each side's modelhosts used by the other
            throughA.mark();
            throughB.mark();
            throughA.forget("mh1@b");
            throughA.forget("mh1@c");
            throughB.forget("mh1@a");
            long healedAt = System.nanoTime();
            net.heal();
            for (Node n : all) {
                await(n.name + " counts three members after the heal", 90, () -> members(n) == 3);
            }
            long merged = ms(System.nanoTime() - healedAt);
            await("A lists B's and C's modelhosts again", 60, () -> hosts(a).containsAll(List.of("mh1@b", "mh1@c")));
            await("B and C list A's modelhost again", 60, () -> hosts(b).contains("mh1@a")
                    && hosts(c).contains("mh1@a"));
            long relisted = ms(System.nanoTime() - healedAt);
            await("A's load served on B's or C's modelhost again", 30, () -> throughA.firstServed.containsKey("mh1@b")
                    || throughA.firstServed.containsKey("mh1@c"));
            throughB.awaitServed("mh1@a", 30);
            long usedAgain = ms(System.nanoTime() - healedAt);
            Thread.sleep(1000);
            table.add(throughA.row("healed: through A (3 members at " + merged + " ms, modelhosts listed again at "
                    + relisted + " ms, remote used again at " + usedAgain + " ms)", usedAgain));
            table.add(throughB.row("healed: through B", usedAgain));

            throughA.close();
            throughB.close();
            System.out.println("partition | detection or merge ms | failed/total (2 clients through each side)");
            table.forEach(System.out::println);
            System.out.println("through A: " + throughA.servedBy + "; through B: " + throughB.servedBy);
            throughA.assertNoFailure();
            throughB.assertNoFailure();
        }
        assertEquals("one cluster of three", 3, members(a));
        for (Node n : List.of(a, b)) { // how the two sides found each other again, for the report
            List<String> lines = java.nio.file.Files.readAllLines(n.home.resolve("log/fractal.log")).stream()
                    .filter(l -> l.contains("Cluster:") || l.contains("erg") || l.contains("Members {")).toList();
            System.out.println("node " + n.name + "'s cluster log, last lines:");
            lines.subList(Math.max(0, lines.size() - 25), lines.size()).forEach(l -> System.out.println("  " + l));
        }
        passed = true;
    }
}
