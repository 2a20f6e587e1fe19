package io.fractal.cluster.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Deploy once, serve everywhere. Model versions are known across nodes by name and SHA-256 (each node numbers its
 * versions itself). Each tick, on the cluster timer thread:
 * <ul>
 *   <li>a version another node holds and this one lacks is fetched from that node over HTTP (with the secret),
 *       its checksum verified, and deployed here with its whole metadata as that node's repository gives it
 *       ({@link ModelRepository#metadata}: signature, engine, description, batching);</li>
 *   <li>a description changed on any node (the latest change wins) is set on every node's copy;</li>
 *   <li>a version that disappears here (deleted, or replaced by its source) becomes a tombstone that the other
 *       nodes follow: they delete their copy (not a version their own deploy folder or a bundle holds) and do
 *       not fetch it again; a version created after the tombstone (uploaded again) wins over it;</li>
 *   <li>the default version of a model follows the latest change made on any node.</li>
 * </ul>
 * Nothing is replicated until the local repository has taken in what it holds at start ({@code settled}).
 */
final class Replicator implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Replicator.class.getName());
    private static final int MAX_TOMBSTONES = 2000;
    private static final long RETRY_FAILED_MS = 5000;

    private final PeerClient client;
    private final Supplier<ModelRepository> repository;
    private final ExecutorService fetcher = Executors.newSingleThreadExecutor(
            IsolatedThreads.factory("fractal-cluster-fetch"));
    /** "name sha" of deleted versions, and when (epoch ms). */
    private final Map<String, Long> tombstones = new ConcurrentHashMap<>();
    /** "name sha" of copied versions: when they were created on the node they came from. */
    private final Map<String, Long> origins = new ConcurrentHashMap<>();
    /** "name sha" of versions published from here since the last reconcile that saw them gone. */
    private final Set<String> announced = ConcurrentHashMap.newKeySet();
    private final Set<String> fetching = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> failedUntil = new ConcurrentHashMap<>();
    /** The default version of each model, by checksum, and when it was chosen (0: as found at start). */
    private final Map<String, Choice> defaults = new ConcurrentHashMap<>();
    /** Defaults this replicator set itself, so that they are not taken for a local change. */
    private final Map<String, String> appliedDefaults = new ConcurrentHashMap<>();
    /**
     * The description of each version ("name sha"), and when it was last changed anywhere (as first seen: the
     * version's creation where it was made, 0 for a copy).
     */
    private final Map<String, NodeState.Described> descriptions = new ConcurrentHashMap<>();
    /** Descriptions this replicator set itself, so that they are not taken for a local change. */
    private final Map<String, String> appliedDescriptions = new ConcurrentHashMap<>();
    private final Map<String, String> lastDescription = new HashMap<>();
    private Map<String, ModelVersionDTO> lastLocal;
    private final Map<String, String> lastDefault = new HashMap<>();

    record Choice(String sha256, long time) {
    }

    Replicator(PeerClient client, Supplier<ModelRepository> repository) {
        this.client = client;
        this.repository = repository;
    }

    /** The tombstones to publish: "name sha256 time". */
    List<String> deleted() {
        List<String> out = new ArrayList<>();
        tombstones.forEach((k, t) -> out.add(k + " " + t));
        out.sort(null);
        return out;
    }

    /** The defaults to publish: name to "sha256 time". */
    Map<String, String> defaults() {
        Map<String, String> out = new java.util.TreeMap<>();
        defaults.forEach((name, c) -> out.put(name, c.sha256 + " " + c.time));
        return out;
    }

    /** The descriptions to publish: "name sha256" to the text and when it was chosen. */
    Map<String, NodeState.Described> descriptions() {
        return new java.util.TreeMap<>(descriptions);
    }

    /** Remembers that a version here is a copy, and when it was created where it came from. */
    void copied(String name, String sha256, long created) {
        origins.put(name + " " + sha256, created);
    }

    /**
     * A version here was published (peers may copy it from now on): if it disappears before the next reconcile sees
     * it, its deletion still becomes a tombstone, or the peers' copies would bring it back.
     */
    void announced(String name, String sha256) {
        announced.add(name + " " + sha256);
    }

    /** When a version was created where it came from (its own creation if it was not copied). */
    long originCreated(String name, String sha256, long created) {
        return origins.getOrDefault(name + " " + sha256, created);
    }

    void reconcile(List<NodeState> peers, ModelRepository repo) {
        if (!repo.settled()) {
            return;
        }
        long now = System.currentTimeMillis();
        Map<String, ModelVersionDTO> local = new LinkedHashMap<>();
        Map<String, String> localDefault = new HashMap<>();
        for (ModelDTO m : repo.models()) {
            for (ModelVersionDTO v : m.versions) {
                local.put(m.name + " " + v.sha256, v);
                if (v.version == m.defaultVersion) {
                    localDefault.put(m.name, v.sha256);
                }
            }
        }
        // deletions made here become tombstones; a version (re)created after its tombstone clears it
        if (lastLocal != null) {
            for (String key : lastLocal.keySet()) {
                if (!local.containsKey(key)) {
                    tombstones.putIfAbsent(key, now);
                }
            }
        }
        // published and gone again before any reconcile saw it here (deployed and deleted within one tick)
        for (String key : announced) {
            if (!local.containsKey(key)) {
                tombstones.putIfAbsent(key, now);
                announced.remove(key);
            }
        }
        local.forEach((key, v) -> {
            Long t = tombstones.get(key);
            if (t != null && originCreated(v.name, v.sha256, v.created) > t) {
                tombstones.remove(key);
            }
        });
        // the other nodes' tombstones: delete the copies here
        for (NodeState peer : peers) {
            for (String d : peer.deleted) {
                String[] parts = d.split(" ");
                if (parts.length != 3) {
                    continue;
                }
                String key = parts[0] + " " + parts[1];
                long time;
                try {
                    time = Long.parseLong(parts[2]);
                } catch (NumberFormatException e) {
                    continue;
                }
                ModelVersionDTO v = local.get(key);
                if (v != null && originCreated(v.name, v.sha256, v.created) > time) {
                    continue; // uploaded again after that delete
                }
                tombstones.merge(key, time, Math::max);
                if (v != null && "upload".equals(v.source)) {
                    try {
                        repo.delete(v.name, v.version);
                        local.remove(key);
                        LOG.info(() -> "Cluster: deleted model " + v.name + ":" + v.version + " (deleted on node "
                                + peer.node + ")");
                    } catch (RuntimeException e) {
                        LOG.log(Level.FINE, "Cluster: " + key + " not deleted", e);
                    }
                }
            }
        }
        // the other nodes' versions: fetch what is missing here
        for (NodeState peer : peers) {
            for (NodeState.VersionState v : peer.models) {
                String key = v.name + " " + v.sha256;
                Long t = tombstones.get(key);
                if (local.containsKey(key) || (t != null && v.created <= t) || fetching.contains(key)
                        || failedUntil.getOrDefault(key, 0L) > now) {
                    continue;
                }
                fetching.add(key);
                URI base = URI.create(peer.url);
                try {
                    fetcher.execute(() -> {
                        try {
                            fetch(base, peer.node, v);
                        } finally {
                            fetching.remove(key);
                        }
                    });
                } catch (RejectedExecutionException e) {
                    fetching.remove(key);
                    return;
                }
            }
        }
        // defaults: the latest choice made anywhere
        localDefault.forEach((name, sha) -> {
            String before = lastDefault.get(name);
            String applied = appliedDefaults.remove(name); // set by this replicator since the last look: not a change
            if (before == null) {
                defaults.putIfAbsent(name, new Choice(sha, 0));
            } else if (!before.equals(sha) && !sha.equals(applied)) {
                defaults.put(name, new Choice(sha, now));
            }
        });
        for (NodeState peer : peers) {
            peer.defaults.forEach((name, value) -> {
                String[] parts = value.split(" ");
                if (parts.length == 2) {
                    try {
                        Choice c = new Choice(parts[0], Long.parseLong(parts[1]));
                        defaults.merge(name, c, (a, b) -> b.time > a.time ? b : a);
                    } catch (NumberFormatException e) {
                        // ignored
                    }
                }
            });
        }
        defaults.forEach((name, c) -> {
            String mine = localDefault.get(name);
            ModelVersionDTO target = local.get(name + " " + c.sha256);
            if (mine != null && !mine.equals(c.sha256) && target != null) {
                try {
                    appliedDefaults.put(name, c.sha256);
                    repo.setDefaultVersion(name, target.version);
                    localDefault.put(name, c.sha256);
                    LOG.info(() -> "Cluster: default version of " + name + " is now " + target.version
                            + " (chosen on another node)");
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "Cluster: default of " + name + " not set", e);
                }
            }
        });
        reconcileDescriptions(peers, repo, local, now);
        lastDefault.clear();
        lastDefault.putAll(localDefault);
        lastLocal = local;
        if (tombstones.size() > MAX_TOMBSTONES) {
            tombstones.entrySet().stream().sorted(Map.Entry.comparingByValue())
                    .limit(tombstones.size() - MAX_TOMBSTONES).map(Map.Entry::getKey).toList()
                    .forEach(tombstones::remove);
        }
    }

    /** Descriptions: a change made here is published with its time; the latest change made anywhere is applied. */
    private void reconcileDescriptions(List<NodeState> peers, ModelRepository repo, Map<String, ModelVersionDTO> local,
            long now) {
        local.forEach((key, v) -> {
            String text = v.description == null ? "" : v.description;
            String before = lastDescription.get(key);
            String applied = appliedDescriptions.remove(key); // set by this replicator since the last look
            if (before == null) {
                // first seen: a version made here has had this description since its creation (it may have changed
                // before this look); a copy has its source's, which says nothing new (time 0)
                boolean copy = fetching.contains(key) || origins.containsKey(key);
                descriptions.merge(key, new NodeState.Described(text, copy ? 0 : v.created), Replicator::later);
            } else if (!before.equals(text) && !text.equals(applied)) {
                descriptions.put(key, new NodeState.Described(text, now));
            }
        });
        for (NodeState peer : peers) {
            if (peer.descriptions == null) {
                continue;
            }
            peer.descriptions.forEach((key, d) -> {
                if (d != null && d.text != null) {
                    descriptions.merge(key, d, Replicator::later);
                }
            });
        }
        descriptions.forEach((key, d) -> {
            ModelVersionDTO v = local.get(key);
            String mine = v == null ? null : v.description == null ? "" : v.description;
            if (mine != null && !mine.equals(d.text)) {
                try {
                    appliedDescriptions.put(key, d.text);
                    repo.setDescription(v.name, v.version, d.text);
                    LOG.info(() -> "Cluster: description of " + v.name + ":" + v.version
                            + " changed (on another node)");
                } catch (RuntimeException e) {
                    appliedDescriptions.remove(key);
                    LOG.log(Level.FINE, "Cluster: description of " + key + " not set", e);
                }
            }
        });
        descriptions.keySet().removeIf(tombstones::containsKey);
        lastDescription.clear();
        local.forEach((key, v) -> lastDescription.put(key, v.description == null ? "" : v.description));
    }

    /** The later of two descriptions; of two as old, the same one on every node (the greater text). */
    private static NodeState.Described later(NodeState.Described a, NodeState.Described b) {
        if (b.time != a.time) {
            return b.time > a.time ? b : a;
        }
        return b.text.compareTo(a.text) > 0 ? b : a;
    }

    /** Copies one version from the node at {@code base}, checksum verified before the repository sees it. */
    private void fetch(URI base, String node, NodeState.VersionState v) {
        String key = v.name + " " + v.sha256;
        long t0 = System.nanoTime();
        Path tmp = null;
        try {
            HttpResponse<InputStream> r = client.modelFile(base, v.name, v.version);
            String fileName;
            try (InputStream body = r.body()) {
                if (r.statusCode() != 200) {
                    throw new IOException("HTTP " + r.statusCode() + ": "
                            + new String(body.readNBytes(500), java.nio.charset.StandardCharsets.UTF_8));
                }
                fileName = Path.of(r.headers().firstValue(PeerClient.FILE_HEADER).orElse("model.bin"))
                        .getFileName().toString();
                tmp = Files.createTempFile("fractal-cluster-", ".part");
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                try (InputStream in = new DigestInputStream(body, sha); OutputStream out = Files.newOutputStream(tmp)) {
                    in.transferTo(out);
                }
                String got = HexFormat.of().formatHex(sha.digest());
                if (!got.equalsIgnoreCase(v.sha256)) {
                    throw new IOException("checksum mismatch: expected " + v.sha256 + ", got " + got);
                }
            }
            ModelRepository repo = repository.get();
            if (repo == null) {
                throw new IOException("the repository went away");
            }
            ModelVersionDTO deployed;
            try (InputStream in = Files.newInputStream(tmp); InputStream meta = v.metadata != null
                    ? new ByteArrayInputStream(NodeState.JSON.writeValueAsBytes(v.metadata)) : metadata(v.signature)) {
                // the whole metadata when the other node gave it; else (an older node) what its state says
                deployed = v.metadata != null ? repo.deploy(v.name, fileName, in, meta, null, null, false)
                        : repo.deploy(v.name, fileName, in, meta, v.engine, v.description, false);
            }
            copied(v.name, v.sha256, v.created);
            failedUntil.remove(key);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            LOG.info(() -> "Cluster: copied model " + v.name + " (version " + v.version + " on node " + node
                    + ", sha256 verified) as version " + deployed.version + " in " + ms + " ms");
        } catch (IOException | RuntimeException | NoSuchAlgorithmException e) {
            failedUntil.put(key, System.currentTimeMillis() + RETRY_FAILED_MS);
            LOG.warning(() -> "Cluster: could not copy model " + v.name + " version " + v.version + " from node "
                    + node + ": " + e.getMessage() + " (tried again in " + RETRY_FAILED_MS / 1000 + " s)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    // left in tmp/, which the launcher empties at each start
                }
            }
        }
    }

    /** The sidecar for a declared signature, or null when it declares nothing. */
    static InputStream metadata(ModelSignature s) throws IOException {
        if (s == null || (s.inputs().isEmpty() && s.outputs().isEmpty() && s.labels().isEmpty())) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        if (!s.inputs().isEmpty()) {
            m.put("inputs", specs(s.inputs()));
        }
        if (!s.outputs().isEmpty()) {
            m.put("outputs", specs(s.outputs()));
        }
        if (!s.labels().isEmpty()) {
            m.put("labels", s.labels());
        }
        return new ByteArrayInputStream(NodeState.JSON.writeValueAsBytes(m));
    }

    private static List<Map<String, Object>> specs(List<TensorSpec> specs) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (TensorSpec t : specs) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (t.name() != null) {
                m.put("name", t.name());
            }
            if (t.datatype() != null) {
                m.put("datatype", t.datatype().name());
            }
            if (t.shape() != null) {
                m.put("shape", t.shape());
            }
            out.add(m);
        }
        return out;
    }

    @Override
    public void close() {
        fetcher.shutdownNow();
    }
}
