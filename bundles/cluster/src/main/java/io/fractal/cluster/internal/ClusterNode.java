package io.fractal.cluster.internal;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.map.MapEvent;
import com.hazelcast.core.EntryListener;
import com.hazelcast.replicatedmap.ReplicatedMap;
import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelStateListener;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import io.fractal.api.rest.RestWhiteboard;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * This node's member of the Hazelcast cluster (only with {@code enabled=true}). It publishes, under its member UUID
 * in a replicated map, its endpoint, its modelhosts and its model versions; it registers each modelhost of every
 * other node as a {@link RemoteModelHost} service (so the balancer, the API, the metrics and the shell see it),
 * unregistering them when that node withdraws or leaves the cluster (a kill is seen within the heartbeat timeout);
 * it serves the other nodes' calls through {@link InternalResource}; and {@link Replicator} copies the model
 * versions it lacks.
 *
 * <p>Stopping (bundle stop or update, or SIGTERM through the JVM's shutdown): withdraw the modelhosts from the
 * cluster first, let the other nodes' calls in flight finish, unregister the remote modelhosts, then leave the
 * cluster, and only then does the bundle stop. Local serving goes on throughout.
 */
@Component(service = ModelStateListener.class, immediate = true, configurationPid = ClusterConfiguration.PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = ClusterConfiguration.class)
public class ClusterNode implements ModelStateListener, RemoteModelHost.Versions {

    private static final Logger LOG = Logger.getLogger(ClusterNode.class.getName());
    static final String MAP = "fractal-nodes";
    /** Hazelcast partitions (its default is 271): see {@link #hazelcastConfig()}. */
    static final int PARTITIONS = 7;
    /** Service property of a remote modelhost: the node it runs on. */
    static final String NODE = "fractal.cluster.node";
    /** Service property of a remote modelhost: true. */
    static final String REMOTE = "fractal.cluster.remote";
    static final long TICK_MS = 500;
    static final String MEMBERS_GAUGE = "fractal_cluster_members";

    private final ClusterConfiguration config;
    private final BundleContext context;
    private final ConfigurationAdmin configAdmin;
    private final Map<String, ModelHost> localHosts = new ConcurrentHashMap<>();
    private volatile ModelRepository repository;
    private volatile FractalMetrics metrics;

    /** Remote modelhosts by member UUID, then by id. Changed under {@code this}. */
    private final Map<UUID, Map<String, Remote>> remotes = new HashMap<>();
    private final Map<UUID, NodeState> peers = new ConcurrentHashMap<>();
    private volatile Map<String, String> shaByVersion = Map.of();
    private volatile Map<String, Integer> versionBySha = Map.of();

    private final ScheduledThreadPoolExecutor timer;
    private final AtomicBoolean publishQueued = new AtomicBoolean();
    private final Object lifecycle = new Object();
    private Thread starter;
    private Thread shutdownHook;
    private volatile HazelcastInstance hazelcast;
    private volatile ReplicatedMap<String, String> nodes;
    private volatile UUID self;
    private volatile String nodeName;
    private volatile URI url;
    private volatile PeerClient client;
    private volatile Secret secret;
    private volatile InternalResource resource;
    private ServiceRegistration<?> resourceRegistration;
    private volatile Replicator replicator;
    private volatile String lastPublished;
    /** Withdrawn from the cluster (leaving): the modelhosts are no longer published. */
    private volatile boolean withdrawn;
    private volatile boolean stopping;
    /** This node's cluster resource answers: its modelhosts may be published. */
    private volatile boolean endpointReady;

    private record Remote(RemoteModelHost host, ServiceRegistration<ModelHost> registration) {
    }

    @Activate
    public ClusterNode(ClusterConfiguration config, BundleContext context, @Reference ConfigurationAdmin configAdmin) {
        this.config = config;
        this.context = context;
        this.configAdmin = configAdmin;
        this.timer = new ScheduledThreadPoolExecutor(1, IsolatedThreads.factory("fractal-cluster"));
        timer.setRemoveOnCancelPolicy(true);
        if (!config.enabled()) {
            LOG.info("Cluster: off (io.fractal.cluster enabled=false); this node serves alone");
            return;
        }
        Path home = Paths.get(System.getProperty("fractal.home", "."));
        try {
            secret = Secret.of(config.secret(), config.secret_file(), home);
        } catch (IOException e) {
            LOG.severe("Cluster: cannot read secret.file " + config.secret_file() + ": " + e.getMessage()
                    + "; calls between nodes are refused until it is readable");
            secret = new Secret("");
        }
        if (!secret.configured()) {
            LOG.warning("Cluster: no shared secret (secret or secret.file): this node refuses the other nodes' calls, "
                    + "and its calls to them are refused");
        }
        client = new PeerClient(secret, config.connect_timeout_ms(), config.call_timeout_ms());
        timer.prestartAllCoreThreads();
        synchronized (lifecycle) {
            starter = IsolatedThreads.newThread(this::start, "fractal-cluster-join");
            starter.start();
            shutdownHook = IsolatedThreads.newThread(this::withdrawAndDrain, "fractal-cluster-shutdown");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
    }

    // ---- services this component follows -------------------------------------------------------------------

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, target = "(!(" + NODE + "=*))")
    void bindModelHost(ModelHost host) {
        localHosts.put(host.id(), host);
        publishSoon();
    }

    void unbindModelHost(ModelHost host) {
        localHosts.remove(host.id(), host);
        publishSoon();
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindRepository(ModelRepository r) {
        repository = r;
        publishSoon();
    }

    void unbindRepository(ModelRepository r) {
        if (repository == r) {
            repository = null;
        }
    }

    /** {@value #MEMBERS_GAUGE}: the cluster's members as this node sees them (0: not in a cluster). */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMetrics(FractalMetrics m) {
        metrics = m;
        try {
            m.gauge(MEMBERS_GAUGE, this::members);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Cluster: members gauge not registered", e);
        }
    }

    void unbindMetrics(FractalMetrics m) {
        if (metrics == m) {
            metrics = null;
        }
        releaseGauge(m);
    }

    private int members() {
        HazelcastInstance hz = hazelcast;
        try {
            return hz == null || stopping ? 0 : hz.getCluster().getMembers().size();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** Removes the gauge, so the metrics service keeps neither this instance nor a class of its bundle revision. */
    private static void releaseGauge(FractalMetrics m) {
        if (m != null) {
            try {
                m.remove(MEMBERS_GAUGE);
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "Cluster: members gauge not released", e);
            }
        }
    }

    @Override
    public void stateChanged(String modelhost, ModelStatusDTO status) {
        if (localHosts.containsKey(modelhost)) {
            publishSoon();
        }
    }

    // ---- joining ---------------------------------------------------------------------------------------------

    private void start() {
        long t0 = System.nanoTime();
        // The resource the other nodes call, first: the HTTP API takes it in while the member joins (a resource
        // added later costs a reload of the REST application, 100 ms or more, before this node can be published).
        // Until this node publishes its modelhosts nobody calls it.
        resource = new InternalResource(secret, this::localHost, () -> repository, timer, config.call_timeout_ms());
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(RestWhiteboard.RESOURCE, true);
        synchronized (lifecycle) {
            if (stopping) {
                return;
            }
            resourceRegistration = context.registerService(Object.class, resource, props);
        }
        HazelcastInstance hz;
        try {
            hz = newInstance(hazelcastConfig());
        } catch (RuntimeException | Error e) {
            LOG.log(Level.SEVERE, "Cluster: could not start the Hazelcast member; this node serves alone", e);
            return;
        }
        synchronized (lifecycle) {
            if (stopping) {
                hz.shutdown();
                return;
            }
            hazelcast = hz;
        }
        self = hz.getCluster().getLocalMember().getUuid();
        url = endpoint(hz.getCluster().getLocalMember());
        nodeName = config.node_name().isBlank() ? url.getHost() + ":" + url.getPort() : config.node_name().strip();
        nodes = hz.getReplicatedMap(MAP);
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                LOG.info(() -> "Cluster: member joined " + event.getMember().getAddress() + " ("
                        + event.getMembers().size() + " members)");
                // published again even if unchanged: a member that merged back after a split starts from the
                // entries its own side had, and would otherwise see this node's only at its next change
                lastPublished = null;
                publishSoon();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                UUID uuid = event.getMember().getUuid();
                LOG.info(() -> "Cluster: member left " + event.getMember().getAddress() + " ("
                        + event.getMembers().size() + " members)");
                dropNode(uuid, "its member left the cluster");
                try {
                    nodes.remove(uuid.toString());
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "Cluster: stale entry not removed", e);
                }
            }
        });
        nodes.addEntryListener(new NodeEvents());
        hz.getLifecycleService().addLifecycleListener(event -> {
            if (event.getState() == LifecycleEvent.LifecycleState.MERGED) {
                LOG.info("Cluster: merged after a split; publishing again");
                lastPublished = null;
                publishSoon();
            }
        });
        replicator = config.replicate_models() ? new Replicator(client, () -> repository) : null;
        awaitOwnEndpoint();
        endpointReady = true;
        try {
            timer.scheduleWithFixedDelay(this::tick, 0, TICK_MS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            return;
        }
        LOG.info(() -> "Cluster: node " + nodeName + " joined cluster '" + config.cluster_name() + "' as "
                + hz.getCluster().getLocalMember().getAddress() + " with " + hz.getCluster().getMembers().size()
                + " members in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms; its API for the "
                + "other nodes is " + url);
    }

    /**
     * Waits until this node's own cluster resource answers on its advertised URL: the REST application adds a
     * resource a moment after it is registered, and a modelhost published before that would be called, answered
     * 404 and taken out for a second by the other nodes.
     */
    private void awaitOwnEndpoint() {
        if (!secret.configured()) {
            return;
        }
        long t0 = System.nanoTime();
        long deadline = t0 + TimeUnit.SECONDS.toNanos(15);
        while (!stopping && System.nanoTime() - deadline < 0) {
            if (client.ping(url)) {
                LOG.fine(() -> "Cluster: own endpoint answers after "
                        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        LOG.warning(() -> "Cluster: this node's cluster calls do not answer at " + url + " (is the HTTP API listening "
                + "there? set advertise.url); publishing its modelhosts anyway");
    }

    /** Hazelcast looks its own services up through the context class loader: its bundle's, here only. */
    private static HazelcastInstance newInstance(Config c) {
        Thread t = Thread.currentThread();
        ClassLoader previous = t.getContextClassLoader();
        t.setContextClassLoader(Hazelcast.class.getClassLoader());
        try {
            return Hazelcast.newHazelcastInstance(c);
        } finally {
            t.setContextClassLoader(previous);
        }
    }

    Config hazelcastConfig() {
        Config c = new Config();
        c.setClusterName(config.cluster_name());
        c.setClassLoader(Hazelcast.class.getClassLoader());
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.logging.type", "jdk");
        c.setProperty("hazelcast.shutdownhook.enabled", "false"); // this component leaves, in its order
        c.setProperty("hazelcast.socket.bind.any", "false");
        c.setProperty("hazelcast.heartbeat.interval.seconds", Integer.toString(config.heartbeat_interval_seconds()));
        c.setProperty("hazelcast.max.no.heartbeat.seconds", Integer.toString(config.max_no_heartbeat_seconds()));
        c.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
        c.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
        c.setProperty("hazelcast.wait.seconds.before.join", "0");
        c.setProperty("hazelcast.jmx", "false");
        c.setProperty("hazelcast.health.monitoring.level", "OFF");
        // The cluster holds one small replicated map: Hazelcast's 271 partitions only make each join and leave move
        // 271 of them, for about 2 s on two cores, and a member that hangs while they move (a GC pause, SIGSTOP)
        // holds the master's membership work, heartbeats included, until the moves to it time out: the others then
        // take the master for dead too. Every member of a cluster must use the same count.
        c.setProperty("hazelcast.partition.count", Integer.toString(PARTITIONS));
        c.getJetConfig().setEnabled(false);
        NetworkConfig n = c.getNetworkConfig();
        n.setPort(config.port()).setPortAutoIncrement(config.port_auto_increment());
        n.setPortCount(100);
        String bind = config.bind_address().strip();
        if (!bind.isEmpty() && !bind.equals("0.0.0.0")) {
            n.getInterfaces().setEnabled(true).addInterface(bind);
        }
        JoinConfig join = n.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        if (config.kubernetes_enabled()) {
            join.getTcpIpConfig().setEnabled(false);
            var k = join.getKubernetesConfig().setEnabled(true);
            if (!config.kubernetes_service_dns().isBlank()) {
                k.setProperty("service-dns", config.kubernetes_service_dns().strip());
            } else {
                if (!config.kubernetes_namespace().isBlank()) {
                    k.setProperty("namespace", config.kubernetes_namespace().strip());
                }
                if (!config.kubernetes_service_name().isBlank()) {
                    k.setProperty("service-name", config.kubernetes_service_name().strip());
                }
            }
        } else {
            List<String> members = new ArrayList<>();
            for (String m : config.members()) {
                Arrays.stream(m.split("[,\\s]+")).map(String::strip).filter(s -> !s.isEmpty()).forEach(members::add);
            }
            join.getTcpIpConfig().setEnabled(true).setMembers(members).setConnectionTimeoutSeconds(2);
        }
        return c;
    }

    /** The URL the other nodes call this one on. */
    private URI endpoint(Member local) {
        if (!config.advertise_url().isBlank()) {
            return URI.create(config.advertise_url().strip().replaceAll("/+$", "") + "/");
        }
        String host = local.getAddress().getHost();
        int port = 8001;
        String restHost = null;
        try {
            Configuration[] rest = configAdmin.listConfigurations("(service.pid=io.fractal.rest)");
            if (rest != null && rest.length > 0 && rest[0].getProperties() != null) {
                Object p = rest[0].getProperties().get("port");
                if (p != null) {
                    port = Integer.parseInt(p.toString().trim());
                }
                Object h = rest[0].getProperties().get("host");
                restHost = h == null ? null : h.toString().trim();
            }
        } catch (IOException | org.osgi.framework.InvalidSyntaxException | NumberFormatException e) {
            LOG.log(Level.WARNING, "Cluster: cannot read the HTTP port from io.fractal.rest; assuming " + port, e);
        }
        if (restHost != null && !restHost.isEmpty() && !restHost.equals("0.0.0.0") && !restHost.equals(host)) {
            String listens = restHost;
            int p = port;
            LOG.warning(() -> "Cluster: the HTTP API listens on " + listens + " but the cluster address is " + host
                    + ": other nodes call http://" + host + ":" + p + "/ (set advertise.url if that is wrong)");
        }
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/");
    }

    private ModelHost localHost(String id) {
        return withdrawn ? null : localHosts.get(id);
    }

    // ---- publishing ------------------------------------------------------------------------------------------

    private void publishSoon() {
        if (!endpointReady || !publishQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            timer.execute(() -> {
                publishQueued.set(false);
                publish();
            });
        } catch (RejectedExecutionException e) {
            publishQueued.set(false);
        }
    }

    /** On the timer thread: refresh the version tables, publish, look at the peers, copy what is missing. */
    private void tick() {
        try {
            refreshVersions();
            publish();
            reconcile();
            Replicator r = replicator;
            ModelRepository repo = repository;
            if (r != null && repo != null && !withdrawn) {
                r.reconcile(List.copyOf(peers.values()), repo);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Cluster: a periodic update failed", e);
        }
    }

    private void refreshVersions() {
        ModelRepository repo = repository;
        if (repo == null) {
            return;
        }
        Map<String, String> bySha = new HashMap<>();
        Map<String, Integer> byVersion = new HashMap<>();
        for (ModelDTO m : repo.models()) {
            for (ModelVersionDTO v : m.versions) {
                bySha.put(m.name + ":" + v.version, v.sha256);
                byVersion.put(m.name + " " + v.sha256, v.version);
            }
        }
        shaByVersion = bySha;
        versionBySha = byVersion;
    }

    @Override
    public String sha256(String model, int version) {
        String sha = shaByVersion.get(model + ":" + version);
        if (sha == null) {
            ModelRepository repo = repository;
            if (repo != null) {
                try {
                    sha = repo.resolve(model, version).sha256;
                } catch (RuntimeException e) {
                    return null;
                }
            }
        }
        return sha;
    }

    @Override
    public int localVersion(String model, String sha256) {
        Integer v = versionBySha.get(model + " " + sha256);
        return v == null ? -1 : v;
    }

    private synchronized void publish() {
        ReplicatedMap<String, String> map = nodes;
        HazelcastInstance hz = hazelcast;
        if (map == null || hz == null || self == null || !endpointReady) {
            return;
        }
        UUID me;
        try {
            me = hz.getCluster().getLocalMember().getUuid();
        } catch (RuntimeException e) {
            return; // shutting down
        }
        if (!me.equals(self)) {
            // a member that merged back after a split rejoins with a new UUID: publish under that one
            UUID old = self;
            self = me;
            lastPublished = null;
            LOG.info(() -> "Cluster: this member's UUID changed from " + old + " to " + me + " (merged after a split)");
            try {
                map.remove(old.toString());
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "Cluster: old entry not removed", e);
            }
        }
        NodeState state = new NodeState();
        state.node = nodeName;
        state.url = url.toString();
        // without the secret the other nodes' calls would all be refused: its modelhosts are not offered
        state.serving = !withdrawn && secret.configured();
        if (state.serving) {
            for (ModelHost h : localHosts.values()) {
                try {
                    state.hosts.add(hostState(h));
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "Cluster: modelhost " + h.id() + " not described", e);
                }
            }
            state.hosts.sort((a, b) -> a.id.compareTo(b.id));
        }
        ModelRepository repo = repository;
        Replicator r = replicator;
        if (repo != null) {
            try {
                for (ModelDTO m : repo.models()) {
                    for (ModelVersionDTO v : m.versions) {
                        state.models.add(versionState(m, v, r, repo));
                    }
                }
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "Cluster: models not listed", e);
            }
        }
        if (r != null) {
            state.deleted = r.deleted();
            state.defaults = r.defaults();
            state.descriptions = r.descriptions();
        }
        String json = state.toJson();
        if (json.equals(lastPublished)) {
            return;
        }
        try {
            map.put(me.toString(), json);
            lastPublished = json;
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Cluster: state not published", e);
        }
    }

    private NodeState.HostState hostState(ModelHost h) {
        ModelHostDTO d = h.describe();
        NodeState.HostState s = new NodeState.HostState();
        s.id = h.id();
        s.accepting = h.accepting();
        s.workers = Math.max(1, h.capacity());
        s.queueCapacity = d.queueCapacity;
        s.models = d.models;
        if (d.loaded != null) {
            for (ModelStatusDTO st : d.loaded) {
                NodeState.Loaded l = new NodeState.Loaded();
                l.model = st.model;
                l.version = st.version;
                l.sha256 = sha256(st.model, st.version);
                l.state = st.state;
                l.reason = st.reason;
                l.engine = st.engine;
                l.signature = st.signature;
                if (l.sha256 != null) {
                    s.loaded.add(l);
                }
            }
        }
        return s;
    }

    private static NodeState.VersionState versionState(ModelDTO m, ModelVersionDTO v, Replicator r,
            ModelRepository repo) {
        NodeState.VersionState s = new NodeState.VersionState();
        s.name = m.name;
        s.version = v.version;
        s.sha256 = v.sha256;
        s.size = v.size;
        s.created = r == null ? v.created : r.originCreated(m.name, v.sha256, v.created);
        if (r != null) {
            r.announced(m.name, v.sha256);
        }
        s.engine = v.engine;
        s.description = v.description;
        s.isDefault = v.version == m.defaultVersion;
        s.signature = v.signature;
        try (java.io.InputStream meta = repo.metadata(m.name, v.version)) {
            s.metadata = meta == null ? null : NodeState.JSON.readTree(meta);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.FINE, "Cluster: metadata of " + m.name + ":" + v.version + " not read", e);
        }
        return s;
    }

    // ---- the other nodes -------------------------------------------------------------------------------------

    /** Entries of the nodes map: another node published, withdrew or was removed. */
    private final class NodeEvents implements EntryListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> event) {
            apply(event.getKey(), event.getValue());
            // a node new to the map (a start, or a merge after a split: its map lost what the other side wrote
            // meanwhile, and events sent while it was merging): it gets this node's entry again now
            lastPublished = null;
            publishSoon();
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> event) {
            apply(event.getKey(), event.getValue());
        }

        @Override
        public void entryRemoved(EntryEvent<String, String> event) {
            dropNode(uuid(event.getKey()), "it withdrew");
        }

        @Override
        public void entryEvicted(EntryEvent<String, String> event) {
            dropNode(uuid(event.getKey()), "its entry was evicted");
        }

        @Override
        public void entryExpired(EntryEvent<String, String> event) {
            dropNode(uuid(event.getKey()), "its entry expired");
        }

        @Override
        public void mapCleared(MapEvent event) {
            reconcile();
        }

        @Override
        public void mapEvicted(MapEvent event) {
            reconcile();
        }
    }

    private static UUID uuid(String key) {
        try {
            return UUID.fromString(key);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Applies every entry of the map again, and drops nodes that are no longer members (missed events). */
    private void reconcile() {
        ReplicatedMap<String, String> map = nodes;
        HazelcastInstance hz = hazelcast;
        if (map == null || hz == null || stopping) {
            return;
        }
        Set<UUID> members = new HashSet<>();
        try {
            hz.getCluster().getMembers().forEach(m -> members.add(m.getUuid()));
            for (Map.Entry<String, String> e : map.entrySet()) {
                apply(e.getKey(), e.getValue());
            }
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "Cluster: not reconciled", e);
            return;
        }
        List<UUID> known;
        synchronized (this) {
            known = new ArrayList<>(remotes.keySet());
        }
        known.addAll(peers.keySet());
        for (UUID u : known) {
            if (!members.contains(u)) {
                dropNode(u, "it is no longer a member");
            }
        }
    }

    private void apply(String key, String json) {
        UUID uuid = uuid(key);
        HazelcastInstance hz = hazelcast;
        if (uuid == null || uuid.equals(self) || json == null || hz == null || stopping) {
            return;
        }
        if (hz.getCluster().getMembers().stream().noneMatch(m -> m.getUuid().equals(uuid))) {
            return; // a member that left, whose entry is still being removed
        }
        NodeState state;
        try {
            state = NodeState.parse(json);
        } catch (IllegalArgumentException e) {
            LOG.log(Level.WARNING, "Cluster: ignoring an unreadable state of member " + uuid, e);
            return;
        }
        peers.put(uuid, state);
        applyHosts(uuid, state);
    }

    private synchronized void applyHosts(UUID uuid, NodeState state) {
        if (stopping) {
            return;
        }
        Map<String, Remote> current = remotes.computeIfAbsent(uuid, u -> new HashMap<>());
        Set<String> seen = new HashSet<>();
        URI base;
        try {
            base = URI.create(state.url);
        } catch (RuntimeException e) {
            LOG.warning("Cluster: node " + state.node + " published an unusable URL " + state.url);
            return;
        }
        if (state.serving) {
            for (NodeState.HostState h : state.hosts) {
                String id = RemoteModelHost.idOf(h.id, state.node);
                seen.add(id);
                Remote r = current.get(id);
                if (r != null && r.host.base().equals(base)) {
                    r.host.update(h);
                    continue;
                }
                if (r != null) {
                    unregister(r, "it moved", false);
                }
                RemoteModelHost host = new RemoteModelHost(state.node, base, h, client, this);
                Dictionary<String, Object> props = new Hashtable<>();
                props.put(ModelHost.ID, id);
                props.put(NODE, state.node);
                props.put(REMOTE, true);
                current.put(id, new Remote(host, context.registerService(ModelHost.class, host, props)));
                LOG.info(() -> "Cluster: modelhost " + id + " of node " + state.node + " registered (" + base + ")");
            }
        }
        for (String id : new ArrayList<>(current.keySet())) {
            if (!seen.contains(id)) {
                unregister(current.remove(id), state.serving ? "it is gone from its node" : "its node withdrew",
                        false);
            }
        }
    }

    private void dropNode(UUID uuid, String why) {
        if (uuid == null) {
            return;
        }
        peers.remove(uuid);
        Map<String, Remote> gone;
        synchronized (this) {
            gone = remotes.remove(uuid);
        }
        if (gone != null) {
            gone.values().forEach(r -> unregister(r, why, true));
            PeerClient c = client;
            if (c != null) {
                gone.values().stream().map(r -> r.host.base()).distinct().forEach(c::forget);
            }
        }
    }

    /**
     * Unregisters a remote modelhost. Its calls in flight are refused (the balancer re-routes them) when its node is
     * gone ({@code abort}); a node that withdrew answers them itself.
     */
    private static void unregister(Remote r, String why, boolean abort) {
        r.host.gone(why, abort);
        try {
            r.registration.unregister();
        } catch (IllegalStateException e) {
            // already unregistered (the bundle stopping)
        }
        LOG.info(() -> "Cluster: modelhost " + r.host.id() + " unregistered: " + why);
    }

    // ---- leaving ---------------------------------------------------------------------------------------------

    /**
     * Withdraws this node's modelhosts from the cluster (the other nodes unregister them at once), then waits, up to
     * {@code leave.drain.ms}, for the calls they already sent to be answered. The member stays in the cluster.
     */
    private void withdrawAndDrain() {
        if (withdrawn || nodes == null) {
            return;
        }
        withdrawn = true;
        lastPublished = null;
        publish();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.leave_drain_ms());
        // the other nodes need a moment to see the withdrawal; calls they sent before it still arrive meanwhile
        long settle = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.min(300, config.leave_drain_ms()));
        InternalResource r = resource;
        while (System.nanoTime() - deadline < 0
                && (System.nanoTime() - settle < 0 || (r != null && r.inFlight() > 0))) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        LOG.info("Cluster: node withdrawn from the cluster; the other nodes' calls in flight are answered");
    }

    @Deactivate
    void deactivate() {
        Thread hook;
        Thread join;
        synchronized (lifecycle) {
            stopping = true; // a join in progress gives up waiting for this node's own endpoint
            hook = shutdownHook;
            join = starter;
        }
        if (hook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook runs (or ran) and withdrew
            }
        }
        if (join != null) {
            try {
                join.join(30_000); // a join in progress completes, then leaves below
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        withdrawAndDrain();
        HazelcastInstance hz;
        ServiceRegistration<?> res;
        synchronized (lifecycle) {
            stopping = true;
            hz = hazelcast;
            res = resourceRegistration;
            resourceRegistration = null;
        }
        timer.shutdownNow();
        List<Remote> all = new ArrayList<>();
        synchronized (this) {
            remotes.values().forEach(m -> all.addAll(m.values()));
            remotes.clear();
        }
        all.forEach(r -> unregister(r, "this node leaves the cluster", true));
        if (res != null) {
            try {
                res.unregister();
            } catch (IllegalStateException e) {
                // already gone
            }
        }
        if (hz != null) {
            try {
                if (nodes != null && self != null) {
                    nodes.remove(self.toString());
                }
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "Cluster: own entry not removed", e);
            }
            long t0 = System.nanoTime();
            hz.shutdown(); // a graceful leave: the other members see this member leave at once
            LOG.info(() -> "Cluster: left the cluster in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)
                    + " ms");
        }
        releaseGauge(metrics);
        Replicator r = replicator;
        if (r != null) {
            r.close();
        }
        PeerClient c = client;
        if (c != null) {
            c.close();
        }
    }
}
