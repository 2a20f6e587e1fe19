package io.fractal.repository.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.fractal.api.engine.InferenceEngine;
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
    private boolean active = true;

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
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
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
    public ModelVersionDTO deploy(String name, String fileName, InputStream data, String engine, String description,
            boolean makeDefault) throws IOException {
        ModelNames.check(name);
        String ext = extension(fileName);
        String engineName = engine != null && !engine.isBlank() ? engine : engineFor(ext);
        if (engineName == null) {
            throw new InvalidInputException("cannot tell the engine of '" + fileName + "': known model file types are "
                    + knownTypes().keySet() + "; or name the engine");
        }
        Path staging = Files.createTempDirectory(dataDir, ".upload-");
        try {
            ModelMetadata meta = new ModelMetadata();
            meta.engine = engineName;
            meta.file = "model." + (ext.isEmpty() ? "bin" : ext);
            meta.description = description;
            meta.source = "upload";
            copy(data, staging.resolve(meta.file), meta);
            if (meta.size == 0) {
                throw new InvalidInputException("the model file is empty");
            }
            return store(name, staging, meta, makeDefault, false).toDTO();
        } finally {
            deleteTree(staging);
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
        if (makeDefault || m.defaultVersion == 0 || retired.contains(m.defaultVersion)) {
            m.defaultVersion = version;
        }
        saveModelState(m);
        publish(sv);
        retired.forEach(v -> remove(m, v));
        LOG.info(() -> "Deployed model " + sv + " (" + meta.engine + ", from " + meta.source + ")"
                + (retired.isEmpty() ? "" : ", replacing version(s) " + retired));
        return sv;
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
    public synchronized void uninstall(File artifact) {
        if (!active) {
            return;
        }
        Path path = artifact.toPath();
        Path folder = modelFolder(path);
        if (folder != null && artifact.getName().equals(ModelMetadata.SIDECAR) && Files.exists(folder)) {
            return; // the folder's model file still stands for it
        }
        String source = source(path);
        for (StoredModel m : new ArrayList<>(models.values())) {
            m.versions.values().stream().filter(v -> source.equals(v.metadata.source)).map(v -> v.version).toList()
                    .forEach(v -> remove(m, v));
        }
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
        String name;
        ModelMetadata meta;
        Path modelFile;
        String sidecarDigest = "";
        if (folder != null) {
            name = folder.getFileName().toString();
            Path sidecar = folder.resolve(ModelMetadata.SIDECAR);
            meta = ModelMetadata.read(mapper, sidecar);
            sidecarDigest = digest(sidecar);
            modelFile = meta.file != null ? folder.resolve(meta.file).normalize() : findModelFile(folder);
            if (modelFile == null || !modelFile.startsWith(folder) || !Files.isRegularFile(modelFile)) {
                throw new IOException("model folder " + folder + " has no model file"
                        + (meta.file == null ? "" : " '" + meta.file + "'"));
            }
            meta.signature(); // fails early on an unknown datatype
        } else {
            name = baseName(file.getFileName().toString());
            meta = new ModelMetadata();
            modelFile = file;
        }
        String ext = extension(modelFile.getFileName().toString());
        if (meta.engine == null) {
            meta.engine = engineFor(ext);
        }
        if (meta.engine == null) {
            throw new IOException("cannot tell the engine of " + modelFile + "; name it in " + ModelMetadata.SIDECAR);
        }
        meta.source = source;
        meta.file = "model." + ext;
        Path staging = Files.createTempDirectory(dataDir, ".deploy-");
        try {
            try (InputStream in = Files.newInputStream(modelFile)) {
                copy(in, staging.resolve(meta.file), meta);
            }
            meta.sourceDigest = meta.sha256 + sidecarDigest;
            synchronized (this) {
                StoredModel existing = models.get(name);
                if (existing != null) {
                    for (StoredVersion v : existing.versions.values()) {
                        if (source.equals(v.metadata.source) && meta.sourceDigest.equals(v.metadata.sourceDigest)) {
                            return; // the same files again (FileInstall after a restart, or the folder's other file)
                        }
                    }
                }
                store(name, staging, meta, true, true);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Cannot deploy " + file + ": " + e.getMessage());
            throw e;
        } finally {
            deleteTree(staging);
        }
    }

    private static String digest(Path file) throws IOException {
        MessageDigest digest = sha256();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(digest.digest());
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
