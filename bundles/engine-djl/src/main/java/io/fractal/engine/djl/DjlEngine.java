package io.fractal.engine.djl;

import ai.djl.Model;
import ai.djl.engine.Engine;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.engine.LoadedModel;
import io.fractal.api.engine.ModelLoadException;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import io.fractal.api.repository.ModelArtifact;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * An {@link InferenceEngine} on one DJL engine. Subclasses are the DS components of the engine bundles; they
 * name the DJL engine and may read the signature from the model file. The DJL library layer (its engines and
 * native libraries) lives for the whole JVM; a subclass only adapts it, so its bundle can be stopped, updated
 * and started while the server runs: {@link #close()} closes what it loaded.
 */
@ConsumerType
public abstract class DjlEngine implements InferenceEngine, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(DjlEngine.class.getName());

    /** The input types every DJL engine maps to its own: FP32, FP64, FP16, UINT8, INT8, INT32, INT64, BOOL. */
    public static final Set<DataType> COMMON_TYPES = Set.copyOf(EnumSet.of(DataType.FP32, DataType.FP64,
            DataType.FP16, DataType.UINT8, DataType.INT8, DataType.INT32, DataType.INT64, DataType.BOOL));

    private final String djlEngineName;
    private final String platform;
    private final Set<String> extensions;
    private final Set<DataType> inputTypes;
    private final Set<DjlLoadedModel> open = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicInteger sequence = new AtomicInteger();

    /**
     * Starts the DJL engine (the first time in the JVM this loads its native libraries: seconds).
     *
     * @throws IllegalStateException if DJL does not have the engine
     */
    protected DjlEngine(String djlEngineName, String platform, Set<String> extensions) {
        this(djlEngineName, platform, extensions, COMMON_TYPES);
    }

    /**
     * Starts the DJL engine, which takes input tensors of {@code inputTypes} only: others are refused as bad input
     * before they reach DJL (whose PyTorch JNI aborts the JVM on a type it does not map, INT16 or BF16 among them).
     *
     * @throws IllegalStateException if DJL does not have the engine
     * @since 1.1
     */
    protected DjlEngine(String djlEngineName, String platform, Set<String> extensions, Set<DataType> inputTypes) {
        this.djlEngineName = djlEngineName;
        this.platform = platform;
        this.extensions = Set.copyOf(extensions);
        this.inputTypes = Set.copyOf(inputTypes);
        try {
            Engine engine = DjlClassLoading.call(() -> Engine.getEngine(djlEngineName));
            LOG.info(() -> "DJL engine " + djlEngineName + " " + engine.getVersion() + " ready. Its native library "
                    + "is loaded once per JVM: upgrading DJL or the engine's natives needs a restart.");
        } catch (Exception e) {
            throw new IllegalStateException("DJL engine " + djlEngineName + " is not available: " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return djlEngineName;
    }

    @Override
    public String platform() {
        return platform;
    }

    @Override
    public Set<String> fileExtensions() {
        return extensions;
    }

    @Override
    public LoadedModel load(ModelArtifact artifact, int workers) throws ModelLoadException {
        Path file = artifact.file();
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("model file " + file + " does not exist");
        }
        Model model = null;
        try {
            String modelName = artifact.name() + "-v" + artifact.version() + "-" + sequence.incrementAndGet();
            Map<String, ?> options = loadOptions();
            Model created = DjlClassLoading.call(() -> {
                Model m = Model.newInstance(modelName, djlEngineName);
                try {
                    m.load(file.getParent(), file.getFileName().toString(), options);
                    return m;
                } catch (Exception | Error e) {
                    m.close();
                    throw e;
                }
            });
            model = created;
            ModelSignature signature = merge(artifact.signature(), readSignature(model, file));
            DjlLoadedModel loaded = new DjlLoadedModel(artifact.name(), model, signature, open::remove,
                    new TensorTranslator(signature.outputs().stream().map(TensorSpec::name).toList(), inputTypes,
                            djlEngineName));
            open.add(loaded);
            return loaded;
        } catch (ModelLoadException e) {
            throw e;
        } catch (Exception | LinkageError e) {
            if (model != null) {
                model.close();
            }
            throw new ModelLoadException(djlEngineName + " cannot load " + file.getFileName() + ": "
                    + withoutFolder(rootMessage(e), file), e);
        }
    }

    /** The declared signature completed by what the engine read, saying where it came from. */
    static ModelSignature merge(ModelSignature declared, ModelSignature read) {
        boolean fromMetadata = declared.hasInputs() || !declared.outputs().isEmpty() || !declared.labels().isEmpty();
        boolean fromFile = (!declared.hasInputs() && read.hasInputs())
                || (declared.outputs().isEmpty() && !read.outputs().isEmpty())
                || (declared.labels().isEmpty() && !read.labels().isEmpty());
        String origin = fromMetadata && fromFile ? ModelSignature.METADATA + " + " + ModelSignature.MODEL_FILE
                : fromMetadata ? ModelSignature.METADATA : fromFile ? ModelSignature.MODEL_FILE : null;
        return declared.orElse(read).withOrigin(origin);
    }

    /**
     * The options DJL's {@code Model.load} passes to the engine (for ONNX Runtime: its session options); the
     * default, {@code null}, keeps the engine's defaults. Called once per load.
     */
    protected Map<String, ?> loadOptions() {
        return null;
    }

    /**
     * The signature stored in the model file, where the format keeps one; {@link ModelSignature#UNKNOWN} if not.
     * Called once per load, after DJL loaded the model.
     */
    protected ModelSignature readSignature(Model model, Path file) throws Exception {
        return ModelSignature.UNKNOWN;
    }

    /** Closes every model this engine still holds; the engine bundle's component calls it on deactivation. */
    @Override
    public void close() {
        for (DjlLoadedModel model : open.toArray(new DjlLoadedModel[0])) {
            model.close();
        }
    }

    /**
     * What an engine's failure says, for a client: the innermost message, without a C++ stack trace, and for a
     * TorchScript error only its last line (the error itself; the lines before are a traceback of the model's code,
     * with file names of the machine it was trained on).
     */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            return "the engine gave no reason";
        }
        if (m.contains("Traceback of TorchScript")) {
            String last = "";
            for (String line : m.split("\n")) {
                if (!line.isBlank()) {
                    last = line.strip();
                }
            }
            // "RuntimeError: The size of tensor a (3) must match ..."
            m = last.replaceFirst("^[A-Za-z_.]*(Error|Exception): *", "");
        }
        // TorchScript errors carry a C++ stack trace after the first lines: keep the message only.
        int cut = m.indexOf("\nException raised from");
        if (cut < 0) {
            cut = m.indexOf("\nFrame");
        }
        m = cut > 0 ? m.substring(0, cut) : m;
        return m.length() > 500 ? m.substring(0, 500) + "..." : m.strip();
    }

    /**
     * A message without the folder the model file is stored in (ONNX Runtime says "Load model from
     * /srv/fractal/data/models/m/1/model.onnx failed"): the file's name is what a client knows.
     */
    static String withoutFolder(String message, Path file) {
        String out = message;
        Path folder = file.toAbsolutePath().getParent();
        List<String> folders = new ArrayList<>(List.of(folder.toString()));
        try {
            folders.add(folder.toRealPath().toString());
        } catch (IOException | RuntimeException e) {
            // gone already
        }
        for (String f : folders) {
            out = out.replace(f + File.separator, "").replace(f, "the model's folder");
        }
        return out;
    }
}
