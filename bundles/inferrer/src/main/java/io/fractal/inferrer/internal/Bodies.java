package io.fractal.inferrer.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.InvalidInputException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Request bodies read whatever their Content-Type says: clients send JSON with none, with
 * {@code application/octet-stream} (the Triton clients) or with curl's form type. A body that is not what the call
 * expects is bad input (400) that says so.
 */
final class Bodies {

    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Bodies() {
    }

    /** The whole body; an absent body is empty. */
    static byte[] bytes(InputStream body) throws IOException {
        return body == null ? new byte[0] : body.readAllBytes();
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
            throw new InvalidInputException("the body is not valid JSON" + where + ": " + e.getOriginalMessage()
                    + "; expected " + expected);
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
