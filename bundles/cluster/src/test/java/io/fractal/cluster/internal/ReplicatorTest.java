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
        assertEquals(0, replicator.descriptions().get("m v1").time, "as found: never wins over a change");

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
