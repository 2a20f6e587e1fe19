package io.fractal.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.ConflictException;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelNotReadyException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every failure becomes its status and a {@code {"error": "..."}} body. */
class JsonErrorsTest {

    private static final Logger LOG = Logger.getLogger(JsonErrors.class.getName());
    private final JsonErrors errors = new JsonErrors();

    @BeforeAll
    static void quiet() {
        LOG.setLevel(Level.OFF); // 500s are logged with their stack trace
    }

    @Test
    void unknownModelIs404() {
        assertError(404, "model 'x' not found", errors.toResponse(new ModelNotFoundException("model 'x' not found")));
    }

    @Test
    void badInputIs400() {
        assertError(400, "'values' is ragged", errors.toResponse(new InvalidInputException("'values' is ragged")));
        assertError(400, "unknown datatype 'x'", errors.toResponse(new IllegalArgumentException("unknown datatype 'x'")));
    }

    @Test
    void conflictIs409() {
        assertError(409, "modelhost mh1 exists", errors.toResponse(new ConflictException("modelhost mh1 exists")));
    }

    @Test
    void aFullQueueIs503WithRetryAfter() {
        Response r = errors.toResponse(new CapacityExceededException("queue is full", 3));
        assertError(503, "queue is full", r);
        assertEquals("3", r.getHeaderString("Retry-After"));
        Response atLeastOne = errors.toResponse(new CapacityExceededException("no modelhost is running", 0));
        assertEquals("1", atLeastOne.getHeaderString("Retry-After"));
    }

    @Test
    void aModelNotReadyIs503WithRetryAfter() {
        Response r = errors.toResponse(new ModelNotReadyException("model iris:1 is not ready"));
        assertError(503, "model iris:1 is not ready", r);
        assertEquals("1", r.getHeaderString("Retry-After"));
    }

    @Test
    void aBodyOverTheLimitIs413() {
        String message = "request body is larger than the limit of 1024 bytes";
        assertError(413, message, errors.toResponse(new BodyTooLargeException(1024)));
        // as a body reader reports it: wrapped
        assertError(413, message, errors.toResponse(new jakarta.ws.rs.ProcessingException(
                new java.io.UncheckedIOException(new java.io.IOException("read failed", new BodyTooLargeException(1024))))));
    }

    @Test
    void malformedJsonIs400WithTheLocation() {
        JsonProcessingException j = parseError("{\"values\": [1, 2,, 3]}");
        Response r = errors.toResponse(j);
        assertEquals(400, r.getStatus());
        String message = body(r);
        assertTrue(message.startsWith("malformed JSON at line 1, column "), message);
        assertTrue(!message.contains("Source:") && !message.contains("\tat "), "internal detail leaks: " + message);
        // wrapped by the body reader
        assertEquals(400, errors.toResponse(new jakarta.ws.rs.ProcessingException(j)).getStatus());
    }

    @Test
    void futuresAreUnwrapped() {
        assertError(404, "gone", errors.toResponse(new CompletionException(new ModelNotFoundException("gone"))));
        assertError(503, "busy", errors.toResponse(new ExecutionException(new CapacityExceededException("busy", 1))));
        assertError(400, "bad", errors.toResponse(new CompletionException(
                new ExecutionException(new InvalidInputException("bad")))));
    }

    @Test
    void anUnknownCallIs404PointingToHelp() {
        Response r = errors.toResponse(new NotFoundException());
        assertEquals(404, r.getStatus());
        assertTrue(body(r).contains("GET /help lists the calls"), body(r));
    }

    @Test
    void aWrongMethodIs405WithAllow() {
        Response r = errors.toResponse(new NotAllowedException("GET", new String[] {"POST"}));
        assertEquals(405, r.getStatus());
        assertEquals(Set.of("GET", "POST"), r.getAllowedMethods());
        assertTrue(body(r).contains("method not allowed"), body(r));
    }

    @Test
    void otherWebApplicationExceptionsKeepTheirStatus() {
        Response r = errors.toResponse(new WebApplicationException("unsupported media type", 415));
        assertError(415, "unsupported media type", r);
    }

    @Test
    void anythingElseIs500WithAReferenceOnly() {
        // the message of an unexpected failure may name files or classes: it goes to the log, not to the client
        for (Throwable t : new Throwable[] {new IllegalStateException("/srv/fractal/data/models/.staging-1/x"),
                new NullPointerException(), new WebApplicationException("java.lang.Oops in Foo.java:12", 502)}) {
            Response r = errors.toResponse(t);
            String message = body(r);
            assertEquals(t instanceof WebApplicationException ? 502 : 500, r.getStatus());
            assertTrue(message.matches("internal error \\(reference [0-9a-f]+ in the server log\\)"), message);
        }
    }

    @Test
    void aBodyThatEndsEarlyIs400() {
        // what Grizzly throws when the client closes its side before the announced Content-Length
        assertError(400, "the request body ended before the length its headers announced",
                errors.toResponse(new jakarta.ws.rs.ProcessingException(new java.io.EOFException())));
        assertEquals(400, errors.toResponse(new java.io.EOFException()).getStatus());
    }

    @Test
    void jacksonMessagesLoseTheirJavaNames() {
        assertEquals("Non-standard token 'NaN'", ClientText.withoutJavaNames(
                "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"));
        assertEquals("Document nesting depth (1001) exceeds the maximum allowed (1000)", ClientText.withoutJavaNames(
                "Document nesting depth (1001) exceeds the maximum allowed (1000, from "
                        + "`StreamReadConstraints.getMaxNestingDepth()`)"));
        assertEquals("Unrecognized field \"x\", not marked as ignorable", ClientText.withoutJavaNames(
                "Unrecognized field \"x\" (class io.fractal.repository.internal.ModelMetadata), not marked as ignorable"));
        assertEquals("Cannot deserialize value of type String from Array value", ClientText.withoutJavaNames(
                "Cannot deserialize value of type `java.lang.String` from Array value"));
        String nested = body(errors.toResponse(parseError("[".repeat(1100) + "]".repeat(1100))));
        assertTrue(!nested.contains("StreamReadConstraints") && nested.contains("nesting depth"), nested);
    }

    @Test
    void aMissingMessageStillGivesAnErrorField() {
        Response r = errors.toResponse(new InvalidInputException(null));
        assertEquals(400, r.getStatus());
        assertEquals("error", body(r));
    }

    private static void assertError(int status, String message, Response r) {
        assertEquals(status, r.getStatus());
        assertEquals(MediaType.APPLICATION_JSON_TYPE, r.getMediaType());
        assertEquals(message, body(r));
    }

    private static String body(Response r) {
        Map<?, ?> entity = (Map<?, ?>) r.getEntity();
        assertEquals(Set.of("error"), entity.keySet());
        return (String) entity.get("error");
    }

    private static JsonProcessingException parseError(String json) {
        try {
            new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            return e;
        }
        throw new AssertionError("parsed: " + json);
    }
}
