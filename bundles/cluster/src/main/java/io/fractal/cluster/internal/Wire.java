package io.fractal.cluster.internal;

import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.Tensor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The binary form of a request and its answer between nodes: big-endian, length-prefixed, the tensors' elements
 * as raw arrays. Decoding refuses anything inconsistent with {@link IllegalArgumentException}; sizes are bounded by
 * the bytes actually present, so a hostile length cannot make it allocate more than the body.
 */
final class Wire {

    static final String CONTENT_TYPE = "application/vnd.fractal.cluster";
    /** A request without a deadline (a node before the deadline was sent). */
    private static final int REQUEST_MAGIC = 0x46524331; // FRC1
    /** A request followed by the time its caller still waits, in ns ({@link #NO_TIMEOUT}: none). */
    private static final int REQUEST_MAGIC_DEADLINE = 0x46524332; // FRC2
    /** The remaining time of a request without a deadline. */
    static final long NO_TIMEOUT = Long.MAX_VALUE;
    private static final int RESPONSE_MAGIC = 0x46525231; // FRR1

    private Wire() {
    }

    /**
     * The request with the time its caller still waits, measured now: the receiving node sets its own deadline from
     * it (clocks of two machines are not comparable, a duration is). Zero or less: the deadline has passed.
     */
    static byte[] encode(InferenceRequest r) {
        return encode(r, r.hasDeadline() ? r.remainingNanos() : NO_TIMEOUT);
    }

    static byte[] encode(InferenceRequest r, long remainingNanos) {
        return write(out -> {
            out.writeInt(REQUEST_MAGIC_DEADLINE);
            out.writeLong(remainingNanos);
            writeString(out, r.id());
            writeString(out, r.model());
            out.writeInt(r.version());
            out.writeInt(r.outputs().size());
            for (String o : r.outputs()) {
                writeString(out, o);
            }
            writeTensors(out, r.inputs());
        });
    }

    /**
     * The request as this node runs it: its deadline, if the caller sent one, is now plus the time the caller still
     * waited when it sent it, so one already past stays past ({@link InferenceRequest#remainingNanos()} at most 0).
     */
    static InferenceRequest decodeRequest(byte[] body) {
        long received = System.nanoTime();
        return read(body, in -> {
            int magic = in.readInt();
            if (magic != REQUEST_MAGIC && magic != REQUEST_MAGIC_DEADLINE) {
                throw new IllegalArgumentException("not a cluster inference request");
            }
            long remaining = magic == REQUEST_MAGIC_DEADLINE ? in.readLong() : NO_TIMEOUT;
            long deadline = InferenceRequest.NO_DEADLINE;
            if (remaining != NO_TIMEOUT) {
                // past: at most 0 left, and never the NO_DEADLINE (or 0) value by accident
                deadline = received + Math.max(-TimeUnit.HOURS.toNanos(1), Math.min(remaining,
                        TimeUnit.DAYS.toNanos(1)));
                if (deadline == 0 || deadline == InferenceRequest.NO_DEADLINE) {
                    deadline--;
                }
            }
            long deadlineNanos = deadline;
            String id = readString(in, body.length);
            String model = readString(in, body.length);
            if (model == null) {
                throw new IllegalArgumentException("no model name");
            }
            int version = in.readInt();
            int n = count(in, body.length);
            Set<String> outputs = new LinkedHashSet<>();
            for (int i = 0; i < n; i++) {
                outputs.add(readString(in, body.length));
            }
            List<Tensor> inputs = readTensors(in, body.length);
            return new InferenceRequest(id, model, version, inputs, outputs, received, deadlineNanos);
        });
    }

    static byte[] encode(InferenceResponse r) {
        return write(out -> {
            out.writeInt(RESPONSE_MAGIC);
            writeString(out, r.id());
            writeString(out, r.model());
            out.writeInt(r.version());
            writeString(out, r.modelhost());
            out.writeLong(r.queueNanos());
            out.writeLong(r.inferenceNanos());
            writeTensors(out, r.outputs());
        });
    }

    static InferenceResponse decodeResponse(byte[] body) {
        return read(body, in -> {
            if (in.readInt() != RESPONSE_MAGIC) {
                throw new IllegalArgumentException("not a cluster inference response");
            }
            String id = readString(in, body.length);
            String model = readString(in, body.length);
            int version = in.readInt();
            String modelhost = readString(in, body.length);
            long queue = in.readLong();
            long inference = in.readLong();
            return new InferenceResponse(id, model, version, readTensors(in, body.length), modelhost, queue, inference);
        });
    }

    // ---- tensors --------------------------------------------------------------------------------------------

    private static void writeTensors(DataOutputStream out, List<Tensor> tensors) throws IOException {
        out.writeInt(tensors.size());
        for (Tensor t : tensors) {
            writeString(out, t.name());
            out.writeByte(t.datatype().ordinal());
            long[] shape = t.shape();
            out.writeInt(shape.length);
            for (long d : shape) {
                out.writeLong(d);
            }
            writeData(out, t.datatype(), t.data());
        }
    }

