package io.fractal.repository.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.type.TypeFactory;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStateListener;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.repository.ModelArtifact;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.felix.fileinstall.ArtifactInstaller;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * Keeps models on disk as {@code <data>/<name>/<version>/} folders, each with its model file and a
 * {@code version.json}, and {@code <data>/<name>/model.json} for the default version. Every stored version is
 * published as a {@link ModelArtifact} service, which the modelhosts follow.
 *
 * <p>It is also FileInstall's installer for model files ({@code iris.pt}) and model folders (a folder with a
 * {@code model.json} sidecar and the model file) in {@code deploy/}: FileInstall hands over a file only once it
 * stopped changing, so half-copied files are never seen. A changed file becomes a new version that replaces the
 * one deployed from the same file; a removed file undeploys its versions. FileInstall forgets its files over a
 * restart and installs them again, so installing the same bytes twice is a no-op.
 *
 * <p>A new version that replaces the default is promoted once a modelhost reports it READY: the repository is a
 * {@link ModelStateListener}, told by the modelhosts, so it polls nobody. A promotion in progress is kept in
 * {@code model.json} and resumes after a restart.
 *
 * <p>A version that is deleted, replaced or undeployed is marked {@link ModelArtifact#WITHDRAWN} before its service
 * goes; stopping the repository (an update) only unregisters the services, so modelhosts keep the models loaded and
 * adopt them again when the repository is back. Services are registered and unregistered outside the repository's
 * lock (a modelhost may close a native model as a version goes).
 */
@Component(service = {ModelRepository.class, ArtifactInstaller.class, ModelStateListener.class},
        configurationPid = RepositoryConfiguration.PID)
@Designate(ocd = RepositoryConfiguration.class)
public class ModelRepositoryImpl implements ModelRepository, ArtifactInstaller, ModelStateListener {

    private static final Logger LOG = Logger.getLogger(ModelRepositoryImpl.class.getName());
    private static final String VERSION_FILE = "version.json";
    private static final String MODEL_FILE = "model.json";
    private static final String DEPLOY_SOURCE = "deploy:";
    /** The prefix of a removed model's folder while its files are deleted; left over after a crash, it goes. */
    private static final String DELETED_PREFIX = ".deleted-";
    /** File types known before any engine registers, so deploy/ files are claimed at start-up. */
    private static final Map<String, String> BUILT_IN_TYPES = Map.of("pt", "PyTorch", "pth", "PyTorch",
            "torchscript", "PyTorch", "onnx", "OnnxRuntime");

    private final BundleContext context;
    private final Path dataDir;
    private final long swapTimeoutSeconds;
    /**
     * With a type cache of its own: Jackson's shared default one would keep this bundle's classes (and so its old
     * revision) after an update.
     */
    private final ObjectMapper mapper = new ObjectMapper().setTypeFactory(TypeFactory.createDefaultInstance())
            .enable(SerializationFeature.INDENT_OUTPUT);
    private final Map<String, StoredModel> models = new TreeMap<>();
    /**
     * What {@link #resolve} reads, without the lock every prediction would otherwise take: each model's default
     * version and versions, as of the last change. Published (under the lock) after every change of {@link #models}.
     */
    private volatile Map<String, Resolvable> resolvable = Map.of();

    /** A model as {@link #resolve} sees it. */
    private record Resolvable(int defaultVersion, TreeMap<Integer, StoredVersion> versions) {
    }
    private final Map<InferenceEngine, Map<String, String>> engineTypes = new ConcurrentHashMap<>();
    /** The size and time of what each deploy/ source was when last deployed. */
    private final Map<String, String> deployedStamps = new ConcurrentHashMap<>();
    /** deploy/ sources whose last deployment failed (a corrupt file), for the start-up scan. */
    private final Set<String> refusedSources = ConcurrentHashMap.newKeySet();
    /** How long a deploy/ file must have stayed unchanged before it is read: FileInstall's poll interval. */
    private final long settleMillis;
    /** The deploy/ sources seen changing and not read yet, by source: their files' stamp then, and the next check. */
    private final Map<String, Settling> settling = new ConcurrentHashMap<>();
    /** Held while a deploy/ source is read or undeployed (FileInstall's thread, and the deployer's re-checks). */
    private final Object deploying = new Object();
    /** Reads the deploy/ sources that were still changing when reported, once they stay unchanged. */
    private final ScheduledExecutorService deployer = Executors.newSingleThreadScheduledExecutor(
            r -> IsolatedThreads.newThread(r, "fractal-repository-deploy"));
    private final StartupScan startup;
    /** The versions waiting to become their model's default, by {@code name:version}. */
    private final Map<String, Promotion> promotions = new ConcurrentHashMap<>();
    private volatile boolean active = true;
    private final ScheduledExecutorService background = Executors.newSingleThreadScheduledExecutor(
            r -> IsolatedThreads.newThread(r, "fractal-repository"));

    /** Whether anything serves: without a balancer a new default applies at once. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile LoadBalancer balancer;

    /** A model and its versions; guarded by the repository's lock. */
    private static final class StoredModel {
        final String name;
        final TreeMap<Integer, StoredVersion> versions = new TreeMap<>();
        /** Versions waiting to become the default, and the versions each retires then. */
        final TreeMap<Integer, List<Integer>> pending = new TreeMap<>();
        int defaultVersion;
        int lastVersion;

        StoredModel(String name) {
            this.name = name;
        }
    }

    /** The state of {@code <data>/<name>/model.json}. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public static class StoredModelState {
        @JsonInclude(JsonInclude.Include.ALWAYS)
        public int default_version;
        @JsonInclude(JsonInclude.Include.ALWAYS)
        public int last_version;
        /** Versions waiting to become the default once READY, each with the versions it retires then. */
        public Map<Integer, List<Integer>> pending;
    }

    /**
     * A version waiting to become the default once a modelhost has it READY. What each modelhost reported about it
     * is kept here; the decision runs on the background thread.
     */
    private static final class Promotion {
        final StoredVersion version;
        final List<Integer> retired;
        final Map<String, ModelState> reported = new ConcurrentHashMap<>();
        volatile ScheduledFuture<?> timeout;

        Promotion(StoredVersion version, List<Integer> retired) {
            this.version = version;
            this.retired = List.copyOf(retired);
        }
    }

    /** Versions taken out of the store under the lock, to withdraw and delete outside it. */
    private record Removal(List<StoredVersion> versions, List<Path> folders) {
        static Removal none() {
            return new Removal(new ArrayList<>(), new ArrayList<>());
        }
    }

    @Activate
    public ModelRepositoryImpl(BundleContext context, RepositoryConfiguration config) throws IOException {
        this.context = context;
        this.swapTimeoutSeconds = Math.max(1, config.swap_timeout_seconds());
        String configured = config.data_dir();
        if (configured == null || configured.isBlank()) {
            String home = context.getProperty("fractal.home");
            this.dataDir = Paths.get(home == null ? "." : home, "data", "models").toAbsolutePath().normalize();
        } else {
            this.dataDir = Paths.get(configured).toAbsolutePath().normalize();
        }
        Files.createDirectories(dataDir);
        String deploy = context.getProperty("felix.fileinstall.dir");
        String poll = context.getProperty("felix.fileinstall.poll");
        this.settleMillis = poll == null ? 2000 : Long.parseLong(poll.strip());
        this.startup = new StartupScan(deploy == null ? null : Paths.get(deploy), settleMillis,
                TimeUnit.SECONDS.toMillis(60));
        load();
        background.scheduleWithFixedDelay(this::reconcileDeploySources, 1, 1, TimeUnit.SECONDS);
    }

    /**
     * The repository stops (an update, a restart): its services go, but no version is withdrawn, so modelhosts keep
     * what they loaded; promotions in progress stay in {@code model.json} and resume at the next start.
     */
    @Deactivate
    void deactivate() {
        active = false;
        background.shutdownNow();
        deployer.shutdownNow();
        List<StoredVersion> all = new ArrayList<>();
        synchronized (this) {
            models.values().forEach(m -> all.addAll(m.versions.values()));
        }
        all.forEach(StoredVersion::unpublish);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void bindEngine(InferenceEngine engine) {
        Map<String, String> types = new ConcurrentHashMap<>();
        engine.fileExtensions().forEach(ext -> types.put(ext.toLowerCase(Locale.ROOT), engine.name()));
        engineTypes.put(engine, types);
    }

    void unbindEngine(InferenceEngine engine) {
        engineTypes.remove(engine);
    }

    // ---- reading -------------------------------------------------------------------------------------------

    @Override
    public synchronized List<ModelDTO> models() {
        return models.values().stream().map(this::toDTO).toList();
    }

    @Override
    public synchronized ModelDTO model(String name) {
        return toDTO(find(name));
    }

    @Override
    public ModelVersionDTO resolve(String name, Integer version) {
        // only valid names are ever stored: the map answers an invalid one with null, without a regex per request
        Resolvable m = name == null ? null : resolvable.get(name);
        if (m == null) {
            throw new ModelNotFoundException("model '" + name + "' not found");
        }
        int v = version == null ? m.defaultVersion : version;
        StoredVersion sv = m.versions.get(v);
        if (sv == null) {
            throw new ModelNotFoundException("model '" + name + "' has no version " + v + " (versions: "
                    + m.versions.keySet() + ")");
        }
        return sv.toDTO();
    }

    /** Publishes what {@link #resolve} reads; called under the lock after every change of the models. */
    private void republish() {
        Map<String, Resolvable> next = new java.util.HashMap<>();
        for (StoredModel m : models.values()) {
            next.put(m.name, new Resolvable(m.defaultVersion, new TreeMap<>(m.versions)));
        }
        resolvable = Map.copyOf(next);
    }

    @Override
    public InputStream open(String name, Integer version) throws IOException {
        StoredVersion v;
        synchronized (this) {
            v = findVersion(name, version);
        }
        return Files.newInputStream(v.file());
    }

    @Override
    public InputStream metadata(String name, Integer version) throws IOException {
        ModelMetadata sidecar;
        synchronized (this) {
            sidecar = findVersion(name, version).metadata.sidecar();
        }
        return new java.io.ByteArrayInputStream(mapper.writeValueAsBytes(sidecar));
    }

    @Override
    public synchronized String fileName(String name, Integer version) {
        return findVersion(name, version).metadata.file;
    }

    private ModelDTO toDTO(StoredModel m) {
        ModelDTO dto = new ModelDTO();
        dto.name = m.name;
        dto.defaultVersion = m.defaultVersion;
        dto.versions = m.versions.values().stream().map(StoredVersion::toDTO).toList();
        return dto;
    }

    private StoredModel find(String name) {
        StoredModel m = ModelNames.isValid(name) ? models.get(name) : null;
        if (m == null) {
            throw new ModelNotFoundException("model '" + name + "' not found");
        }
        return m;
    }

    private StoredVersion findVersion(String name, Integer version) {
        StoredModel m = find(name);
        int v = version == null ? m.defaultVersion : version;
        StoredVersion sv = m.versions.get(v);
        if (sv == null) {
            throw new ModelNotFoundException("model '" + name + "' has no version " + v + " (versions: "
                    + m.versions.keySet() + ")");
        }
        return sv;
    }

    // ---- changing ------------------------------------------------------------------------------------------

    @Override
    public ModelVersionDTO deploy(String name, String fileName, InputStream data, InputStream metadata, String engine,
            String description, boolean makeDefault) throws IOException {
        ModelNames.check(name);
        ModelMetadata meta = metadata == null ? new ModelMetadata() : readSidecar(name, metadata.readAllBytes());
        if (engine != null && !engine.isBlank()) {
            meta.engine = engine;
        }
        if (description != null) {
            meta.description = description;
        }
        meta.source = "upload";
        meta.sourceDigest = null;
        return ingest(name, fileName, data, meta, makeDefault, false);
    }

    private ModelMetadata readSidecar(String name, byte[] json) {
        try {
            ModelMetadata meta = mapper.readValue(json, ModelMetadata.class);
            meta.signature(); // fails early on an unknown datatype
            meta.batching(); // and on a batch size or delay out of range
            meta.forgetLearned(); // the repository's own, never declared
            return meta;
        } catch (IOException | IllegalArgumentException e) {
            throw new InvalidInputException("invalid " + ModelMetadata.SIDECAR + " of model " + ClientText.quote(name)
                    + ": " + (e instanceof com.fasterxml.jackson.core.JacksonException j
                            ? ClientText.withoutJavaNames(j.getOriginalMessage()) : e.getMessage()));
        }
    }

    @Override
    public synchronized void setDefaultVersion(String name, int version) {
        StoredModel m = find(name);
        findVersion(name, version);
        m.defaultVersion = version;
        saveModelState(m);
    }

    @Override
    public void learnSignature(String name, int version, ModelSignature learned) {
        if (learned == null || !learned.complete()) {
            return;
        }
        synchronized (this) {
            StoredModel m = ModelNames.isValid(name) ? models.get(name) : null;
            StoredVersion v = m == null ? null : m.versions.get(version);
            if (!active || v == null || v.gone || v.signature.complete()
                    || (v.learned != null && v.learned.complete())) {
                return;
            }
            v.metadata.learn(learned);
            try {
                writeMetadata(v.dir, v.metadata);
            } catch (java.io.UncheckedIOException e) {
                v.metadata.forgetLearned();
                throw e;
            }
            v.learned = v.metadata.learnedSignature();
        }
        LOG.info(() -> "Model " + name + ":" + version + " is described from now on as its first call showed it: "
                + learned.inputs() + " -> " + learned.outputs() + " (not enforced)");
    }

    @Override
    public synchronized void setDescription(String name, Integer version, String description) {
        StoredVersion v = findVersion(name, version);
        v.metadata.description = description;
        writeMetadata(v.dir, v.metadata);
    }

    @Override
    public void delete(String name, Integer version) {
        Removal removal = Removal.none();
        synchronized (this) {
            StoredModel m = find(name);
            if (version == null) {
                new ArrayList<>(m.versions.keySet()).forEach(v -> remove(m, v, removal));
            } else {
                findVersion(name, version);
                remove(m, version, removal);
            }
        }
        withdraw(removal);
    }

    /**
     * Takes a version out of the store (under the lock); {@link #withdraw} then unregisters it and deletes its files.
     * A model left without versions goes with its folder, which is renamed at once so that a new model of the same
     * name starts afresh.
     */
    private void remove(StoredModel m, int version, Removal removal) {
        StoredVersion v = m.versions.remove(version);
        v.gone = true;
        m.pending.remove(version);
        Promotion p = promotions.remove(key(m.name, version));
        if (p != null && p.timeout != null) {
            p.timeout.cancel(false);
        }
        removal.versions.add(v);
        LOG.info(() -> "Removed model " + v);
        if (m.versions.isEmpty()) {
            models.remove(m.name);
            republish();
            Path folder = dataDir.resolve(m.name);
            Path trash = dataDir.resolve(DELETED_PREFIX + m.name + "-" + System.nanoTime());
            try {
                Files.move(folder, trash, StandardCopyOption.ATOMIC_MOVE);
                removal.folders.add(trash);
            } catch (IOException e) {
                LOG.warning(() -> "Cannot move " + folder + " aside: " + e.getMessage() + "; deleting it in place");
                deleteTree(folder);
            }
        } else {
            removal.folders.add(v.dir);
            if (m.defaultVersion == version) {
                m.defaultVersion = m.versions.lastKey();
            }
            saveModelState(m);
        }
    }

    /** Outside the lock: marks the removed versions withdrawn, unregisters them, then deletes their files. */
    private void withdraw(Removal removal) {
        removal.versions.forEach(StoredVersion::withdraw);
        removal.folders.forEach(ModelRepositoryImpl::deleteTree);
    }

    /** What {@link #store} did: the new version to publish, and what to withdraw after (or a promotion to start). */
    private record Stored(StoredVersion version, Removal removal, Promotion promotion) {
    }

    /**
     * Moves a staged version folder into the store as the model's next version (under the lock); the caller
     * publishes it outside.
     *
     * @param replaceSource whether older versions from the same source are retired (a replaced deploy file)
     */
    private Stored store(String name, Path staging, ModelMetadata meta, boolean makeDefault, boolean replaceSource)
            throws IOException {
        StoredModel m = models.computeIfAbsent(name, StoredModel::new);
        int version = Math.max(m.lastVersion, m.versions.isEmpty() ? 0 : m.versions.lastKey()) + 1;
        meta.created = System.currentTimeMillis();
        writeMetadata(staging, meta);
        Path dir = dataDir.resolve(name).resolve(Integer.toString(version));
        Files.createDirectories(dir.getParent());
        Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
        StoredVersion sv = new StoredVersion(name, version, dir, meta);
        List<Integer> retired = replaceSource ? m.versions.values().stream()
                .filter(v -> meta.source.equals(v.metadata.source)).map(v -> v.version).toList() : List.of();
        m.versions.put(version, sv);
        m.lastVersion = version;
        boolean swap = (makeDefault || retired.contains(m.defaultVersion)) && m.defaultVersion != 0
                && balancer != null;
        if (!swap && (makeDefault || m.defaultVersion == 0 || retired.contains(m.defaultVersion))) {
            m.defaultVersion = version;
        }
        Promotion promotion = null;
        Removal removal = Removal.none();
        if (swap) {
            // Traffic stays on the current default until the new version is READY on a modelhost.
            m.pending.put(version, retired);
            promotion = new Promotion(sv, retired);
            promotions.put(key(name, version), promotion);
        } else {
            retired.forEach(v -> remove(m, v, removal));
        }
        saveModelState(m);
        boolean swapping = swap;
        LOG.info(() -> "Deployed model " + sv + " (" + meta.engine + ", from " + meta.source + ")"
                + (retired.isEmpty() ? "" : ", replacing version(s) " + retired)
                + (swapping ? "; it becomes the default once it is ready" : ""));
        return new Stored(sv, removal, promotion);
    }

    // ---- promotion: told by the modelhosts -----------------------------------------------------------------

    /** Starts waiting for a promotion's version: a modelhost's report decides it, the swap timeout at the latest. */
    private void await(Promotion p) {
        try {
            p.timeout = background.schedule(() -> decide(p, true), swapTimeoutSeconds, TimeUnit.SECONDS);
        } catch (RejectedExecutionException stopping) {
            LOG.fine(() -> "Repository stopping; the promotion of " + p.version + " resumes at its next start");
        }
    }

    /** A modelhost reports a version's state: what a promotion waits for. Only queues work; never blocks. */
    @Override
    public void stateChanged(String modelhost, ModelStatusDTO status) {
        if (status == null || status.model == null || status.state == null) {
            return;
        }
        Promotion p = promotions.get(key(status.model, status.version));
        if (p == null) {
            return;
        }
        if (status.state == ModelState.DRAINING) {
            p.reported.remove(modelhost); // it leaves that host
        } else {
            p.reported.put(modelhost, status.state);
        }
        try {
            background.execute(() -> decide(p, false));
        } catch (RejectedExecutionException stopping) {
            LOG.fine(() -> "Repository stopping; the promotion of " + p.version + " resumes at its next start");
        }
    }

    /**
     * Makes a waiting version the default once a modelhost has it READY, then retires the versions it replaces
     * (modelhosts finish the requests running on them). If it failed on every modelhost that holds it, the old
     * version keeps serving. Without any report after the swap timeout, it is promoted anyway.
     */
    private void decide(Promotion p, boolean timedOut) {
        StoredVersion sv = p.version;
        boolean ready = p.reported.containsValue(ModelState.READY);
        boolean failed = !ready && !p.reported.isEmpty()
                && p.reported.values().stream().allMatch(s -> s == ModelState.FAILED);
        LoadBalancer b = balancer;
        if (failed && b != null) {
            // Confirm with every live modelhost's view: one that has not reported yet may still be loading it.
            Map<String, ModelStatusDTO> live = b.status(sv.name, sv.version);
            ready = live.values().stream().anyMatch(s -> s.state == ModelState.READY);
            failed = !ready && live.values().stream().allMatch(s -> s.state == ModelState.FAILED);
        }
        if (!ready && !failed && !timedOut) {
            return;
        }
        Removal removal = Removal.none();
        synchronized (this) {
            StoredModel m = models.get(sv.name);
            if (!active || promotions.get(key(sv.name, sv.version)) != p) {
                return; // stopping (it resumes at the next start), or decided or removed meanwhile
            }
            promotions.remove(key(sv.name, sv.version));
            if (p.timeout != null && !timedOut) {
                p.timeout.cancel(false);
            }
            if (m == null || m.versions.get(sv.version) != sv) {
                return;
            }
            m.pending.remove(sv.version);
            if (failed) {
                saveModelState(m);
                LOG.warning(() -> "Model " + sv + " failed to load on every modelhost; version " + m.defaultVersion
                        + " keeps serving");
                return;
            }
            m.defaultVersion = sv.version;
            p.retired.stream().filter(m.versions::containsKey).forEach(v -> remove(m, v, removal));
            if (models.get(m.name) == m) {
                saveModelState(m);
            }
            boolean late = timedOut && !ready;
            LOG.info(() -> "Model " + sv.name + " now serves version " + sv.version
                    + (p.retired.isEmpty() ? "" : "; retired " + p.retired)
                    + (late ? " (no modelhost reported it READY within " + swapTimeoutSeconds + " s)" : ""));
        }
        withdraw(removal);
    }

    private static String key(String name, int version) {
        return name + ":" + version;
    }


    // ---- FileInstall ---------------------------------------------------------------------------------------

    /*
     * FileInstall runs with felix.fileinstall.subdir.mode=recurse, so it reports the files inside a model folder
     * one by one: the model file and its model.json both stand for the folder, which is deployed as a whole.
     */
    @Override
    public boolean canHandle(File artifact) {
        String fileName = artifact.getName();
        if (fileName.startsWith(".") || !artifact.isFile()) {
            return false;
        }
        File folder = artifact.getParentFile();
        if (folder != null && new File(folder, ModelMetadata.SIDECAR).isFile()) {
            return ModelNames.isValid(folder.getName())
                    && (fileName.equals(ModelMetadata.SIDECAR) || knownTypes().containsKey(extension(fileName)));
        }
        return knownTypes().containsKey(extension(fileName)) && ModelNames.isValid(baseName(fileName));
    }

    @Override
    public void install(File artifact) throws Exception {
        deployArtifact(artifact.toPath(), false);
    }

    @Override
    public void update(File artifact) throws Exception {
        deployArtifact(artifact.toPath(), true);
    }

    @Override
    public void uninstall(File artifact) {
        Path path = artifact.toPath();
        Path folder = modelFolder(path);
        if (folder != null && artifact.getName().equals(ModelMetadata.SIDECAR) && Files.exists(folder)) {
            return; // the folder's model file still stands for it
        }
        undeploySource(source(path));
    }

    @Override
    public int undeploySource(String source) {
        if (!source.startsWith(DEPLOY_SOURCE)) {
            return undeploySource0(source);
        }
        synchronized (deploying) { // not while a re-check of the same source reads it
            Settling pending = settling.remove(source);
            if (pending != null) {
                pending.check.cancel(false);
            }
            return undeploySource0(source);
        }
    }

    private int undeploySource0(String source) {
        Removal removal = Removal.none();
        synchronized (this) {
            if (!active) {
                return 0;
            }
            deployedStamps.remove(source);
            for (StoredModel m : new ArrayList<>(models.values())) {
                m.versions.values().stream().filter(v -> source.equals(v.metadata.source)).map(v -> v.version)
                        .toList().forEach(v -> remove(m, v, removal));
            }
        }
        withdraw(removal);
        return removal.versions.size();
    }

    /** The model folder a deployed file belongs to (its parent holds a sidecar, or held one), or null. */
    private static Path modelFolder(Path file) {
        Path parent = file.getParent();
        if (parent == null) {
            return null;
        }
        if (Files.isRegularFile(parent.resolve(ModelMetadata.SIDECAR)) || file.getFileName().toString()
                .equals(ModelMetadata.SIDECAR)) {
            return parent;
        }
        return null;
    }

    private static String source(Path file) {
        Path folder = modelFolder(file);
        return DEPLOY_SOURCE + (folder != null ? folder.getFileName() + "/" : file.getFileName().toString());
    }

    /**
     * Reads a deploy/ file or model folder FileInstall reported ({@code changed}: as changed rather than new), unless
     * it may still be being written. On FileInstall's thread, and on the deployer's for the re-checks: one at a time,
     * so that a source is never read twice for one change.
     */
    private void deployArtifact(Path file, boolean changed) throws IOException {
        synchronized (deploying) {
            deployArtifact0(file, changed);
        }
    }

    private void deployArtifact0(Path file, boolean changed) throws IOException {
        Path folder = modelFolder(file);
        String source = source(file);
        try {
            if (folder == null) {
                String stamp = stamp(file);
                if (stamp.equals(deployedStamps.get(source))) {
                    return; // reported again, unchanged: no need to read it
                }
                if (stillChanging(file, source, List.of(file), changed)) {
                    return;
                }
                try (InputStream model = Files.newInputStream(file)) {
                    deploySource(source, baseName(file.getFileName().toString()), file.getFileName().toString(), model,
                            null, file);
                }
                deployedStamps.put(source, stamp);
                refusedSources.remove(source);
                return;
            }
            Path sidecar = folder.resolve(ModelMetadata.SIDECAR);
            // the sidecar and the files that may be the model: not a log file beside them
            List<Path> files = new ArrayList<>(modelFileCandidates(folder));
            files.add(sidecar);
            if (stillChanging(file, source, files, changed)) {
                return; // before its sidecar is parsed: it may be half-written too
            }
            ModelMetadata meta = ModelMetadata.read(mapper, sidecar);
            Path modelFile = meta.file != null ? folder.resolve(meta.file).normalize() : findModelFile(folder);
            if (modelFile == null || !modelFile.startsWith(folder) || !Files.isRegularFile(modelFile)) {
                throw new IOException("model folder " + folder + " has no model file"
                        + (meta.file == null ? "" : " '" + meta.file + "'"));
            }
            String stamp = stamp(modelFile) + "|" + stamp(sidecar);
            if (stamp.equals(deployedStamps.get(source))) {
                return;
            }
            try (InputStream model = Files.newInputStream(modelFile); InputStream json = Files.newInputStream(sidecar)) {
                deploySource(source, folder.getFileName().toString(), modelFile.getFileName().toString(), model, json,
                        folder);
            }
            deployedStamps.put(source, stamp);
            refusedSources.remove(source);
        } catch (IOException | RuntimeException e) {
            refusedSources.add(source);
            LOG.log(Level.WARNING, "Cannot deploy " + file + ": " + e.getMessage());
            throw e;
        }
    }

    /**
     * Whether a deploy/ source may still be being written, and is to be read later: once its files (their names,
     * sizes and modification times) have stayed the same for {@link #settleMillis}, FileInstall's poll interval.
     * FileInstall waits so for a new file (two polls in a row with the same checksum, of the same attributes), but
     * reports a file it knows on the first poll that sees it change (it checks known files twice per poll, for file
     * systems whose changes inotify misses): a replacement still being copied would be read half-way. So a change
     * is read once a check a poll later finds the source as it was; a new source at once if its newest file is that
     * old already (not so when its clock is ahead). Also true while the repository stops: nothing is read then.
     */
    private boolean stillChanging(Path reported, String source, List<Path> files, boolean changed)
            throws IOException {
        if (!active) {
            return true;
        }
        StringBuilder stamp = new StringBuilder();
        long newest = Long.MIN_VALUE;
        try {
            for (Path f : files) {
                long modified = Files.getLastModifiedTime(f).toMillis();
                newest = Math.max(newest, modified);
                stamp.append(f.getFileName()).append(':').append(Files.size(f)).append('@').append(modified)
                        .append('|');
            }
        } catch (NoSuchFileException e) {
            stamp.append("a file went while listed: ").append(System.nanoTime()); // changing: look again later
            newest = Long.MAX_VALUE;
        }
        String now = stamp.toString();
        long age = System.currentTimeMillis() - newest;
        Settling pending = settling.get(source);
        if (pending != null && pending.stamp.equals(now)) {
            if (System.nanoTime() - pending.since < TimeUnit.MILLISECONDS.toNanos(settleMillis)) {
                return true; // its check comes
            }
        } else if (changed || age < 0 || age < settleMillis) {
            Settling next = new Settling(now, System.nanoTime());
            try {
                next.check = deployer.schedule(() -> {
                    try {
                        if (Files.exists(reported)) {
                            deployArtifact(reported, true); // finds this entry: read if the stamp is the same
                        }
                    } catch (IOException | RuntimeException e) {
                        // logged, and the source counted as refused, by deployArtifact
                    } finally {
                        settling.remove(source, next); // a later change has an entry of its own
                    }
                }, settleMillis + 1, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                return true; // the repository stops: the next one is told of every file again
            }
            if (pending != null) {
                pending.check.cancel(false);
            }
            settling.put(source, next);
            LOG.fine(() -> "Deploying " + source + " once its files stay unchanged for " + settleMillis + " ms");
            return true;
        }
        if (pending != null) {
            settling.remove(source, pending);
            pending.check.cancel(false);
        }
        return false;
    }

    /** A deploy/ source seen changing: its files' stamp, since when it has been so, and the check that comes. */
    private static final class Settling {
        final String stamp;
        final long since;
        volatile ScheduledFuture<?> check;

        Settling(String stamp, long since) {
            this.stamp = stamp;
            this.since = since;
        }
    }

    /** Size and modification time: enough to tell a file FileInstall reports again from a changed one. */
    private static String stamp(Path file) throws IOException {
        return Files.size(file) + "@" + Files.getLastModifiedTime(file).toMillis();
    }

    /**
     * Undeploys what came from deploy/ files or folders that are gone. FileInstall reports removed files, but in
     * its recursive mode (model folders) it can miss a removed folder, so the repository checks for itself.
     */
    private void reconcileDeploySources() {
        List<String> gone = new ArrayList<>();
        synchronized (this) {
            for (StoredModel m : models.values()) {
                for (StoredVersion v : m.versions.values()) {
                    String origin = v.metadata.origin;
                    if (origin != null && !gone.contains(v.metadata.source) && !Files.exists(Path.of(origin))) {
                        gone.add(v.metadata.source);
                    }
                }
            }
        }
        for (String source : gone) {
            try {
                // on the deploy thread: an undeploy of a deploy/ source waits for a read in progress, which the
                // promotions on this thread must not
                deployer.execute(() -> {
                    LOG.info(() -> "Undeploying " + source + ": its files left deploy/");
                    undeploySource(source);
                });
            } catch (RejectedExecutionException e) {
                return; // stopping
            }
        }
    }

    @Override
    public ModelVersionDTO deployFrom(String source, String name, String fileName, InputStream model,
            InputStream metadata) throws IOException {
        return deploySource(source, name, fileName, model, metadata, null);
    }

    /** @param origin the deploy/ file or folder the model came from, watched for removal; or null */
    private ModelVersionDTO deploySource(String source, String name, String fileName, InputStream model,
            InputStream metadata, Path origin) throws IOException {
        ModelNames.check(name);
        ModelMetadata meta;
        String sidecarDigest = "";
        if (metadata != null) {
            byte[] json = metadata.readAllBytes();
            meta = readSidecar(name, json);
            MessageDigest d = sha256();
            sidecarDigest = HexFormat.of().formatHex(d.digest(json));
        } else {
            meta = new ModelMetadata();
        }
        meta.source = source;
        meta.sourceDigest = sidecarDigest;
        meta.origin = origin == null ? null : origin.toAbsolutePath().toString();
        return ingest(name, fileName, model, meta, true, true);
    }

    /**
     * Copies a model file into a staging folder, then stores it as the next version. With {@code replaceSource},
     * the same bytes from the same source again are a no-op, and a new version replaces that source's older ones.
     */
    private ModelVersionDTO ingest(String name, String fileName, InputStream model, ModelMetadata meta,
            boolean makeDefault, boolean replaceSource) throws IOException {
        ModelNames.check(name);
        String ext = extension(fileName);
        if (meta.engine == null) {
            meta.engine = engineFor(ext);
        }
        if (meta.engine == null) {
            throw new InvalidInputException("cannot tell the engine of '" + ClientText.quote(fileName)
                    + "': known model file types are "
                    + knownTypes().keySet() + "; or name the engine");
        }
        meta.file = "model." + (ext.isEmpty() ? "bin" : ext);
        Path staging = Files.createTempDirectory(dataDir, ".staging-");
        try {
            copy(model, staging.resolve(meta.file), meta);
            if (meta.size == 0) {
                throw new InvalidInputException("the model file of " + name + " is empty");
            }
            meta.sourceDigest = meta.sha256 + (meta.sourceDigest == null ? "" : meta.sourceDigest);
            Stored stored;
            synchronized (this) {
                if (!active) {
                    throw new IOException("the model repository is stopping; " + name + " is not stored");
                }
                StoredModel existing = models.get(name);
                if (replaceSource && existing != null) {
                    for (StoredVersion v : existing.versions.values()) {
                        if (meta.source.equals(v.metadata.source) && meta.sourceDigest.equals(v.metadata.sourceDigest)) {
                            return v.toDTO(); // the same files again (after a restart, or the folder's other file)
                        }
                    }
                }
                stored = store(name, staging, meta, makeDefault, replaceSource);
            }
            // Outside the lock: modelhosts bind the new version (and may close the ones it replaces) meanwhile.
            publish(stored.version());
            withdraw(stored.removal());
            if (stored.promotion() != null) {
                await(stored.promotion());
            }
            return stored.version().toDTO();
        } finally {
            deleteTree(staging);
        }
    }

    private Path findModelFile(Path folder) throws IOException {
        List<Path> candidates = modelFileCandidates(folder);
        return candidates.size() == 1 ? candidates.get(0) : null;
    }

    /** The files of a model folder that may be its model file: those of a type an engine loads, in name order. */
    private List<Path> modelFileCandidates(Path folder) throws IOException {
        Map<String, String> types = knownTypes();
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(Files::isRegularFile)
                    .filter(f -> types.containsKey(extension(f.getFileName().toString()))).sorted().toList();
        }
    }

    // ---- disk ----------------------------------------------------------------------------------------------

    private void load() throws IOException {
        List<StoredVersion> loaded = new ArrayList<>();
        List<Promotion> resumed = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(dataDir)) {
            for (Path modelDir : dirs.filter(Files::isDirectory).sorted().toList()) {
                String name = modelDir.getFileName().toString();
                if (name.startsWith(DELETED_PREFIX)) {
                    deleteTree(modelDir); // a removed model whose files were not all deleted
                    continue;
                }
                if (!ModelNames.isValid(name)) {
                    continue;
                }
                StoredModel m = new StoredModel(name);
                Path stateFile = modelDir.resolve(MODEL_FILE);
                StoredModelState state = null;
                if (Files.isRegularFile(stateFile)) {
                    state = mapper.readValue(stateFile.toFile(), StoredModelState.class);
                    m.defaultVersion = state.default_version;
                    m.lastVersion = state.last_version;
                }
                try (Stream<Path> versions = Files.list(modelDir)) {
                    for (Path vDir : versions.filter(Files::isDirectory).toList()) {
                        Path vFile = vDir.resolve(VERSION_FILE);
                        String vName = vDir.getFileName().toString();
                        if (!vName.matches("[0-9]{1,9}") || !Files.isRegularFile(vFile)) {
                            continue;
                        }
                        try {
                            int version = Integer.parseInt(vName);
                            m.versions.put(version, new StoredVersion(name, version, vDir,
                                    ModelMetadata.read(mapper, vFile)));
                        } catch (IOException | IllegalArgumentException e) {
                            LOG.warning(() -> "Skipping stored version " + vDir + ": " + e.getMessage());
                        }
                    }
                }
                if (m.versions.isEmpty()) {
                    continue;
                }
                if (!m.versions.containsKey(m.defaultVersion)) {
                    m.defaultVersion = m.versions.lastKey();
                }
                m.lastVersion = Math.max(m.lastVersion, m.versions.lastKey());
                if (state != null && state.pending != null) {
                    // Promotions the last run left waiting: the modelhosts' reports (or the timeout) decide them.
                    state.pending.forEach((version, retired) -> {
                        StoredVersion sv = m.versions.get(version);
                        if (sv != null && version != m.defaultVersion) {
                            List<Integer> still = retired.stream().filter(m.versions::containsKey).toList();
                            m.pending.put(version, still);
                            Promotion p = new Promotion(sv, still);
                            promotions.put(key(name, version), p);
                            resumed.add(p);
                        }
                    });
                }
                models.put(name, m);
                loaded.addAll(m.versions.values());
            }
        }
        republish();
        loaded.forEach(this::publish);
        resumed.forEach(p -> {
            LOG.info(() -> "Model " + p.version + " still waits to become the default");
            await(p);
        });
        LOG.info(() -> "Model repository at " + dataDir + " holds " + models.size() + " model(s)");
    }

    /** Registers a version's {@link ModelArtifact} service, unless it was removed or the repository stopped. */
    private void publish(StoredVersion v) {
        v.publish(props -> active ? context.registerService(ModelArtifact.class, v, props) : null);
    }

    private void saveModelState(StoredModel m) {
        republish(); // every change of a model's versions or default ends here (or in remove, load)
        StoredModelState state = new StoredModelState();
        state.default_version = m.defaultVersion;
        state.last_version = m.lastVersion;
        state.pending = m.pending.isEmpty() ? null : new TreeMap<>(m.pending);
        try {
            Path file = dataDir.resolve(m.name).resolve(MODEL_FILE);
            Path tmp = file.resolveSibling(MODEL_FILE + ".tmp");
            mapper.writeValue(tmp.toFile(), state);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot save the state of model " + m.name, e);
        }
    }

    private void writeMetadata(Path dir, ModelMetadata meta) {
        try {
            Path tmp = dir.resolve(VERSION_FILE + ".tmp");
            mapper.writeValue(tmp.toFile(), meta);
            Files.move(tmp, dir.resolve(VERSION_FILE), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot write the metadata in " + dir, e);
        }
    }

    /** Copies a stream to a file, recording its size and SHA-256 in the metadata. */
    private static void copy(InputStream in, Path target, ModelMetadata meta) throws IOException {
        MessageDigest digest = sha256();
        try (InputStream din = new DigestInputStream(in, digest); OutputStream out = Files.newOutputStream(target)) {
            meta.size = din.transferTo(out);
        }
        meta.sha256 = HexFormat.of().formatHex(digest.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.warning(() -> "Cannot delete " + root + ": " + e.getMessage());
        }
    }

    @Override
    public boolean settled() {
        return startup.settled(knownTypes().keySet(),
                source -> deployedStamps.containsKey(source) || refusedSources.contains(source));
    }

    private Map<String, String> knownTypes() {
        Map<String, String> types = new java.util.HashMap<>(BUILT_IN_TYPES);
        engineTypes.values().forEach(types::putAll);
        return types;
    }

    private String engineFor(String ext) {
        return knownTypes().get(ext);
    }

    /**
     * The type of a file name as a client gives it (an upload's file name may be a path, or anything): what follows
     * the last dot of its last path segment, if that is 1 to 16 letters and digits; else none. It names the stored
     * file, so nothing else may pass.
     */
    static String extension(String fileName) {
        if (fileName == null) {
            return "";
        }
        String last = fileName.substring(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
        int dot = last.lastIndexOf('.');
        String ext = dot < 0 ? "" : last.substring(dot + 1).toLowerCase(Locale.ROOT);
        return ext.matches("[a-z0-9]{1,16}") ? ext : "";
    }

    private static String baseName(String fileName) {
        int dot = fileName.lastIndexOf('.');
        return dot < 0 ? fileName : fileName.substring(0, dot);
    }
}
