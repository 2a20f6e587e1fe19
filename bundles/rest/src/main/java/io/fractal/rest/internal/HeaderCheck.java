package io.fractal.rest.internal;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.PreMatching;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

/**
 * Refuses a request whose Content-Type or Accept header is not a media type (list) with a 400 that says which. Jersey
 * parses them while matching and writing, and answered an unparsable one with an empty 400: the JSON error it mapped
 * could not be written against an Accept it could not read. The bad header is dropped so that this answer can.
 */
@PreMatching
final class HeaderCheck implements ContainerRequestFilter {

    @Override
    public void filter(ContainerRequestContext request) {
        String problem = null;
        try {
            request.getMediaType();
        } catch (RuntimeException e) {
            request.getHeaders().remove(HttpHeaders.CONTENT_TYPE);
            problem = "the Content-Type header is not a media type (such as application/json)";
        }
        try {
            request.getAcceptableMediaTypes();
        } catch (RuntimeException e) {
            request.getHeaders().remove(HttpHeaders.ACCEPT);
            problem = problem != null ? problem : "the Accept header is not a list of media types (such as "
                    + "application/json or */*)";
        }
        if (problem != null) {
            request.getHeaders().put(HttpHeaders.ACCEPT, List.of(MediaType.APPLICATION_JSON));
            request.abortWith(JsonErrors.error(400, problem));
        }
    }
}
