package io.fractal.cluster.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the replicator decides from the repository and the peers' published states (copies are in ClusterIT). */
class ReplicatorTest {

    private final PeerClient client = new PeerClient(new Secret(""), 100, 100);
    private final Repo repo = new Repo();
    private final Replicator replicator = new Replicator(client, () -> repo);

    @AfterEach
    void close() {
        replicator.close();
        client.close();
    }

    @Test
    void aLocalDeleteBecomesATombstoneThatPeersFollowButNotForTheirOwnDeployFolder() {
        repo.add("iris", 1, "aaa", "upload", 100);
        repo.add("iris", 2, "bbb", "deploy:iris", 200);
        replicator.reconcile(List.of(), repo);
        assertTrue(replicator.deleted().isEmpty());

        repo.remove("iris", 1);
        replicator.reconcile(List.of(), repo);
        assertEquals(1, replicator.deleted().size());
        assertTrue(replicator.deleted().get(0).startsWith("iris aaa "), replicator.deleted().toString());

        // another node whose copies these are: the uploaded copy goes, its own deploy-folder version stays
        Repo other = new Repo();
        other.add("iris", 7, "aaa", "upload", 100);
        other.add("iris", 8, "bbb", "deploy:iris", 200);
        PeerClient c2 = new PeerClient(new Secret(""), 100, 100);
        Replicator r2 = new Replicator(c2, () -> other);
        NodeState peer = new NodeState();
        peer.node = "a";
        peer.url = "http://127.0.0.1:9/";
        peer.deleted = replicator.deleted();
        peer.deleted = new ArrayList<>(peer.deleted);
        peer.deleted.add("iris bbb " + System.currentTimeMillis());
        r2.reconcile(List.of(peer), other);
        assertFalse(other.has("iris", 7), "the copy is deleted");
        assertTrue(other.has("iris", 8), "a version the node's own deploy folder holds stays");
        r2.close();
        c2.close();
    }

    @Test
    void aVersionPublishedAndDeletedBeforeTheNextReconcileStillLeavesATombstone() {
        replicator.reconcile(List.of(), repo); // nothing here yet
        repo.add("m", 1, "ddd", "deploy:m", 100);
        replicator.announced("m", "ddd"); // published at once: the peers may copy it now
        repo.remove("m", 1); // its files left deploy/ before the next reconcile
        replicator.reconcile(List.of(), repo);
        assertEquals(1, replicator.deleted().size(), "a tombstone, or the peers' copies bring it back");
        assertTrue(replicator.deleted().get(0).startsWith("m ddd "), replicator.deleted().toString());
    }

    @Test
    void aVersionUploadedAgainAfterItsDeleteWinsOverTheTombstone() {
        repo.add("m", 1, "ccc", "upload", 100);
        replicator.reconcile(List.of(), repo);
        repo.remove("m", 1);
        replicator.reconcile(List.of(), repo);
        assertEquals(1, replicator.deleted().size());
        repo.add("m", 2, "ccc", "upload", System.currentTimeMillis() + 10_000);
        replicator.reconcile(List.of(), repo);
        assertTrue(replicator.deleted().isEmpty(), replicator.deleted().toString());
    }

    @Test
    void theLatestDefaultChosenOnAnyNodeWins() {
        repo.add("m", 1, "v1", "upload", 100);
        repo.add("m", 2, "v2", "upload", 200);
        repo.defaults.put("m", 1);
        replicator.reconcile(List.of(), repo);
        assertEquals("v1 0", replicator.defaults().get("m"), "as found at start: time 0, never wins over a change");

        NodeState peer = new NodeState();
        peer.node = "b";
        peer.url = "http://127.0.0.1:9/";
        peer.models = List.of(); // nothing to fetch
        peer.defaults = new TreeMap<>(Map.of("m", "v2 " + System.currentTimeMillis()));
        replicator.reconcile(List.of(peer), repo);
        assertEquals(2, repo.defaults.get("m"));

        // then changed here: this change is newer and is what this node publishes
        repo.defaults.put("m", 1);
        replicator.reconcile(List.of(peer), repo);
        assertTrue(replicator.defaults().get("m").startsWith("v1 "), replicator.defaults().toString());
        assertEquals(1, repo.defaults.get("m"));
    }

