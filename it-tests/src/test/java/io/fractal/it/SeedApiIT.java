package io.fractal.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** The server's first calls: who it is, what it offers, and the round trip through the modelhosts. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SeedApiIT extends FractalTestSupport {

    @Before
    public void serverUp() {
        awaitServer();
    }

    @Test
    public void rootNamesTheServer() {
        HttpResult root = http().get("/");

        assertEquals(root.toString(), 200, root.status);
        assertEquals(root.toString(), "Fractal ML Server", root.json.path("name").asText());
        assertFalse(root.toString(), root.json.path("version").asText().isBlank());
        assertFalse(root.toString(), root.json.path("message").asText().isBlank());
    }

    @Test
    public void answersAClientThatOffersAnHttp2Upgrade() throws Exception {
        // Java's HttpClient, left to its defaults, sends "Upgrade: h2c" on a plain-HTTP request
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(http().base().resolve("/")).timeout(Duration.ofSeconds(10)).GET().build();

        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());

        assertEquals(response.body(), 200, response.statusCode());
        assertEquals(response.body(), "Fractal ML Server", json(response.body()).path("name").asText());
    }

    @Test
    public void helpListsEveryCall() {
        HttpResult help = http().get("/help");

        assertEquals(help.toString(), 200, help.status);
        JsonNode calls = help.json.path("calls");
        assertTrue(help.toString(), calls.isArray() && calls.size() > 0);
        Set<String> listed = new TreeSet<>();
        for (JsonNode call : calls) {
            assertFalse("method of " + call, call.path("method").asText().isBlank());
            assertTrue("path of " + call, call.path("path").asText().startsWith("/"));
            assertFalse("description of " + call, call.path("description").asText().isBlank());
            // path parameters may be named anyhow: {name}, {model}, ...
            listed.add(call.path("method").asText() + " " + call.path("path").asText().replaceAll("\\{[^}]*}", "{}"));
        }
        List<String> expected = List.of(
                "GET /", "GET /help",
                "POST /api/test/sendtomodelhost",
                "GET /api/v1/models", "GET /api/v1/models/{}", "POST /api/v1/models/{}/prediction",
                "GET /api/v1/modelhosts",
                "GET /v2", "GET /v2/health/live", "GET /v2/health/ready",
                "GET /v2/models/{}", "GET /v2/models/{}/versions/{}", "GET /v2/models/{}/ready",
                "POST /v2/models/{}/infer", "POST /v2/models/{}/versions/{}/infer");
        for (String call : expected) {
            assertTrue(call + " is not in /help: " + listed, listed.contains(call));
        }
    }

    @Test
    public void sendToModelhostReturnsEveryElementInOrder() {
        HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("data", List.of(1, 2, 3, 4, 5, 6)));

        assertEquals(echo.toString(), 200, echo.status);
        JsonNode results = echo.json.path("results");
        assertEquals(echo.toString(), 6, results.size());
        Map<String, Integer> counted = new HashMap<>();
        for (int i = 0; i < 6; i++) {
            JsonNode result = results.get(i);
            assertEquals("element " + i + " of " + echo, i + 1, result.path("data").asInt());
            String host = result.path("modelhost").asText();
            assertTrue("modelhost of element " + i + " of " + echo, MODELHOSTS.contains(host));
            assertFalse("worker of element " + i + " of " + echo, result.path("worker").asText().isBlank());
            counted.merge(host, 1, Integer::sum);
        }
        JsonNode spread = echo.json.path("spread");
        for (Map.Entry<String, Integer> host : counted.entrySet()) {
            assertEquals("spread of " + host.getKey() + " in " + echo, (int) host.getValue(), spread.path(host.getKey()).asInt());
        }
        int total = 0;
        for (JsonNode count : spread) {
            total += count.asInt();
        }
        assertEquals("sum of the spread in " + echo, 6, total);
    }

    @Test
    public void sendToModelhostSpreadsOverBothModelhosts() {
        // the balancer breaks ties at random: with 24 elements, all on one modelhost is a one-in-eight-million chance
        List<Integer> data = IntStream.rangeClosed(1, 24).boxed().collect(Collectors.toList());

        HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("data", data));

        assertEquals(echo.toString(), 200, echo.status);
        for (String host : MODELHOSTS) {
            assertTrue(host + " is missing from the spread of " + echo, echo.json.path("spread").path(host).asInt() > 0);
        }
    }

    @Test
    public void sendToModelhostWithoutDataIs400() {
        HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("values", List.of(1, 2)));

        assertEquals(echo.toString(), 400, echo.status);
        assertFalse(echo.toString(), echo.error() == null || echo.error().isBlank());
    }

    @Test
    public void sendToModelhostWithDataNotAnArrayIs400() {
        HttpResult echo = http().post("/api/test/sendtomodelhost", Map.of("data", "1,2,3"));

        assertEquals(echo.toString(), 400, echo.status);
        assertFalse(echo.toString(), echo.error() == null || echo.error().isBlank());
    }
}
