package io.fractal.http.internal;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.glassfish.grizzly.http.server.ErrorPageGenerator;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;

/** What the listener answers itself, outside any application: {@code {"error": "..."}}, as the API does. */
final class JsonErrorPages implements ErrorPageGenerator {

    @Override
    public String generate(Request request, int status, String reasonPhrase, String description, Throwable exception) {
        if (request != null && request.getResponse() != null) {
            // Grizzly labels what a generator returns text/html unless a type is set
            request.getResponse().setContentType("application/json;charset=UTF-8");
        }
        boolean plain = description == null || description.isBlank() || description.equals(reasonPhrase);
        return body(status + " " + reasonPhrase + (plain ? "" : ": " + description));
    }

    static String body(String message) {
        return "{\"error\":\"" + new String(JsonStringEncoder.getInstance().quoteAsString(message)) + "\"}";
    }

    static void send(Response response, int status, String message, int retryAfterSeconds) throws IOException {
        byte[] body = body(message).getBytes(StandardCharsets.UTF_8);
        response.setStatus(status);
        response.setContentType("application/json");
        if (retryAfterSeconds > 0) {
            response.setHeader("Retry-After", Integer.toString(retryAfterSeconds));
        }
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }
}
