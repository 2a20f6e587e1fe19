package io.fractal.repository.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.repository.ModelArtifact;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
 */
@Component(service = {ModelRepository.class, ArtifactInstaller.class}, configurationPid = RepositoryConfiguration.PID)
@Designate(ocd = RepositoryConfiguration.class)
public class ModelRepositoryImpl implements ModelRepository, ArtifactInstaller {

    private static final Logger LOG = Logger.getLogger(ModelRepositoryImpl.class.getName());
    private static final String VERSION_FILE = "version.json";
    private static final String MODEL_FILE = "model.json";
    private static final String DEPLOY_SOURCE = "deploy:";
    /** File types known before any engine registers, so deploy/ files are claimed at start-up. */
    private static final Map<String, String> BUILT_IN_TYPES = Map.of("pt", "PyTorch", "pth", "PyTorch",
            "torchscript", "PyTorch", "onnx", "OnnxRuntime");

    private final BundleContext context;
    private final Path dataDir;
    private final ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private final Map<String, StoredModel> models = new TreeMap<>();
    private final Map<InferenceEngine, Map<String, String>> engineTypes = new ConcurrentHashMap<>();
    /** The size and time of what each deploy/ source was when last deployed. */
    private final Map<String, String> deployedStamps = new ConcurrentHashMap<>();
    private volatile boolean active = true;
    private static final long SWAP_TIMEOUT_NANOS = TimeUnit.MINUTES.toNanos(5);
    private final ScheduledExecutorService background = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fractal-repository");
        t.setDaemon(true);
        return t;
    });

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile LoadBalancer balancer;

    /** A model and its versions; guarded by the repository's lock. */
    private static final class StoredModel {
        final String name;
        final TreeMap<Integer, StoredVersion> versions = new TreeMap<>();
        int defaultVersion;
        int lastVersion;

        StoredModel(String name) {
            this.name = name;
        }
    }

    /** The state of {@code <data>/<name>/model.json}. */
    public static class StoredModelState {
        public int default_version;
        public int last_version;
    }

    @Activate
    public ModelRepositoryImpl(BundleContext context, RepositoryConfiguration config) throws IOException {
        this.context = context;
        String configured = config.data_dir();
        if (configured == null || configured.isBlank()) {
            String home = context.getProperty("fractal.home");
            this.dataDir = Paths.get(home == null ? "." : home, "data", "models").toAbsolutePath().normalize();
        } else {
            this.dataDir = Paths.get(configured).toAbsolutePath().normalize();
        }
        Files.createDirectories(dataDir);
        load();
        background.scheduleWithFixedDelay(this::reconcileDeploySources, 1, 1, TimeUnit.SECONDS);
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
        background.shutdownNow();
        for (StoredModel m : models.values()) {
            m.versions.values().forEach(this::unpublish);
        }
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
    public synchronized ModelVersionDTO resolve(String name, Integer version) {
        return findVersion(name, version).toDTO();
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
            return meta;
        } catch (IOException | IllegalArgumentException e) {
            throw new InvalidInputException("invalid " + ModelMetadata.SIDECAR + " of model " + name + ": "
                    + (e instanceof com.fasterxml.jackson.core.JacksonException j ? j.getOriginalMessage() : e.getMessage()));
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
    public synchronized void setDescription(String name, Integer version, String description) {
        StoredVersion v = findVersion(name, version);
        v.metadata.description = description;
        writeMetadata(v.dir, v.metadata);
    }

    @Override
    public synchronized void delete(String name, Integer version) {
        StoredModel m = find(name);
        if (version == null) {
            new ArrayList<>(m.versions.keySet()).forEach(v -> remove(m, v));
        } else {
            findVersion(name, version);
            remove(m, version);
        }
    }

    private void remove(StoredModel m, int version) {
        StoredVersion v = m.versions.remove(version);
        unpublish(v);
        deleteTree(v.dir);
        LOG.info(() -> "Removed model " + v);
        if (m.versions.isEmpty()) {
            models.remove(m.name);
            deleteTree(dataDir.resolve(m.name));
        } else {
            if (m.defaultVersion == version) {
                m.defaultVersion = m.versions.lastKey();
            }
            saveModelState(m);
        }
    }

    /**
     * Moves a staged version folder into the store as the model's next version and publishes it.
     *
     * @param replaceSource whether older versions from the same source are retired (a replaced deploy file)
     */
    private synchronized StoredVersion store(String name, Path staging, ModelMetadata meta, boolean makeDefault,
            boolean replaceSource) throws IOException {
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
        saveModelState(m);
        publish(sv);
        if (swap) {
            // Traffic stays on the current default until the new version is READY on a modelhost.
            background.execute(() -> promoteWhenReady(sv, retired, System.nanoTime()));
        } else {
            retired.forEach(v -> remove(m, v));
        }
        LOG.info(() -> "Deployed model " + sv + " (" + meta.engine + ", from " + meta.source + ")"
                + (retired.isEmpty() ? "" : ", replacing version(s) " + retired)
                + (swap ? "; it becomes the default once it is ready" : ""));
        return sv;
    }

    /**
     * Makes a new version the default once a modelhost has it READY, then retires the versions it replaces
     * (modelhosts finish the requests running on them). If it fails to load everywhere, the old version keeps
     * serving. Without any modelhost holding it after {@link #SWAP_TIMEOUT_NANOS}, it is promoted anyway.
     */
    private void promoteWhenReady(StoredVersion sv, List<Integer> retired, long started) {
        LoadBalancer b = balancer;
        Map<String, ModelStatusDTO> status = b == null ? Map.of() : b.status(sv.name, sv.version);
        boolean ready = status.values().stream().anyMatch(s -> s.state == ModelState.READY);
        boolean failed = !status.isEmpty() && status.values().stream().allMatch(s -> s.state == ModelState.FAILED);
        boolean timedOut = System.nanoTime() - started > SWAP_TIMEOUT_NANOS;
        if (!ready && !failed && !timedOut && b != null && active) {
            background.schedule(() -> promoteWhenReady(sv, retired, started), 20, TimeUnit.MILLISECONDS);
            return;
        }
        synchronized (this) {
            StoredModel m = models.get(sv.name);
            if (m == null || m.versions.get(sv.version) != sv || !active) {
                return; // removed meanwhile
            }
            if (failed) {
                LOG.warning(() -> "Model " + sv + " failed to load on every modelhost; version " + m.defaultVersion
                        + " keeps serving");
                return;
            }
            m.defaultVersion = sv.version;
            saveModelState(m);
            retired.stream().filter(m.versions::containsKey).forEach(v -> remove(m, v));
            LOG.info(() -> "Model " + sv.name + " now serves version " + sv.version
                    + (retired.isEmpty() ? "" : "; retired " + retired));
        }
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
        deployArtifact(artifact.toPath());
    }

    @Override
    public void update(File artifact) throws Exception {
        deployArtifact(artifact.toPath());
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
    public synchronized int undeploySource(String source) {
        if (!active) {
            return 0;
        }
        deployedStamps.remove(source);
        int removed = 0;
        for (StoredModel m : new ArrayList<>(models.values())) {
            List<Integer> versions = m.versions.values().stream().filter(v -> source.equals(v.metadata.source))
                    .map(v -> v.version).toList();
            versions.forEach(v -> remove(m, v));
            removed += versions.size();
        }
        return removed;
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

    private void deployArtifact(Path file) throws IOException {
        Path folder = modelFolder(file);
        String source = source(file);
        try {
            if (folder == null) {
                String stamp = stamp(file);
                if (stamp.equals(deployedStamps.get(source))) {
                    return; // reported again, unchanged: no need to read it
                }
                try (InputStream model = Files.newInputStream(file)) {
                    deploySource(source, baseName(file.getFileName().toString()), file.getFileName().toString(), model,
                            null, file);
                }
                deployedStamps.put(source, stamp);
                return;
            }
            Path sidecar = folder.resolve(ModelMetadata.SIDECAR);
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
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Cannot deploy " + file + ": " + e.getMessage());
            throw e;
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
            LOG.info(() -> "Undeploying " + source + ": its files left deploy/");
            undeploySource(source);
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
            throw new InvalidInputException("cannot tell the engine of '" + fileName + "': known model file types are "
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
            synchronized (this) {
                StoredModel existing = models.get(name);
                if (replaceSource && existing != null) {
                    for (StoredVersion v : existing.versions.values()) {
                        if (meta.source.equals(v.metadata.source) && meta.sourceDigest.equals(v.metadata.sourceDigest)) {
                            return v.toDTO(); // the same files again (after a restart, or the folder's other file)
                        }
                    }
                }
                return store(name, staging, meta, makeDefault, replaceSource).toDTO();
            }
        } finally {
            deleteTree(staging);
        }
    }

    private Path findModelFile(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            List<Path> candidates = files.filter(Files::isRegularFile)
                    .filter(f -> knownTypes().containsKey(extension(f.getFileName().toString()))).toList();
            return candidates.size() == 1 ? candidates.get(0) : null;
        }
    }

    // ---- disk ----------------------------------------------------------------------------------------------

    private void load() throws IOException {
        try (Stream<Path> dirs = Files.list(dataDir)) {
            for (Path modelDir : dirs.filter(Files::isDirectory).sorted().toList()) {
                String name = modelDir.getFileName().toString();
                if (!ModelNames.isValid(name)) {
                    continue;
                }
                StoredModel m = new StoredModel(name);
                Path stateFile = modelDir.resolve(MODEL_FILE);
                if (Files.isRegularFile(stateFile)) {
                    StoredModelState state = mapper.readValue(stateFile.toFile(), StoredModelState.class);
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
                models.put(name, m);
                m.versions.values().forEach(this::publish);
            }
        }
        LOG.info(() -> "Model repository at " + dataDir + " holds " + models.size() + " model(s)");
    }

    private void publish(StoredVersion v) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(ModelArtifact.MODEL_NAME, v.name);
        props.put(ModelArtifact.MODEL_VERSION, v.version);
        props.put(ModelArtifact.ENGINE, v.metadata.engine);
        v.registration = context.registerService(ModelArtifact.class, v, props);
    }

    private void unpublish(StoredVersion v) {
        ServiceRegistrationCloser.close(v.registration);
        v.registration = null;
    }

    private void saveModelState(StoredModel m) {
        StoredModelState state = new StoredModelState();
        state.default_version = m.defaultVersion;
        state.last_version = m.lastVersion;
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

    private Map<String, String> knownTypes() {
        Map<String, String> types = new java.util.HashMap<>(BUILT_IN_TYPES);
        engineTypes.values().forEach(types::putAll);
        return types;
    }

    private String engineFor(String ext) {
        return knownTypes().get(ext);
    }

    private static String extension(String fileName) {
        int dot = fileName == null ? -1 : fileName.lastIndexOf('.');
        return dot < 0 ? "" : fileName.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private static String baseName(String fileName) {
        int dot = fileName.lastIndexOf('.');
        return dot < 0 ? fileName : fileName.substring(0, dot);
    }
}
