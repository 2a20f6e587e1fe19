package io.fractal.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.rest.Access;
import io.fractal.api.rest.Access.Level;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The management token file, what tokens grant, and how a method's access level is found. */
class TokensTest {

    @TempDir
    Path dir;

    @Test
    void theFirstStartGeneratesAnOwnerOnlyTokenAndLaterStartsReadIt() throws IOException {
        Path file = dir.resolve("data/management.token");
        Tokens first = new Tokens(config(true, "", "", ""), file);
        assertTrue(Files.exists(file));
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(file));
        String token = Files.readString(file).strip();
        assertTrue(token.length() >= 43, "32 random bytes, base64: " + token);
        assertEquals(Tokens.Grant.MANAGEMENT, first.grant(token));
        Tokens second = new Tokens(config(true, "", "", ""), file);
        assertEquals(Tokens.Grant.MANAGEMENT, second.grant(token), "the same token after a restart");
        assertEquals(file.toString(), second.where());
    }

    @Test
    void anEmptyTokenFileIsAnErrorNotAnOpenServer() throws IOException {
        Path file = Files.writeString(dir.resolve("management.token"), "\n");
        assertThrows(IOException.class, () -> new Tokens(config(true, "", "", ""), file));
    }

    @Test
    void aConfiguredTokenWinsAndTheFileIsNotWritten() throws IOException {
        Path file = dir.resolve("management.token");
        Tokens t = new Tokens(config(true, "s3cret-management", "", ""), file);
        assertFalse(Files.exists(file));
        assertEquals(Tokens.Grant.MANAGEMENT, t.grant("s3cret-management"));
        assertEquals(Tokens.Grant.NONE, t.grant("s3cret-managemenT"));
        assertEquals(Tokens.Grant.NONE, t.grant(""));
        assertEquals(Tokens.Grant.NONE, t.grant(null));
        assertFalse(t.inferenceRequired());
    }

    @Test
    void anInferenceTokenGrantsInferenceOnly() throws IOException {
        Tokens t = new Tokens(config(true, "m", "", "i"), dir.resolve("x"));
        assertTrue(t.inferenceRequired());
        assertEquals(Tokens.Grant.INFERENCE, t.grant("i"));
        assertEquals(Tokens.Grant.MANAGEMENT, t.grant("m"));
    }

    @Test
    void bearerHeadersAreParsedStrictly() {
        assertEquals("abc", AccessFilter.bearer("Bearer abc"));
        assertEquals("abc", AccessFilter.bearer("bearer   abc  "));
        assertNull(AccessFilter.bearer("Basic YWRtaW46YWRtaW4="));
        assertNull(AccessFilter.bearer("Bearer "));
        assertNull(AccessFilter.bearer("Bearerabc"));
        assertNull(AccessFilter.bearer(null));
    }

    @Access(Level.INFERENCE)
    static final class Annotated {
        public void predict() {
        }

        @Access(Level.OPEN)
        public void health() {
        }
    }

    static final class Plain {
        public void anything() {
        }
    }

    @Test
    void aMethodsLevelIsItsOwnThenItsClassesThenByHttpMethod() throws Exception {
        assertEquals(Level.OPEN, AccessFilter.levelOf(Annotated.class.getMethod("health"), Annotated.class, "GET"));
        assertEquals(Level.INFERENCE, AccessFilter.levelOf(Annotated.class.getMethod("predict"), Annotated.class,
                "POST"));
        assertEquals(Level.READ, AccessFilter.levelOf(Plain.class.getMethod("anything"), Plain.class, "GET"));
        for (String m : new String[] {"POST", "PUT", "DELETE", "PATCH", "FOO"}) {
            assertEquals(Level.MANAGEMENT, AccessFilter.levelOf(Plain.class.getMethod("anything"), Plain.class, m));
        }
    }

    private static AuthConfiguration config(boolean enabled, String token, String file, String inference) {
        return new AuthConfiguration() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return AuthConfiguration.class;
            }

            @Override
            public boolean enabled() {
                return enabled;
            }

            @Override
            public String management_token() {
                return token;
            }

            @Override
            public String management_token_file() {
                return file;
            }

            @Override
            public String inference_token() {
                return inference;
            }
        };
    }
}
