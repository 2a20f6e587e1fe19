package io.fractal.engine.onnx.internal;

import ai.djl.Model;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.OrtSession.SessionOptions.ExecutionMode;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.ModelSignature;
import io.fractal.engine.djl.DjlEngine;
import java.nio.file.Path;
import java.util.List;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Serves ONNX files ({@code .onnx}) through DJL's ONNX Runtime engine. The signature (names, datatypes, shapes)
 * comes from the file through ONNX Runtime's own API. scikit-learn classifiers converted by skl2onnx answer
 * their probabilities as a ZipMap (one {label: probability} map per row); DJL would turn those into columns in
 * the hash order of the labels, so such models run through a {@link ZipMapBlock}, which keeps class order.
 *
 * <p>Each session computes on the calling thread only (one intra-op and one inter-op thread, no spinning):
 * the server scales with one predictor per modelhost worker, and ONNX Runtime's own pools only compete with
 * them.
 */
@Component(service = InferenceEngine.class, property = InferenceEngine.NAME + "=" + OnnxRuntimeEngine.NAME)
public class OnnxRuntimeEngine extends DjlEngine {

    /** What DJL hands ONNX Runtime: the common types, bfloat16 and strings (ONNX Runtime's Java API has no UINT16-64). */
    static final Set<DataType> INPUT_TYPES = Set.copyOf(EnumSet.of(DataType.FP32, DataType.FP64, DataType.FP16,
            DataType.BF16, DataType.UINT8, DataType.INT8, DataType.INT32, DataType.INT64, DataType.BOOL,
            DataType.BYTES));

    static final String NAME = "OnnxRuntime";

    /** Shared by all sessions of this engine (ONNX Runtime copies them into each session it creates). */
    private final SessionOptions sessionOptions;
    private boolean closed;

    public OnnxRuntimeEngine() {
        super(NAME, "onnxruntime_onnx", Set.of("onnx"), INPUT_TYPES);
        sessionOptions = singleThreadedOptions();
    }

    private static SessionOptions singleThreadedOptions() {
        SessionOptions options = new SessionOptions();
        try {
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(ExecutionMode.SEQUENTIAL);
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            return options;
        } catch (OrtException e) {
            options.close();
            throw new IllegalStateException("ONNX Runtime refused the session options: " + e.getMessage(), e);
        }
    }

    /** DJL's OrtModel takes a ready {@link SessionOptions} under the key {@code sessionOptions}. */
    @Override
    protected Map<String, ?> loadOptions() {
        return Map.of("sessionOptions", sessionOptions);
    }

    /**
     * Reads the signature with ONNX Runtime's API (DJL's {@code describeInput} has names only and its
     * {@code describeOutput} throws). A model with a ZipMap output also gets its {@link ZipMapBlock} here, the one
     * moment the engine holds the loaded DJL model: the session opened for reading then serves the model.
     */
    @Override
    protected ModelSignature readSignature(Model model, Path file) throws Exception {
        OrtSession session = OrtEnvironment.getEnvironment().createSession(file.toString(), sessionOptions);
        try {
            Map<String, List<?>> classes = Map.of();
            boolean zipMap = OnnxSignatures.hasSequenceOfMaps(session);
            if (zipMap) {
                classes = ZipMapClasses.read(file);
            }
            ModelSignature signature = OnnxSignatures.read(session, classes);
            if (zipMap) {
                OrtSession serving = session;
                session = null; // the block owns it from here: closing the model closes it
                ZipMapBlock.install(model, serving, classes);
            }
            return signature;
        } finally {
            if (session != null) {
                session.close();
            }
        }
    }

    @Deactivate
    void deactivate() {
        close();
    }

    /** Closes the models, then the session options. */
    @Override
    public synchronized void close() {
        super.close();
        if (!closed) {
            closed = true;
            sessionOptions.close();
        }
    }
}