    @Test
    void theLatestDescriptionChangedOnAnyNodeWins() {
        repo.add("m", 1, "v1", "upload", 100);
        repo.models.get("m").get(1).description = "first";
        replicator.reconcile(List.of(), repo);
        assertEquals("first", replicator.descriptions().get("m v1").text);
        assertEquals(100, replicator.descriptions().get("m v1").time, "made here: as old as the version");

        // changed on another node: set here
        NodeState peer = new NodeState();
        peer.node = "b";
        peer.url = "http://127.0.0.1:9/";
        peer.models = List.of();
        long changed = System.currentTimeMillis();
        peer.descriptions = new TreeMap<>(Map.of("m v1", new NodeState.Described("from b", changed)));
        replicator.reconcile(List.of(peer), repo);
        assertEquals("from b", repo.models.get("m").get(1).description);
        replicator.reconcile(List.of(peer), repo);
        assertEquals(changed, replicator.descriptions().get("m v1").time, "applied here: not a change of this node");

        // then changed here: newer, published, and kept against the peer's older one
        repo.setDescription("m", 1, "from here");
        replicator.reconcile(List.of(peer), repo);
        NodeState.Described mine = replicator.descriptions().get("m v1");
        assertEquals("from here", mine.text);
        assertTrue(mine.time >= changed);
        assertEquals("from here", repo.models.get("m").get(1).description);
    }

    @Test
    void descriptionsAndMetadataSurviveThePublishedJson() throws Exception {
        NodeState state = new NodeState();
        state.node = "b";
        state.descriptions.put("m v1", new NodeState.Described("text", 42));
        NodeState.VersionState v = new NodeState.VersionState();
        v.name = "m";
        v.metadata = NodeState.JSON.readTree("{\"max_batch_size\": 4}");
        state.models.add(v);
        NodeState back = NodeState.parse(state.toJson());
        assertEquals("text", back.descriptions.get("m v1").text);
        assertEquals(42, back.descriptions.get("m v1").time);
        assertEquals(4, back.models.get(0).metadata.path("max_batch_size").asInt());
    }

    @Test
    void aDescriptionChangedOnOneNodeReachesTheOtherThroughThePublishedState() {
        Repo b = new Repo();
        b.add("m", 1, "v1", "upload", 100);
        b.models.get("m").get(1).description = "uploaded on b";
        Replicator rb = new Replicator(client, () -> b);
        repo.add("m", 1, "v1", "upload", 100);
        repo.models.get("m").get(1).description = "uploaded on b";
        for (int tick = 0; tick < 3; tick++) {
            replicator.reconcile(List.of(published(rb, b)), repo);
            rb.reconcile(List.of(published(replicator, repo)), b);
        }
        b.setDescription("m", 1, "changed on b");
        for (int tick = 0; tick < 3; tick++) {
            rb.reconcile(List.of(published(replicator, repo)), b);
            replicator.reconcile(List.of(published(rb, b)), repo);
        }
        assertEquals("changed on b", repo.models.get("m").get(1).description);
        assertEquals("changed on b", b.models.get("m").get(1).description);
        rb.close();
    }

