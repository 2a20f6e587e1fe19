package io.fractal.engine.pytorch.internal;

import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.TensorSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * What a TorchScript file declares about its {@code forward} method: the names of its tensor arguments and
 * how many tensors it returns. TorchScript keeps neither datatypes nor shapes, and DJL does not expose the
 * method schema, so this reads the archive itself: {@code data.pkl} names the top-level class (the pickle's
 * first GLOBAL), and the class's source under {@code code/} declares {@code def forward(self, x: Tensor, ...)
 * -> Tensor}. Anything other than plain tensors in and a tensor or a tuple of tensors out is left unknown.
 */
final class TorchScriptSignatures {

    /** Larger code files than this are not read (a generated module can be big; the schema is at its top). */
    private static final long MAX_CODE_BYTES = 8L << 20;
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern TUPLE = Pattern.compile("Tuple\\[(.*)]");

    private TorchScriptSignatures() {
    }

    /** The declared forward signature, or {@link ModelSignature#UNKNOWN} when the archive does not say it plainly. */
    static ModelSignature read(Path file) {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pickle = null;
            for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements();) {
                ZipEntry entry = e.nextElement();
                String n = entry.getName();
                if (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length()) {
                    pickle = entry;
                    break;
                }
            }
            if (pickle == null) {
                return ModelSignature.UNKNOWN;
            }
            String root = pickle.getName().substring(0, pickle.getName().length() - "data.pkl".length());
            String[] global = topLevelClass(read(zip, pickle, 4096));
            if (global == null) {
                return ModelSignature.UNKNOWN;
            }
            ZipEntry code = zip.getEntry(root + "code/" + global[0].replace('.', '/') + ".py");
            if (code == null || code.getSize() > MAX_CODE_BYTES) {
                return ModelSignature.UNKNOWN;
            }
            String source = new String(read(zip, code, (int) MAX_CODE_BYTES), StandardCharsets.UTF_8);
            return fromSource(source, global[1]);
        } catch (IOException | RuntimeException e) {
            return ModelSignature.UNKNOWN;
        }
    }

    /**
     * The module and class of the pickle's first GLOBAL opcode ({@code c module\nname\n}), which for a TorchScript
     * archive is the top-level module's class; null if the pickle does not start that way.
     */
    static String[] topLevelClass(byte[] pickle) {
        int i = 0;
        if (pickle.length > 2 && (pickle[0] & 0xff) == 0x80) {
            i = 2; // PROTO n
        }
        if (i >= pickle.length || pickle[i] != 'c') {
            return null;
        }
        int moduleEnd = indexOf(pickle, (byte) '\n', i + 1);
        int nameEnd = moduleEnd < 0 ? -1 : indexOf(pickle, (byte) '\n', moduleEnd + 1);
        if (nameEnd < 0) {
            return null;
        }
        String module = new String(pickle, i + 1, moduleEnd - i - 1, StandardCharsets.UTF_8);
        String name = new String(pickle, moduleEnd + 1, nameEnd - moduleEnd - 1, StandardCharsets.UTF_8);
        if (!module.startsWith("__torch__") || !NAME.matcher(name).matches()) {
            return null;
        }
        return new String[] {module, name};
    }

    /** The forward signature of class {@code className} in a TorchScript code file. */
    static ModelSignature fromSource(String source, String className) {
        int classStart = source.indexOf("class " + className + "(");
        if (classStart < 0) {
            return ModelSignature.UNKNOWN;
        }
        int classEnd = source.indexOf("\nclass ", classStart + 1);
        String body = source.substring(classStart, classEnd < 0 ? source.length() : classEnd);
        int def = body.indexOf("def forward(");
        if (def < 0) {
            return ModelSignature.UNKNOWN;
        }
        int open = def + "def forward(".length();
        int close = matching(body, open - 1);
        if (close < 0) {
            return ModelSignature.UNKNOWN;
        }
        List<String> params = splitTopLevel(body.substring(open, close));
        int arrow = body.indexOf("->", close);
        int colon = arrow < 0 ? -1 : body.indexOf(":\n", arrow);
        List<TensorSpec> inputs = new ArrayList<>();
        for (int i = 1; i < params.size(); i++) { // params[0] is self
            String p = params.get(i).strip();
            int c = p.indexOf(':');
            if (c < 0) {
                return ModelSignature.UNKNOWN;
            }
            String name = p.substring(0, c).strip();
            String type = p.substring(c + 1).strip();
            int eq = type.indexOf('=');
            if (eq >= 0) {
                type = type.substring(0, eq).strip(); // a default value: still a tensor argument
            }
            if (!NAME.matcher(name).matches() || !(type.equals("Tensor") || type.equals("Optional[Tensor]"))) {
                return ModelSignature.UNKNOWN; // lists, dicts, scalars: the request must say what it sends
            }
            inputs.add(new TensorSpec(name, null, null));
        }
        List<TensorSpec> outputs = new ArrayList<>();
        if (colon > arrow) {
            String ret = body.substring(arrow + 2, colon).strip();
            int count = 0;
            if (ret.equals("Tensor")) {
                count = 1;
            } else {
                Matcher m = TUPLE.matcher(ret);
                if (m.matches()) {
                    List<String> parts = splitTopLevel(m.group(1));
                    if (parts.stream().allMatch(s -> s.strip().equals("Tensor"))) {
                        count = parts.size();
                    }
                }
            }
            for (int i = 0; i < count; i++) {
                outputs.add(new TensorSpec("output" + i, null, null));
            }
        }
        return new ModelSignature(inputs, outputs, List.of());
    }

    private static int matching(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '(' || ch == '[') {
                depth++;
            } else if (ch == ')' || ch == ']') {
                depth--;
                if (depth == 0) {
                    return i;
                }
            }
        }
        return -1;
    }

    private static List<String> splitTopLevel(String s) {
        List<String> out = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '(' || ch == '[') {
                depth++;
            } else if (ch == ')' || ch == ']') {
                depth--;
            } else if (ch == ',' && depth == 0) {
                out.add(s.substring(start, i));
                start = i + 1;
            }
        }
        if (!s.substring(start).isBlank()) {
            out.add(s.substring(start));
        }
        return out;
    }

    private static int indexOf(byte[] b, byte value, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == value) {
                return i;
            }
        }
        return -1;
    }

    private static byte[] read(ZipFile zip, ZipEntry entry, int max) throws IOException {
        try (InputStream in = zip.getInputStream(entry)) {
            return in.readNBytes(max);
        }
    }
}
