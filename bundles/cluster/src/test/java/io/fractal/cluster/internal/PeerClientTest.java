package io.fractal.cluster.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotReadyException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeerClientTest {

    private static final URI NODE = URI.create("http://127.0.0.1:9/");

    private static PeerClient.PeerException failure(int status, String json) {
        return PeerClient.failure(NODE, status, json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void refusalsAreRetriedElsewhereAndFailuresAreNot() {
        PeerClient.PeerException full = failure(503, "{\"error\":\"queue full\",\"kind\":\"full\"}");
        assertEquals(PeerClient.Outcome.REFUSED, full.outcome);
        assertInstanceOf(CapacityExceededException.class, full.reported());

        PeerClient.PeerException draining = failure(503, "{\"error\":\"draining\",\"kind\":\"draining\"}");
        assertEquals(PeerClient.Outcome.NODE_DOWN, draining.outcome);
        assertInstanceOf(CapacityExceededException.class, draining.reported());

        assertInstanceOf(ModelNotReadyException.class, failure(409, "{\"kind\":\"not_ready\"}").reported());
        PeerClient.PeerException invalid = failure(400, "{\"error\":\"shape\",\"kind\":\"invalid\"}");
        assertEquals(PeerClient.Outcome.FAILED, invalid.outcome);
        assertInstanceOf(InvalidInputException.class, invalid.reported());
        assertEquals("shape", invalid.reported().getMessage());

        assertEquals(PeerClient.Outcome.NODE_DOWN, failure(403, "{\"kind\":\"forbidden\"}").outcome);
        assertEquals(PeerClient.Outcome.NODE_DOWN, failure(503, "<html>proxy</html>").outcome);
        assertEquals(PeerClient.Outcome.FAILED, failure(500, "{\"kind\":\"failed\"}").outcome);
    }

    @Test
    void secretIsComparedExactlyAndNeverMatchesWhenUnset(@TempDir Path home) throws Exception {
        Secret none = Secret.of("", "", home);
        assertFalse(none.configured());
        assertFalse(none.matches(""));
        assertFalse(none.matches(null));
        Files.writeString(home.resolve("secret"), "  abc \nignored\n");
        Secret fromFile = Secret.of("", "secret", home);
        assertTrue(fromFile.matches("abc"));
        assertFalse(fromFile.matches("abcd"));
        assertFalse(fromFile.matches(null));
        assertTrue(Secret.of("xyz", "secret", home).matches("xyz"));
        assertEquals("Secret[set]", fromFile.toString());
    }
}
