package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Dynamic batching on the real digits CNN: the same model file uploaded a second time as {@code digits-batched} with
 * {@code max_batch_size} in its metadata. Under concurrent load the batched model answers every request with exactly
 * the probabilities the unbatched one gives (to 1e-6), its engine calls hold several requests (the batch size
 * histogram counts fewer calls than requests), Triton's configuration shows the settings, a request with more rows
 * than the batch size is a 400, and a configuration file turns batching on and off live for the sample model.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class BatchingIT extends FractalTestSupport {

    private static final String BATCHED = "digits-batched";
    private static final int MAX_BATCH = 16;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer("digits"), testLibraries());
    }

    @Before
    public void modelsDeployed() throws Exception {
        awaitReady("digits");
        if (http().get("/api/v1/models/" + BATCHED).status == 404) {
            Path sample = deployFolder().resolve("digits");
            ObjectNode metadata = (ObjectNode) JSON.readTree(Files.readAllBytes(sample.resolve("model.json")));
            metadata.put("max_batch_size", MAX_BATCH);
            HttpResult upload = postMultipart("/api/v1/models/" + BATCHED, Map.of(
                    "path", FilePart.of("model.pt", Files.readAllBytes(sample.resolve("model.pt"))),
                    "metadata", FilePart.of("model.json", JSON.writeValueAsBytes(metadata))));
            assertEquals(upload.toString(), 201, upload.status);
        }
        awaitReady(BATCHED);
    }

    @Test
    public void theConfigurationShowsTheBatchingAsTritonDoes() {
        HttpResult batched = http().get("/v2/models/" + BATCHED + "/config");
        assertEquals(batched.toString(), 200, batched.status);
        assertEquals(batched.toString(), MAX_BATCH, batched.json.path("max_batch_size").asInt());
        assertEquals(batched.toString(), 0,
                batched.json.path("dynamic_batching").path("max_queue_delay_microseconds").asInt(-1));
        // with max_batch_size > 0, dims leave out the batch dimension
        assertEquals(batched.toString(), json(List.of(1, 8, 8)), batched.json.path("input").path(0).path("dims"));
        assertEquals(batched.toString(), json(List.of(10)), batched.json.path("output").path(0).path("dims"));

        HttpResult plain = http().get("/v2/models/digits/config");
        assertEquals(plain.toString(), 0, plain.json.path("max_batch_size").asInt(-1));
        assertTrue(plain.toString(), plain.json.path("dynamic_batching").isMissingNode());
        assertEquals(plain.toString(), json(List.of(-1, 1, 8, 8)), plain.json.path("input").path(0).path("dims"));
    }

    @Test
    public void underConcurrentLoadEachRequestGetsExactlyTheUnbatchedAnswerInFewerEngineCalls() throws Exception {
        JsonNode images = expected("digits").path("inputs").path("image").path("data");
        int n = images.size();
        // the unbatched answer of each image, one request at a time
        List<JsonNode> alone = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            alone.add(infer("digits", images.get(i)));
        }
        double callsBefore = batchCalls();
        int requests = 64 * 10;
        ExecutorService clients = Executors.newFixedThreadPool(64);
        try {
            List<Future<JsonNode>> answers = new ArrayList<>();
            for (int r = 0; r < requests; r++) {
                JsonNode image = images.get(r % n);
                answers.add(clients.submit(() -> infer(BATCHED, image)));
            }
            for (int r = 0; r < requests; r++) {
                JsonNode got = answers.get(r).get();
                JsonNode want = alone.get(r % n);
                for (int k = 0; k < want.size(); k++) {
                    assertEquals("request " + r + ", class " + k, want.get(k).asDouble(), got.get(k).asDouble(), 1e-6);
                }
            }
        } finally {
            clients.shutdownNow();
        }
        double calls = batchCalls() - callsBefore;
        assertTrue("engine calls " + calls + " for " + requests + " requests", calls > 0 && calls < requests);
    }

    @Test
    public void aRequestWithMoreRowsThanTheBatchSizeIsRefused() {
        JsonNode image = expected("digits").path("inputs").path("image").path("data").get(0);
        List<JsonNode> rows = new ArrayList<>();
        for (int i = 0; i <= MAX_BATCH; i++) {
            rows.add(image);
        }
        HttpResult r = http().post("/api/v1/models/" + BATCHED + "/prediction", Map.of("values", rows));
        assertEquals(r.toString(), 400, r.status);
        assertTrue(r.toString(), r.json.path("error").asText().contains("max_batch_size"));
        HttpResult fits = http().post("/api/v1/models/" + BATCHED + "/prediction", Map.of("values",
                rows.subList(0, MAX_BATCH)));
        assertEquals(fits.toString(), 200, fits.status);
        assertEquals(fits.toString(), MAX_BATCH, fits.json.path("values").size());
    }

    @Test
    public void aConfigurationFileTurnsBatchingOnAndOffLive() throws Exception {
        Path cfg = deployFolder().resolve("io.fractal.batching.cfg");
        writeConfig(cfg, "digits.max_batch_size", 8, "digits.max_queue_delay_us", 100);
        try {
            await("batching of digits on").atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                HttpResult c = http().get("/v2/models/digits/config");
                assertEquals(c.toString(), 8, c.json.path("max_batch_size").asInt());
                assertEquals(c.toString(), 100,
                        c.json.path("dynamic_batching").path("max_queue_delay_microseconds").asInt());
            });
            JsonNode image = expected("digits").path("inputs").path("image").path("data").get(1);
            assertEquals(10, infer("digits", image).size()); // serves on, with no reload
        } finally {
            Files.delete(cfg);
        }
        await("batching of digits off").atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            HttpResult c = http().get("/v2/models/digits/config");
            assertEquals(c.toString(), 0, c.json.path("max_batch_size").asInt(-1));
        });
    }

    /** One image through v1: its class probabilities. */
    private JsonNode infer(String model, JsonNode image) {
        HttpResult r = http().post("/api/v1/models/" + model + "/prediction", Map.of("values", image));
        assertEquals(r.toString(), 200, r.status);
        return r.json.path("values");
    }

    /** How many engine calls the batched model made, on every host: the batch size histogram's count. */
    private double batchCalls() {
        Exposition metrics = Exposition.parse(http().get("/metrics", "text/plain").body);
        return metrics.sum("fractal_batch_size_count", "model", BATCHED);
    }
}
