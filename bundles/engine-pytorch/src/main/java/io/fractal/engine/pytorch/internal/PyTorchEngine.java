package io.fractal.engine.pytorch.internal;

import io.fractal.api.engine.InferenceEngine;
import io.fractal.engine.djl.DjlEngine;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Serves TorchScript files ({@code .pt}, {@code .pth}, {@code .torchscript}) through DJL's PyTorch engine.
 * TorchScript carries no signature: it comes from the model's metadata or, without any, from the request.
 */
@Component(service = InferenceEngine.class, property = InferenceEngine.NAME + "=" + PyTorchEngine.NAME)
public class PyTorchEngine extends DjlEngine {

    static final String NAME = "PyTorch";

    public PyTorchEngine() {
        super(NAME, "pytorch_torchscript", Set.of("pt", "pth", "torchscript"));
    }

    @Deactivate
    void deactivate() {
        close();
    }
}
