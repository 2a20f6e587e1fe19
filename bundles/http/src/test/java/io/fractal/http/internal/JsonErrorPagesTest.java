package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The pages Grizzly answers by itself (a failed handler, no handler for a path) are JSON, labelled as JSON. */
class JsonErrorPagesTest {

    private HttpServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.shutdownNow();
        }
    }

    @Test
    void grizzlysOwnPagesAreJson() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        server = new HttpServer();
        server.addListener(new NetworkListener("test", "127.0.0.1", port));
        server.getServerConfiguration().setDefaultErrorPageGenerator(new JsonErrorPages());
        server.getServerConfiguration().addHttpHandler(new HttpHandler() {
            @Override
            public void service(Request request, Response response) {
                throw new IllegalStateException("/secret/path");
            }
        }, "/fails");
        server.start();
        java.util.logging.Logger.getLogger("org.glassfish.grizzly").setLevel(java.util.logging.Level.OFF);
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        for (String[] c : new String[][] {{"/fails", "500", "{\"error\":\"500 Internal Server Error\"}"},
                {"/nothing-here", "404", "{\"error\":\"404 Not Found\"}"}}) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + c[0]))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(Integer.parseInt(c[1]), r.statusCode(), r.body());
            assertEquals("application/json;charset=UTF-8", r.headers().firstValue("Content-Type").orElse(""), c[0]);
            assertEquals(c[2], r.body());
        }
    }
}
