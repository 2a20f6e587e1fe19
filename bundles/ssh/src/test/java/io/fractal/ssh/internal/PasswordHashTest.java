package io.fractal.ssh.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PasswordHashTest {

    @Test
    void aHashMatchesItsPasswordOnly() {
        String encoded = PasswordHash.hash("correct horse".toCharArray(), 1000);

        assertTrue(encoded.matches("\\$pbkdf2-sha256\\$1000\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}"), encoded);
        PasswordHash hash = PasswordHash.parse(encoded);
        assertTrue(hash.matches("correct horse"));
        assertFalse(hash.matches("correct horse "));
        assertFalse(hash.matches(""));
    }

    @Test
    void theSaltDiffersEachTime() {
        assertNotEquals(PasswordHash.hash("x".toCharArray(), 1000), PasswordHash.hash("x".toCharArray(), 1000));
    }

    @Test
    void theDefaultIsManyIterations() {
        assertTrue(PasswordHash.ITERATIONS >= 600_000);
    }

    @Test
    void aMalformedHashIsRefusedWithAReason() {
        for (String bad : new String[] {"s3cret", "$pbkdf2-sha256$x$AAAA$AAAA", "$sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$"
                + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "$pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAA"
                + "AAAAAAAAAAAAAAAAAAAAAAAAAAA", "$pbkdf2-sha256$1000$!!$AAAA"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PasswordHash.parse(bad), bad);
            assertFalse(e.getMessage().isBlank());
        }
    }
}
