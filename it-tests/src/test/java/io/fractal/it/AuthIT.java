package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Bearer tokens on the real API: every call that changes the server, as {@code GET /help} lists them, refuses a
 * stranger and a wrong token with a JSON 401 and {@code WWW-Authenticate}, and nothing changes; predictions,
 * metadata and health stay open; an inference token, once configured, closes predictions and metadata but not
 * health.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class AuthIT extends FractalTestSupport {

    private static final Map<String, Object> IRIS_ROW = Map.of("values", List.of(5.1, 3.5, 1.4, 0.2));

    @Test
    public void everyManagementCallRefusesAStrangerAndAWrongTokenAndChangesNothing() {
        awaitReady("iris");
        HttpResult help = http().anonymous().get("/help");
        assertEquals(help.toString(), 200, help.status);
        List<String> management = new ArrayList<>();
        for (JsonNode call : help.json.path("calls")) {
            String access = call.path("access").asText();
            assertTrue("every call says its access level: " + call, List.of("open", "read", "inference", "management")
                    .contains(access));
            if (!call.path("method").asText().equals("GET") && !access.equals("management")) {
                assertTrue("a call that is not a GET and not management must be a prediction or a listing: " + call,
                        call.path("path").asText().matches(".*(infer|prediction|sendtomodelhost|repository/index)$"));
            }
            if (access.equals("management")) {
                management.add(call.path("method").asText() + " " + call.path("path").asText());
            }
        }
        for (String expected : List.of("POST /api/v1/models/{model}", "DELETE /api/v1/models/{model}",
                "POST /api/v1/models/{model}/default", "POST /api/v1/models/{model}/information",
                "POST /api/v1/modelhosts", "DELETE /api/v1/modelhosts/{id}", "POST /api/v1/modelhosts/{id}/drain",
                "PUT /api/v1/balancer", "POST /v2/repository/models/{model}/load",
                "POST /v2/repository/models/{model}/unload", "GET /api/v1/models/{model}/download")) {
            assertTrue(expected + " is a management call: " + management, management.contains(expected));
        }
        String modelsBefore = http().get("/api/v1/models").body;
        String hostsBefore = hostStates();
        for (String call : management) {
            String method = call.substring(0, call.indexOf(' '));
            String path = call.substring(call.indexOf(' ') + 1).replace("{model}", "iris").replace("{id}", "mh1")
                    .replace("{version}", "1");
            for (Http client : List.of(http().anonymous(), http().withToken("not-the-token"))) {
                HttpResult r = client.send(method, path, "{\"strategy\": \"random\", \"id\": \"x\"}");
                assertEquals(call + ": " + r, 401, r.status);
                String challenge = r.response.headers().firstValue("WWW-Authenticate").orElse("");
                assertTrue(call + ": " + challenge, challenge.startsWith("Bearer realm=\"fractal\""));
                assertTrue(call + ": " + r, r.json.path("error").asText().contains("management token"));
                assertFalse(call + " leaks the token's file content: " + r, r.body.contains(MANAGEMENT_TOKEN));
            }
        }
        assertEquals("a refused call changed the models", modelsBefore, http().get("/api/v1/models").body);
        assertEquals("a refused call changed the modelhosts", hostsBefore, hostStates());

        // Open without a token: predictions, metadata, health.
        Http stranger = http().anonymous();
        assertEquals(200, stranger.post("/api/v1/models/iris/prediction", IRIS_ROW).status);
        assertEquals(200, stranger.get("/v2/models/iris").status);
        await("ready, for a stranger too").atMost(READY_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .until(() -> stranger.get("/v2/health/ready").status == 200);
        assertEquals(200, stranger.get("/api/v1/modelhosts").status);
        // With the token, management works.
        HttpResult drain = http().post("/api/v1/modelhosts/mh2/drain");
        assertEquals(drain.toString(), 200, drain.status);
        HttpResult resume = http().post("/api/v1/modelhosts/mh2/resume");
        assertEquals(resume.toString(), 200, resume.status);
    }

    @Test
    public void anInferenceTokenClosesPredictionsAndMetadataButNotHealth() throws Exception {
        awaitReady("iris");
        String inference = "it-inference-token";
        writeConfig(deployFolder().resolve("io.fractal.auth.cfg"), "management.token", MANAGEMENT_TOKEN,
                "inference.token", inference);
        try {
            Http stranger = http().anonymous();
            await("the inference token is in force").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                    .until(() -> stranger.post("/api/v1/models/iris/prediction", IRIS_ROW).status == 401);
            HttpResult refused = stranger.get("/v2/models/iris");
            assertEquals(refused.toString(), 401, refused.status);
            assertTrue(refused.toString(), refused.json.path("error").asText().contains("inference token"));
            assertEquals(401, stranger.post("/v2/models/iris/infer", "{\"inputs\": []}").status);
            assertEquals(200, stranger.get("/v2/health/ready").status);
            assertEquals(200, stranger.get("/v2/health/live").status);
            assertEquals(200, stranger.get("/help").status);
            assertEquals(200, http().withToken(inference).post("/api/v1/models/iris/prediction", IRIS_ROW).status);
            assertEquals(200, http().post("/api/v1/models/iris/prediction", IRIS_ROW).status); // management token too
            HttpResult notEnough = http().withToken(inference).post("/api/v1/modelhosts/mh2/drain");
            assertEquals("the inference token does not manage: " + notEnough, 401, notEnough.status);
        } finally {
            writeConfig(deployFolder().resolve("io.fractal.auth.cfg"), "management.token", MANAGEMENT_TOKEN);
            await("predictions are open again").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                    .until(() -> http().anonymous().post("/api/v1/models/iris/prediction", IRIS_ROW).status == 200);
        }
    }

    private String hostStates() {
        StringBuilder s = new StringBuilder();
        for (JsonNode h : http().get("/api/v1/modelhosts").json.path("modelhosts")) {
            s.append(h.path("id").asText()).append('=').append(h.path("state").asText()).append(' ');
        }
        HttpResult balancer = http().get("/api/v1/balancer");
        return s + balancer.json.path("strategy").asText();
    }
}
