package io.fractal.rest.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.ConflictException;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelNotReadyException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import jakarta.ws.rs.ext.ExceptionMapper;
import java.io.EOFException;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place errors become HTTP: every failure a resource throws or a future completes with answers
 * {@code {"error": "..."}} with its status, never a stack trace.
 */
final class JsonErrors implements ExceptionMapper<Throwable> {

    private static final Logger LOG = Logger.getLogger(JsonErrors.class.getName());
    /** The status of a request whose client went away before its answer (not HTTP's: nginx's, for the logs). */
    static final int CLIENT_CLOSED_REQUEST = 499;

    @Context
    private UriInfo uriInfo;

    @Override
    public Response toResponse(Throwable thrown) {
        Throwable t = thrown;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        // Body readers wrap what the body's stream threw.
        for (Throwable c = t; c != null && c.getCause() != c; c = c.getCause()) {
            if (c instanceof BodyTooLargeException || c instanceof BodyTimeoutException
                    || c instanceof JsonProcessingException || c instanceof EOFException) {
                t = c;
                break;
            }
            if (c instanceof IOException && c.getCause() instanceof TimeoutException) {
                // the listener's read timeout: the client stopped sending its body
                t = new BodyTimeoutException("the request body stopped arriving (no bytes within the read timeout)");
                break;
            }
        }
        if (t instanceof BodyTimeoutException) {
            // the rest of the body is not read: the connection cannot carry another request
            return Response.status(408).header("Connection", "close").entity(Map.of("error", t.getMessage()))
                    .type(MediaType.APPLICATION_JSON).build();
        }
        if (t instanceof EOFException) {
            // the client closed its side before sending the body its Content-Length (or chunks) announced
            LOG.log(Level.FINE, "Request body ended early", t);
            return error(400, "the request body ended before the length its headers announced");
        }
        if (t instanceof ModelNotFoundException) {
            return error(404, t.getMessage());
        }
        if (t instanceof CapacityExceededException c) {
            return Response.status(503).header("Retry-After", Math.max(1, c.retryAfterSeconds()))
                    .entity(Map.of("error", c.getMessage())).type(MediaType.APPLICATION_JSON).build();
        }
        if (t instanceof ModelNotReadyException) {
            return Response.status(503).header("Retry-After", 1).entity(Map.of("error", t.getMessage()))
                    .type(MediaType.APPLICATION_JSON).build();
        }
        if (t instanceof TimeoutException) {
            return error(504, "the request's deadline passed before it was answered");
        }
        if (t instanceof CancellationException) {
            // its client closed the connection while it waited (io.fractal.api.rest.ClientConnection): nobody reads
            // this answer; 499 (nginx's "client closed request") counts it apart from the server's own failures
            return error(CLIENT_CLOSED_REQUEST, "the client closed its connection before the answer");
        }
        if (t instanceof InvalidInputException || t instanceof IllegalArgumentException) {
            return error(400, t.getMessage());
        }
        if (t instanceof ConflictException) {
            return error(409, t.getMessage());
        }
        if (t instanceof JsonProcessingException j) {
            String where = j.getLocation() == null ? ""
                    : " at line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr();
            return error(400, "malformed JSON" + where + ": " + ClientText.withoutJavaNames(j.getOriginalMessage()));
        }
        if (t instanceof BodyTooLargeException) {
            return error(413, t.getMessage());
        }
        if (t instanceof NotFoundException) {
            String path = uriInfo == null ? "" : " /" + uriInfo.getPath();
            return error(404, "no such call:" + path + "; GET /help lists the calls");
        }
        if (t instanceof NotAllowedException n) {
            return Response.status(405).allow(n.getResponse().getAllowedMethods())
                    .entity(Map.of("error", "method not allowed; this path takes "
                            + n.getResponse().getAllowedMethods()))
                    .type(MediaType.APPLICATION_JSON).build();
        }
        if (t instanceof WebApplicationException w && w.getResponse().getStatus() < 500) {
            return error(w.getResponse().getStatus(), w.getMessage());
        }
        return internalError(t);
    }

    /**
     * A failure that is not the client's: logged with a reference the answer gives, and answered without its
     * message, which may name files, classes or internals.
     */
    private static Response internalError(Throwable t) {
        String reference = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 16);
        LOG.log(Level.WARNING, "Request failed (reference " + reference + ")", t);
        int status = t instanceof WebApplicationException w ? w.getResponse().getStatus() : 500;
        return error(status, "internal error (reference " + reference + " in the server log)");
    }

    static Response error(int status, String message) {
        return Response.status(status).entity(Map.of("error", message == null ? "error" : message))
                .type(MediaType.APPLICATION_JSON).build();
    }
}
