package io.fractal.engine.onnx.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The class labels of the ZipMap nodes in an ONNX file, which ONNX Runtime's API does not report: by ZipMap output
 * name, the labels ({@code String}) or class numbers ({@code Long}) in the node's order. That order is the order
 * of the classifier's probability columns; skl2onnx writes scikit-learn's {@code classes_} there, sorted.
 *
 * <p>Reads just enough of the protobuf wire format: ModelProto.graph (7), GraphProto.node (1), NodeProto.output
 * (2), op_type (4), attribute (5), domain (7), AttributeProto.name (1), ints (8), strings (9).
 */
final class ZipMapClasses {

    private ZipMapClasses() {
    }

    /** The ZipMap classes of the model file; empty when it has none or cannot be read. */
    static Map<String, List<?>> read(Path file) throws IOException {
        return parse(Files.readAllBytes(file));
    }

    static Map<String, List<?>> parse(byte[] model) {
        Map<String, List<?>> classes = new HashMap<>();
        try {
            Wire m = new Wire(model, 0, model.length);
            while (m.more()) {
                int tag = (int) m.varint();
                if (tag >>> 3 == 7 && (tag & 7) == 2) {
                    graph(m.message(), classes);
                } else {
                    m.skip(tag & 7);
                }
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            return Map.of(); // not a model we can read: the engine then orders the classes by their keys
        }
        return classes;
    }

    private static void graph(Wire g, Map<String, List<?>> classes) {
        while (g.more()) {
            int tag = (int) g.varint();
            if (tag >>> 3 == 1 && (tag & 7) == 2) {
                node(g.message(), classes);
            } else {
                g.skip(tag & 7);
            }
        }
    }

    private static void node(Wire n, Map<String, List<?>> classes) {
        List<String> outputs = new ArrayList<>();
        String opType = "";
        String domain = "";
        List<?> labels = null;
        while (n.more()) {
            int tag = (int) n.varint();
            switch (tag) {
                case 2 << 3 | 2 -> outputs.add(n.string());
                case 4 << 3 | 2 -> opType = n.string();
                case 7 << 3 | 2 -> domain = n.string();
                case 5 << 3 | 2 -> {
                    List<?> found = classLabels(n.message());
                    labels = found != null ? found : labels;
                }
                default -> n.skip(tag & 7);
            }
        }
        if ("ZipMap".equals(opType) && "ai.onnx.ml".equals(domain) && labels != null && outputs.size() == 1) {
            classes.put(outputs.get(0), List.copyOf(labels));
        }
    }

    /** The value of a {@code classlabels_strings} or {@code classlabels_int64s} attribute, else {@code null}. */
    private static List<?> classLabels(Wire a) {
        String name = "";
        List<String> strings = new ArrayList<>();
        List<Long> ints = new ArrayList<>();
        while (a.more()) {
            int tag = (int) a.varint();
            switch (tag) {
                case 1 << 3 | 2 -> name = a.string();
                case 9 << 3 | 2 -> strings.add(a.string());
                case 8 << 3 -> ints.add(a.varint());
                case 8 << 3 | 2 -> { // packed
                    Wire packed = a.message();
                    while (packed.more()) {
                        ints.add(packed.varint());
                    }
                }
                default -> a.skip(tag & 7);
            }
        }
        return switch (name) {
            case "classlabels_strings" -> strings;
            case "classlabels_int64s" -> ints;
            default -> null;
        };
    }

    /** A window on protobuf bytes. */
    private static final class Wire {
        private final byte[] bytes;
        private final int end;
        private int pos;

        Wire(byte[] bytes, int pos, int end) {
            this.bytes = bytes;
            this.pos = pos;
            this.end = end;
        }

        boolean more() {
            return pos < end;
        }

        long varint() {
            long value = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new IllegalArgumentException("truncated varint");
                }
                byte b = bytes[pos++];
                value |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return value;
                }
            }
            throw new IllegalArgumentException("varint longer than 10 bytes");
        }

        Wire message() {
            long length = varint();
            if (length < 0 || length > end - pos) {
                throw new IllegalArgumentException("length " + length + " beyond the message");
            }
            Wire inner = new Wire(bytes, pos, pos + (int) length);
            pos += (int) length;
            return inner;
        }

        String string() {
            Wire s = message();
            return new String(bytes, s.pos, s.end - s.pos, StandardCharsets.UTF_8);
        }

        void skip(int wireType) {
            switch (wireType) {
                case 0 -> varint();
                case 1 -> advance(8);
                case 2 -> message();
                case 5 -> advance(4);
                default -> throw new IllegalArgumentException("wire type " + wireType);
            }
        }

        private void advance(int n) {
            if (n > end - pos) {
                throw new IllegalArgumentException("truncated field");
            }
            pos += n;
        }
    }
}