    @Test
    void aDescriptionChangedBeforeItsNodeLookedStillWinsOverTheCopies() {
        // B's version changed before B's replicator first saw it; A holds a copy with the first description
        Repo b = new Repo();
        b.add("m", 1, "v1", "upload", System.currentTimeMillis());
        b.models.get("m").get(1).description = "changed on b";
        Replicator rb = new Replicator(client, () -> b);
        repo.add("m", 1, "v1", "upload", System.currentTimeMillis() + 50); // the copy, made later here
        repo.models.get("m").get(1).description = "uploaded on b";
        replicator.copied("m", "v1", b.models.get("m").get(1).created);
        NodeState fromB = published(rb, b);
        rb.reconcile(List.of(), b);
        // A saw its copy as a copy (0); B's, as old as B's version, wins
        Map<String, NodeState.Described> copyOnA = new TreeMap<>(Map.of("m v1", new NodeState.Described("uploaded on b",
                0)));
        NodeState fromA = new NodeState();
        fromA.node = "a";
        fromA.url = "http://127.0.0.1:9/";
        fromA.descriptions = copyOnA;
        rb.reconcile(List.of(NodeState.parse(fromA.toJson())), b);
        assertEquals("changed on b", b.models.get("m").get(1).description);
        replicator.reconcile(List.of(published(rb, b)), repo);
        assertEquals("changed on b", repo.models.get("m").get(1).description, fromB.toString());
        rb.close();
    }

    /** What a node publishes, through its JSON. */
    private static NodeState published(Replicator r, Repo repo) {
        NodeState s = new NodeState();
        s.node = "n";
        s.url = "http://127.0.0.1:9/";
        s.deleted = r.deleted();
        s.defaults = r.defaults();
        s.descriptions = r.descriptions();
        return NodeState.parse(s.toJson());
    }

    @Test
    void nothingHappensBeforeTheRepositorySettled() {
        repo.settled = false;
        repo.add("m", 1, "x", "upload", 1);
        replicator.reconcile(List.of(), repo);
        repo.remove("m", 1);
        replicator.reconcile(List.of(), repo);
        assertTrue(replicator.deleted().isEmpty());
    }

    /** An in-memory repository: models, versions, defaults, deletes. */
    private static final class Repo implements ModelRepository {
        final Map<String, Map<Integer, ModelVersionDTO>> models = new TreeMap<>();
        final Map<String, Integer> defaults = new TreeMap<>();
        boolean settled = true;

        void add(String name, int version, String sha, String source, long created) {
            ModelVersionDTO v = new ModelVersionDTO();
            v.name = name;
            v.version = version;
            v.sha256 = sha;
            v.source = source;
            v.created = created;
            v.signature = ModelSignature.UNKNOWN;
            models.computeIfAbsent(name, n -> new TreeMap<>()).put(version, v);
            defaults.putIfAbsent(name, version);
        }

        void remove(String name, int version) {
            models.get(name).remove(version);
        }

        boolean has(String name, int version) {
            return models.containsKey(name) && models.get(name).containsKey(version);
        }

        @Override
        public boolean settled() {
            return settled;
        }

        @Override
        public List<ModelDTO> models() {
            List<ModelDTO> out = new ArrayList<>();
            models.forEach((name, versions) -> {
                ModelDTO m = new ModelDTO();
                m.name = name;
                m.defaultVersion = defaults.getOrDefault(name, 0);
                m.versions = new ArrayList<>(versions.values());
                out.add(m);
            });
            return out;
        }

        @Override
        public void delete(String name, Integer version) {
            if (!has(name, version)) {
                throw new ModelNotFoundException(name + ":" + version);
            }
            remove(name, version);
        }

        @Override
        public void setDefaultVersion(String name, int version) {
            defaults.put(name, version);
        }

        @Override
        public ModelDTO model(String name) {
            throw new UnsupportedOperationException();
        }

        @Override
        public ModelVersionDTO resolve(String name, Integer version) {
            throw new UnsupportedOperationException();
        }

        @Override
        public ModelVersionDTO deploy(String name, String fileName, InputStream data, InputStream metadata,
                String engine, String description, boolean makeDefault) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void learnSignature(String name, int version, ModelSignature learned) {
        }

        @Override
        public void setDescription(String name, Integer version, String description) {
            models.get(name).get(version).description = description;
        }

        @Override
        public InputStream open(String name, Integer version) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String fileName(String name, Integer version) {
            throw new UnsupportedOperationException();
        }

        @Override
        public ModelVersionDTO deployFrom(String source, String name, String fileName, InputStream model,
                InputStream metadata) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int undeploySource(String source) {
            return 0;
        }
    }
}
