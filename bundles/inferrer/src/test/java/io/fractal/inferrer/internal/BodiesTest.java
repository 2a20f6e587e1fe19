package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.InvalidInputException;
import jakarta.ws.rs.WebApplicationException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import org.junit.jupiter.api.Test;

class BodiesTest {

    private static final byte[] BODY = "{\"inputs\": [1, 2, 3]}".repeat(50).getBytes(StandardCharsets.UTF_8);

    private static byte[] read(byte[] body, String encoding, long limit) throws Exception {
        return Bodies.bytes(new ByteArrayInputStream(body), encoding, limit);
    }

    @Test
    void gzipAndDeflateBodiesAreDecompressed() throws Exception {
        assertArrayEquals(BODY, read(Bodies.compress(BODY, "gzip"), "gzip", 1 << 20));
        assertArrayEquals(BODY, read(Bodies.compress(BODY, "deflate"), "deflate", 1 << 20)); // zlib, as Python's
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        try (DeflaterOutputStream out = new DeflaterOutputStream(raw, new Deflater(Deflater.DEFAULT_COMPRESSION, true))) {
            out.write(BODY);
        }
        assertArrayEquals(BODY, read(raw.toByteArray(), "deflate", 1 << 20)); // raw deflate
        assertArrayEquals(BODY, read(BODY, null, 1 << 20));
        assertArrayEquals(BODY, read(BODY, "identity", 1 << 20));
    }

    @Test
    void badOrUnknownEncodingsAreBadInputAndBombsAreTooLarge() {
        assertThrows(InvalidInputException.class, () -> read(BODY, "gzip", 1 << 20));
        assertThrows(InvalidInputException.class, () -> read(BODY, "deflate", 1 << 20));
        assertThrows(InvalidInputException.class, () -> read(new byte[0], "gzip", 1 << 20));
        assertThrows(InvalidInputException.class, () -> read(BODY, "br", 1 << 20));
        WebApplicationException e = assertThrows(WebApplicationException.class,
                () -> read(Bodies.compress(new byte[10_000_000], "gzip"), "gzip", 1_000_000));
        assertEquals(413, e.getResponse().getStatus());
    }

    @Test
    void theAnswerIsCompressedAsTheClientAccepts() {
        assertEquals("gzip", Bodies.responseEncoding("gzip"));
        assertEquals("deflate", Bodies.responseEncoding("deflate"));
        assertEquals("gzip", Bodies.responseEncoding("gzip, deflate, br"));
        assertEquals("deflate", Bodies.responseEncoding("gzip;q=0.5, deflate"));
        assertNull(Bodies.responseEncoding("gzip;q=0"));
        assertNull(Bodies.responseEncoding("identity"));
        assertNull(Bodies.responseEncoding(null));
    }

    /** Jackson's messages name its classes and features: a client reads what is wrong, not which Java type said so. */
    @Test
    void jsonErrorsNameNoJavaType() {
        for (String body : new String[] {"{\"a\":1}{\"b\":2}", "{\"values\": [NaN]}", "[".repeat(1100),
                "{\"values\": [1" + "0".repeat(2000) + "]}"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> Bodies.json(
                    body.getBytes(StandardCharsets.UTF_8), 0, body.length(), "a JSON object"));
            assertTrue(e.getMessage().startsWith("the body is not valid JSON") && !e.getMessage().contains("`")
                    && !e.getMessage().matches("(?s).*(com\\.fasterxml|Feature|Constraints|JsonNode).*"),
                    e.getMessage());
        }
    }

    @Test
    void bodiesThatAreNotJsonSaySo() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> Bodies.json("values=1".getBytes(StandardCharsets.UTF_8), 0, 8, "{\"values\": [...]}"));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().contains("{\"values\": [...]}"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> Bodies.json(new byte[] {' ', '\n'}, 0, 2, "JSON"));
        assertTrue(e.getMessage().contains("no body"), e.getMessage());
        assertThrows(InvalidInputException.class,
                () -> Bodies.json("{} {}".getBytes(StandardCharsets.UTF_8), 0, 5, "JSON"));
    }
}
