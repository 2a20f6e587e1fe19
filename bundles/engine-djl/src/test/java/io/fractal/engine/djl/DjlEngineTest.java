package io.fractal.engine.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an engine's failure tells a client: the error, not a traceback, a C++ stack or the server's folders. */
class DjlEngineTest {

    @Test
    void aTorchScriptErrorIsItsLastLine() {
        String message = "The following operation failed in the TorchScript interpreter.\n"
                + "Traceback of TorchScript, serialized code (most recent call last):\n"
                + "  File \"code/__torch__.py\", line 16, in forward\n"
                + "    input = torch.div(torch.sub(x, mean), std)\n"
                + "                      ~~~~~~~~~ <--- HERE\n"
                + "\nTraceback of TorchScript, original code (most recent call last):\n"
                + "/home/someone/scripts/train.py(34): forward\n"
                + "RuntimeError: The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                + "dimension 1\n";
        assertEquals("The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1",
                DjlEngine.rootMessage(new RuntimeException("wrapped", new IllegalStateException(message))));
    }

    @Test
    void aCppStackIsCut() {
        assertEquals("shape '[2]' is invalid for input of size 4", DjlEngine.rootMessage(new RuntimeException(
                "shape '[2]' is invalid for input of size 4\nException raised from infer_size_impl at "
                        + "/pytorch/aten/src/ATen/InferSize.h:4 (most recent call first):\nframe #0: ...")));
    }

    @Test
    void noMessageNamesNoClass() {
        assertEquals("the engine gave no reason", DjlEngine.rootMessage(new NullPointerException()));
    }

    @Test
    void theModelsFolderIsNotShown(@TempDir Path dir) {
        Path file = dir.resolve("m/1/model.onnx");
        String ort = "Error code - ORT_INVALID_PROTOBUF - message: Load model from " + file.toAbsolutePath()
                + " failed:Protobuf parsing failed.";
        assertEquals("Error code - ORT_INVALID_PROTOBUF - message: Load model from model.onnx failed:Protobuf "
                + "parsing failed.", DjlEngine.withoutFolder(ort, file));
        assertEquals("cannot read the model's folder", DjlEngine.withoutFolder("cannot read "
                + file.toAbsolutePath().getParent(), file));
    }
}
