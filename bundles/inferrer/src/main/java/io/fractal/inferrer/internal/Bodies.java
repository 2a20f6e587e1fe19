package io.fractal.inferrer.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.InvalidInputException;
import jakarta.ws.rs.WebApplicationException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;
import java.util.zip.ZipException;

/**
 * Request bodies read whatever their Content-Type says: clients send JSON with none, with
 * {@code application/octet-stream} (the Triton clients) or with curl's form type. A body that is not what the call
 * expects is bad input (400) that says so.
 */
final class Bodies {

    /** Numbers read and written with Jackson's fast algorithms (FastDoubleParser, Schubfach): the same values. */
    static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER).enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Bodies() {
    }

    /** A Content-Length header's value; 0 when absent or not a number (the body's own limit applies then). */
    static long length(String contentLength) {
        if (contentLength == null) {
            return 0;
        }
        try {
            return Math.max(0, Long.parseLong(contentLength.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The whole body; an absent body is empty. */
    static byte[] bytes(InputStream body) throws IOException {
        return body == null ? new byte[0] : body.readAllBytes();
    }

    /**
     * The whole body, decompressed when its {@code Content-Encoding} is gzip or deflate (zlib, or raw deflate as
     * some clients send it), at most {@code limit} bytes once decompressed (else 413).
     */
    static byte[] bytes(InputStream body, String contentEncoding, long limit) throws IOException {
        byte[] raw = bytes(body);
        String encoding = contentEncoding == null ? "" : contentEncoding.trim().toLowerCase(Locale.ROOT);
        switch (encoding) {
            case "", "identity":
                return raw;
            case "gzip", "x-gzip":
                try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(raw))) {
                    return inflated(in, limit);
                } catch (ZipException | EOFException e) {
                    throw notEncoded("gzip", e);
                }
            case "deflate":
                try (InputStream in = new InflaterInputStream(new ByteArrayInputStream(raw))) {
                    return inflated(in, limit);
                } catch (ZipException | EOFException e) {
                    // not zlib: raw deflate, as some clients send it
                    try (InputStream in = new InflaterInputStream(new ByteArrayInputStream(raw), new Inflater(true))) {
                        return inflated(in, limit);
                    } catch (ZipException | EOFException e2) {
                        throw notEncoded("deflate", e);
                    }
                }
            default:
                throw new InvalidInputException("Content-Encoding '" + contentEncoding + "' is not supported; send "
                        + "the body as it is, or with gzip or deflate");
        }
    }

    private static InvalidInputException notEncoded(String encoding, IOException e) {
        return new InvalidInputException("the body is not valid " + encoding + " (Content-Encoding: " + encoding
                + "): " + e.getMessage());
    }

    private static byte[] inflated(InputStream in, long limit) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[16384];
        for (int n; (n = in.read(buffer)) > 0; ) {
            out.write(buffer, 0, n);
            if (out.size() > limit) {
                throw new WebApplicationException("the request body is larger than " + limit
                        + " bytes once decompressed", 413);
            }
        }
        return out.toByteArray();
    }

    /**
     * The encoding to compress an answer with for an {@code Accept-Encoding} header: gzip or deflate when the
     * client takes it, else null.
     */
    static String responseEncoding(String acceptEncoding) {
        if (acceptEncoding == null || acceptEncoding.isBlank()) {
            return null;
        }
        String best = null;
        double bestQ = 0;
        for (String part : acceptEncoding.split(",")) {
            String[] p = part.trim().split(";");
            String coding = p[0].trim().toLowerCase(Locale.ROOT);
            double q = 1;
            for (int i = 1; i < p.length; i++) {
                String param = p[i].trim();
                if (param.startsWith("q=")) {
                    try {
                        q = Double.parseDouble(param.substring(2));
                    } catch (NumberFormatException e) {
                        q = 0;
                    }
                }
            }
            if ((coding.equals("gzip") || coding.equals("deflate")) && q > bestQ) {
                best = coding;
                bestQ = q;
            }
        }
        return best;
    }

    /** {@code body} compressed with {@code encoding} (gzip, or deflate in its zlib format). */
    static byte[] compress(byte[] body, String encoding) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, body.length / 4));
        try (OutputStream z = "gzip".equals(encoding) ? new GZIPOutputStream(out) : new DeflaterOutputStream(out)) {
            z.write(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The body as one JSON value. */
    static JsonNode json(InputStream body, String expected) throws IOException {
        byte[] b = bytes(body);
        return json(b, 0, b.length, expected);
    }

    /** {@code length} bytes of {@code bytes} from {@code offset} as one JSON value. */
    static JsonNode json(byte[] bytes, int offset, int length, String expected) {
        if (isBlank(bytes, offset, length)) {
            throw new InvalidInputException("the request has no body; expected " + expected);
        }
        try {
            return JSON.readTree(bytes, offset, length);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
            throw new InvalidInputException("the body is not valid JSON" + where + ": "
                    + ClientText.withoutJavaNames(e.getOriginalMessage()) + "; expected " + expected);
        } catch (IOException e) {
            throw new InvalidInputException("the body cannot be read as JSON: " + e.getMessage());
        }
    }

    private static boolean isBlank(byte[] bytes, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            byte b = bytes[i];
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return false;
            }
        }
        return true;
    }
}