    private static List<Tensor> readTensors(DataInputStream in, int limit) throws IOException {
        int n = count(in, limit);
        List<Tensor> tensors = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String name = readString(in, limit);
            int type = in.readUnsignedByte();
            if (type >= DataType.values().length) {
                throw new IllegalArgumentException("unknown datatype " + type);
            }
            DataType datatype = DataType.values()[type];
            int rank = count(in, limit);
            long[] shape = new long[rank];
            for (int d = 0; d < rank; d++) {
                shape[d] = in.readLong();
            }
            long elements = Tensor.elementCount(shape);
            if (elements > limit) {
                throw new IllegalArgumentException("tensor larger than the body");
            }
            tensors.add(Tensor.of(name, datatype, shape, readData(in, datatype, (int) elements, limit)));
        }
        return tensors;
    }

    private static void writeData(DataOutputStream out, DataType type, Object data) throws IOException {
        switch (type) {
            case BOOL -> {
                boolean[] b = (boolean[]) data;
                byte[] bytes = new byte[b.length];
                for (int i = 0; i < b.length; i++) {
                    bytes[i] = (byte) (b[i] ? 1 : 0);
                }
                out.write(bytes);
            }
            case UINT8, INT8 -> out.write((byte[]) data);
            case INT16, UINT16 -> {
                short[] s = (short[]) data;
                ByteBuffer buf = ByteBuffer.allocate(s.length * 2);
                buf.asShortBuffer().put(s);
                out.write(buf.array());
            }
            case INT32, UINT32 -> {
                int[] v = (int[]) data;
                ByteBuffer buf = ByteBuffer.allocate(v.length * 4);
                buf.asIntBuffer().put(v);
                out.write(buf.array());
            }
            case INT64, UINT64 -> {
                long[] v = (long[]) data;
                ByteBuffer buf = ByteBuffer.allocate(v.length * 8);
                buf.asLongBuffer().put(v);
                out.write(buf.array());
            }
            case FP16, BF16, FP32 -> {
                float[] v = (float[]) data;
                ByteBuffer buf = ByteBuffer.allocate(v.length * 4);
                buf.asFloatBuffer().put(v);
                out.write(buf.array());
            }
            case FP64 -> {
                double[] v = (double[]) data;
                ByteBuffer buf = ByteBuffer.allocate(v.length * 8);
                buf.asDoubleBuffer().put(v);
                out.write(buf.array());
            }
            case BYTES -> {
                for (String s : (String[]) data) {
                    writeString(out, s);
                }
            }
        }
    }

    private static Object readData(DataInputStream in, DataType type, int n, int limit) throws IOException {
        return switch (type) {
            case BOOL -> {
                byte[] bytes = bytes(in, n, 1, limit);
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = bytes[i] != 0;
                }
                yield b;
            }
            case UINT8, INT8 -> bytes(in, n, 1, limit);
            case INT16, UINT16 -> {
                short[] s = new short[n];
                ByteBuffer.wrap(bytes(in, n, 2, limit)).asShortBuffer().get(s);
                yield s;
            }
            case INT32, UINT32 -> {
                int[] v = new int[n];
                ByteBuffer.wrap(bytes(in, n, 4, limit)).asIntBuffer().get(v);
                yield v;
            }
            case INT64, UINT64 -> {
                long[] v = new long[n];
                ByteBuffer.wrap(bytes(in, n, 8, limit)).asLongBuffer().get(v);
                yield v;
            }
            case FP16, BF16, FP32 -> {
                float[] v = new float[n];
                ByteBuffer.wrap(bytes(in, n, 4, limit)).asFloatBuffer().get(v);
                yield v;
            }
            case FP64 -> {
                double[] v = new double[n];
                ByteBuffer.wrap(bytes(in, n, 8, limit)).asDoubleBuffer().get(v);
                yield v;
            }
            case BYTES -> {
                String[] s = new String[n];
                for (int i = 0; i < n; i++) {
                    s[i] = readString(in, limit);
                }
                yield s;
            }
        };
    }

    private static byte[] bytes(DataInputStream in, int n, int width, int limit) throws IOException {
        long size = (long) n * width;
        if (size > limit) {
            throw new IllegalArgumentException("tensor data larger than the body");
        }
        byte[] b = new byte[(int) size];
        in.readFully(b);
        return b;
    }

    // ---- strings and framing --------------------------------------------------------------------------------

    private static void writeString(DataOutputStream out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
            return;
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in, int limit) throws IOException {
        int n = in.readInt();
        if (n == -1) {
            return null;
        }
        if (n < 0 || n > limit) {
            throw new IllegalArgumentException("bad string length " + n);
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static int count(DataInputStream in, int limit) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > limit) {
            throw new IllegalArgumentException("bad count " + n);
        }
        return n;
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private interface Reader<T> {
        T read(DataInputStream in) throws IOException;
    }

    private static byte[] write(Writer w) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            w.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static <T> T read(byte[] body, Reader<T> r) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(body))) {
            T value = r.read(in);
            if (in.available() > 0) {
                throw new IllegalArgumentException(in.available() + " bytes after the message");
            }
            return value;
        } catch (EOFException e) {
            throw new IllegalArgumentException("truncated message");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
