package io.fractal.engine.pytorch.internal;

import ai.djl.Model;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.inference.ModelSignature;
import io.fractal.engine.djl.DjlEngine;
import java.nio.file.Path;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Serves TorchScript files ({@code .pt}, {@code .pth}, {@code .torchscript}) through DJL's PyTorch engine.
 * TorchScript keeps the names of {@code forward}'s arguments and how many tensors it returns, but no datatypes
 * or shapes: those come from the model's metadata or, without any, from the first successful call.
 */
@Component(service = InferenceEngine.class, property = InferenceEngine.NAME + "=" + PyTorchEngine.NAME)
public class PyTorchEngine extends DjlEngine {

    static final String NAME = "PyTorch";

    public PyTorchEngine() {
        // DJL's PyTorch JNI maps these and aborts the JVM on any other (INT16, BF16, unsigned wider than 8 bits).
        super(NAME, "pytorch_torchscript", Set.of("pt", "pth", "torchscript"), COMMON_TYPES);
    }

    @Override
    protected ModelSignature readSignature(Model model, Path file) {
        return TorchScriptSignatures.read(file);
    }

    @Deactivate
    void deactivate() {
        close();
    }
}
