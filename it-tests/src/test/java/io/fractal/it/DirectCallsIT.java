package io.fractal.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * The direct calls (predictions served without JAX-RS dispatch) answer exactly as Jersey does: every request is sent
 * twice, plain (which the direct path takes) and with an {@code Accept} list (which it leaves to Jersey), and the two
 * answers must have the same status, content type, headers that matter and body (the modelhost that answered
 * aside). Successes, bad JSON, bad shapes, unknown models, versions and outputs, bad headers, non-finite numbers,
 * binary answers, and a wrong inference token when one is configured.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class DirectCallsIT extends FractalTestSupport {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final String V1 = "/api/v1/models/iris/prediction";
    private static final String V2 = "/v2/models/iris/infer";
    private static final String ROW = "[5.1, 3.5, 1.4, 0.2]";

    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("iris"), testLibraries());
    }

    @Test
    public void directAndJerseyAnswersAreTheSame() throws Exception {
        awaitReady("iris");
        List<String[]> cases = List.of(
                new String[] {V1, "{\"values\": " + ROW + "}"},
                new String[] {V1, "{\"values\": [" + ROW + ", " + ROW + "]}"},
                new String[] {"/api/v1/models/iris:1/prediction", "{\"values\": " + ROW + "}"},
                new String[] {V1, "{\"values\": [1,"},
                new String[] {V1, ""},
                new String[] {V1, "{\"values\": [1, 2, 3]}"},
                new String[] {V1, "{\"values\": [1e400, 1, 1, 1]}"},
                new String[] {V1, "{\"nothing\": 1}"},
                new String[] {"/api/v1/models/nosuch/prediction", "{\"values\": " + ROW + "}"},
                new String[] {"/api/v1/models/iris:9/prediction", "{\"values\": " + ROW + "}"},
                new String[] {V2, v2("")},
                new String[] {"/v2/models/iris/versions/1/infer", v2("")},
                new String[] {"/v2/models/iris/versions/9/infer", v2("")},
                new String[] {V2, v2(", \"outputs\": [{\"name\": \"nosuch\"}]")},
                new String[] {V2, "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", "
                        + "\"data\": [1, 2, 3]}]}"},
                new String[] {V2, "[]"},
                new String[] {"/v2/models/nosuch/infer", v2("")});
        for (String[] c : cases) {
            same(c[0], c[1], null);
        }
        same(V1, "{\"values\": " + ROW + "}", new String[] {"X-Request-Timeout-Ms", "soon"});
        same(V1, "{\"values\": " + ROW + "}", new String[] {"X-Request-Timeout-Ms", "5000"});
        same(V2, v2(", \"parameters\": {\"binary_data_output\": true}"), null);
        // A JSON answer to a client that takes JSON is returned as the object itself, which JAX-RS may write as JSON
        // only; a client that asks for octet-stream alone still gets the JSON answer, its type stated.
        for (String accept : List.of("application/octet-stream", "application/json", "*/*", "text/plain, */*;q=0.1")) {
            HttpResponse<byte[]> r = send(V2, v2(""), null, accept);
            assertEquals("Accept: " + accept + ": status", 200, r.statusCode());
            assertEquals("Accept: " + accept + ": content type", "application/json", mediaType(r));
            assertEquals("Accept: " + accept + ": outputs", "probabilities",
                    JSON.readTree(r.body()).path("outputs").path(0).path("name").asText());
        }
    }

    /** Sends the request both ways and compares what matters of the two answers. */
    private void same(String path, String body, String[] header) throws Exception {
        HttpResponse<byte[]> direct = send(path, body, header, null);
        HttpResponse<byte[]> jersey = send(path, body, header, "application/json, application/octet-stream");
        String what = "POST " + path + " " + body + (header == null ? "" : " with " + header[0] + ": " + header[1]);
        assertEquals(what + ": status", jersey.statusCode(), direct.statusCode());
        assertEquals(what + ": content type", mediaType(jersey), mediaType(direct));
        for (String h : List.of("Retry-After", "WWW-Authenticate", "Inference-Header-Content-Length")) {
            assertEquals(what + ": " + h, jersey.headers().firstValue(h), direct.headers().firstValue(h));
        }
        if ("application/json".equals(mediaType(jersey))) {
            assertEquals(what + ": body", comparable(jersey.body()), comparable(direct.body()));
        } else {
            assertArrayEquals(what + ": body", jersey.body(), direct.body());
        }
    }

    private static String v2(String more) {
        return "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": " + ROW
                + "}]" + more + "}";
    }

    /** The answer's JSON without what may differ between two calls: the modelhost, an error's log reference. */
    private static JsonNode comparable(byte[] body) throws IOException {
        JsonNode json = JSON.readTree(body);
        if (json instanceof ObjectNode o) {
            o.remove("modelhost");
            if (o.path("error").asText().contains("reference")) {
                o.put("error", "internal error");
            }
        }
        return json;
    }

    private static String mediaType(HttpResponse<?> r) {
        return r.headers().firstValue("Content-Type").map(t -> t.split(";")[0].trim().toLowerCase()).orElse("");
    }

    private HttpResponse<byte[]> send(String path, String body, String[] header, String accept) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(http().base() + path)).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (accept != null) {
            b.header("Accept", accept);
        }
        if (header != null) {
            b.header(header[0], header[1]);
        }
        HttpResponse<byte[]> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        assertTrue("no 5xx: " + r.statusCode() + " " + new String(r.body()), r.statusCode() < 500);
        return r;
    }
}
