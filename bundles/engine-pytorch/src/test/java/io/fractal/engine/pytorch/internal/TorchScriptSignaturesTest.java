package io.fractal.engine.pytorch.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading forward's schema out of TorchScript archives and code. */
class TorchScriptSignaturesTest {

    private static final Path DEPLOY = Path.of(System.getProperty("fractal.deploy", "../../deploy"));
    private static final Path RESOURCES = Path.of(System.getProperty("fractal.test.resources",
            "../../it-tests/src/test/resources"));

    @Test
    void readsTheArgumentNamesAndTheTupleOfOutputs() {
        ModelSignature s = TorchScriptSignatures.read(RESOURCES.resolve("models/dtypes.pt"));
        assertEquals(List.of("h", "s", "u", "b"), s.inputs().stream().map(TensorSpec::name).toList());
        assertEquals(List.of("output0", "output1", "output2", "output3"),
                s.outputs().stream().map(TensorSpec::name).toList());
        assertNull(s.inputs().get(0).datatype());
        assertNull(s.inputs().get(0).shape());
    }

    @Test
    void readsTheTopLevelModuleNotItsSubmodules() {
        ModelSignature s = TorchScriptSignatures.read(DEPLOY.resolve("digits/model.pt"));
        assertEquals(List.of(new TensorSpec("x", null, null)), s.inputs()); // the Conv2d inside takes "input"
        assertEquals(1, s.outputs().size());
    }

    @Test
    void anythingButPlainTensorsIsLeftUnknown() {
        String code = """
                class M(Module):
                  training : bool
                  def forward(self: __torch__.M,
                    xs: List[Tensor],
                    k: int) -> Dict[str, Tensor]:
                    return {}
                """;
        assertEquals(ModelSignature.UNKNOWN, TorchScriptSignatures.fromSource(code, "M"));
        String dict = """
                class M(Module):
                  def forward(self: __torch__.M,
                    x: Tensor) -> Dict[str, Tensor]:
                    return {}
                """;
        ModelSignature s = TorchScriptSignatures.fromSource(dict, "M");
        assertEquals(1, s.inputs().size());
        assertEquals(List.of(), s.outputs());
    }

    @Test
    void findsTheClassAmongOthersInOneFile() {
        String code = """
                class Helper(Module):
                  def forward(self: __torch__.Helper,
                    a: Tensor) -> Tensor:
                    return a
                class Top(Module):
                  def forward(self: __torch__.Top,
                    features: Tensor,
                    mask: Optional[Tensor]=None) -> Tuple[Tensor, Tensor]:
                    return (features, features)
                """;
        ModelSignature s = TorchScriptSignatures.fromSource(code, "Top");
        assertEquals(List.of("features", "mask"), s.inputs().stream().map(TensorSpec::name).toList());
        assertEquals(2, s.outputs().size());
    }

    @Test
    void theFirstGlobalOfThePickleNamesTheClass() {
        byte[] pickle = "\u0080\u0002c__torch__.models\nNet\nq\u0000".getBytes(StandardCharsets.ISO_8859_1);
        assertArrayEquals(new String[] {"__torch__.models", "Net"}, TorchScriptSignatures.topLevelClass(pickle));
        assertNull(TorchScriptSignatures.topLevelClass("\u0080\u0002cos\nsystem\n".getBytes(StandardCharsets.ISO_8859_1)));
    }

    @Test
    void aFileThatIsNotAnArchiveHasNoSignature(@TempDir Path dir) throws IOException {
        Path junk = Files.write(dir.resolve("junk.pt"), new byte[] {1, 2, 3});
        assertEquals(ModelSignature.UNKNOWN, TorchScriptSignatures.read(junk));
        assertEquals(ModelSignature.UNKNOWN, TorchScriptSignatures.read(RESOURCES.resolve("models/corrupt.pt")));
    }
}
