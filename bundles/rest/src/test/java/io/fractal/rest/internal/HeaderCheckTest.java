package io.fractal.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.net.URI;
import java.util.Map;
import org.glassfish.jersey.jackson.JacksonFeature;
import org.glassfish.jersey.server.ApplicationHandler;
import org.glassfish.jersey.server.ContainerRequest;
import org.glassfish.jersey.server.ContainerResponse;
import org.glassfish.jersey.server.ResourceConfig;
import org.junit.jupiter.api.Test;

/** Unparsable Content-Type and Accept headers, through Jersey in memory: a 400 that says which, in JSON. */
class HeaderCheckTest {

    @Path("/x")
    public static final class Resource {
        @GET
        @Produces(MediaType.APPLICATION_JSON)
        public Map<String, Object> get() {
            return Map.of("ok", true);
        }
    }

    private final ApplicationHandler app = new ApplicationHandler(new ResourceConfig()
            .register(JacksonFeature.withoutExceptionMappers()).register(new JsonErrors())
            .register(new HeaderCheck()).register(Resource.class));

    private String[] get(String header, String value) throws Exception {
        ContainerRequest request = new ContainerRequest(URI.create("http://localhost/"),
                URI.create("http://localhost/x"), "GET", null, new org.glassfish.jersey.internal.MapPropertiesDelegate(),
                app.getConfiguration());
        if (header != null) {
            request.header(header, value);
        }
        request.setWriter(new org.glassfish.jersey.server.spi.ContainerResponseWriter() {
            @Override
            public java.io.OutputStream writeResponseStatusAndHeaders(long length, ContainerResponse response) {
                return java.io.OutputStream.nullOutputStream();
            }

            @Override
            public boolean suspend(long t, java.util.concurrent.TimeUnit u, TimeoutHandler h) {
                return false;
            }

            @Override
            public void setSuspendTimeout(long t, java.util.concurrent.TimeUnit u) {
            }

            @Override
            public void commit() {
            }

            @Override
            public void failure(Throwable error) {
            }

            @Override
            public boolean enableResponseBuffering() {
                return false;
            }
        });
        ContainerResponse response = app.apply(request).get();
        return new String[] {Integer.toString(response.getStatus()), String.valueOf(response.getMediaType()),
                String.valueOf(response.getEntity())};
    }

    @Test
    void wellFormedHeadersPass() throws Exception {
        String[] ok = get(null, null);
        assertEquals("200", ok[0]);
        assertEquals("{ok=true}", ok[2]);
        assertEquals("200", get("Accept", "application/json, */*;q=0.1")[0]);
        assertEquals("200", get("Content-Type", "text/plain; charset=UTF-8")[0]);
    }

    @Test
    void anUnparsableAcceptIs400InJson() throws Exception {
        for (String accept : new String[] {"text/html;q=abc", "*/*;q=x", "application/json;q=1;q"}) {
            String[] r = get("Accept", accept);
            assertEquals("400", r[0], accept + " -> " + String.join(" ", r));
            assertEquals("application/json", r[1], accept);
            assertTrue(r[2].contains("the Accept header is not a list of media types"), r[2]);
        }
    }

    @Test
    void anUnparsableContentTypeIs400InJson() throws Exception {
        for (String type : new String[] {"garbage", "/", "text/plain; charset"}) {
            String[] r = get("Content-Type", type);
            assertEquals("400", r[0], type + " -> " + String.join(" ", r));
            assertTrue(r[2].contains("the Content-Type header is not a media type"), r[2]);
        }
    }
}
