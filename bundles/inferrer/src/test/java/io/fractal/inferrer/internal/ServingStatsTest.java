package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.InvalidInputException;
import io.fractal.api.inference.Tensor;
import io.fractal.api.repository.ModelRepository;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ServingStatsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aVersionThatServedNothingHasZerosInTritonsShape() throws Exception {
        JsonNode s = tree(new ServingStats().json("iris", 3));

        assertEquals(JSON.readTree("""
                {"name": "iris", "version": "3", "last_inference": 0, "inference_count": 0, "execution_count": 0,
                 "inference_stats": {"success": {"count": 0, "ns": 0}, "fail": {"count": 0, "ns": 0},
                   "queue": {"count": 0, "ns": 0}, "compute_input": {"count": 0, "ns": 0},
                   "compute_infer": {"count": 0, "ns": 0}, "compute_output": {"count": 0, "ns": 0},
                   "cache_hit": {"count": 0, "ns": 0}, "cache_miss": {"count": 0, "ns": 0}},
                 "batch_stats": []}"""), s);
    }

    @Test
    void successesAndFailuresAddUpPerVersion() {
        ServingStats stats = new ServingStats();
        long before = System.currentTimeMillis();
        stats.success("iris", 1, 1000, 100, 600);
        stats.success("iris", 1, 2000, 200, 1200);
        stats.failure("iris", 1, 50);
        stats.success("iris", 2, 7, 1, 2);

        JsonNode one = tree(stats.json("iris", 1));
        assertEquals(2, one.path("inference_count").asLong());
        assertEquals(2, one.path("execution_count").asLong());
        assertEquals(tree(Map.of("count", 2, "ns", 3000)), one.at("/inference_stats/success"));
        assertEquals(tree(Map.of("count", 1, "ns", 50)), one.at("/inference_stats/fail"));
        assertEquals(tree(Map.of("count", 2, "ns", 300)), one.at("/inference_stats/queue"));
        assertEquals(tree(Map.of("count", 2, "ns", 1800)), one.at("/inference_stats/compute_infer"));
        assertTrue(one.path("last_inference").asLong() >= before);

        JsonNode two = tree(stats.json("iris", 2));
        assertEquals(1, two.at("/inference_stats/success/count").asLong());
        assertEquals(0, two.at("/inference_stats/fail/count").asLong());
        assertEquals(0, tree(stats.json("other", 1)).at("/inference_stats/success/count").asLong());
    }

    @Test
    void servingCountsWhatTheBalancerAnswersAndWhatFails() throws Exception {
        InferrerConfiguration config = Fakes.config(Map.of("grace_ms", 5000L));
        Deadlines deadlines = new Deadlines("test-deadlines");
        DynamicService<ModelRepository> repository = new DynamicService<>("r", () -> 5000L, deadlines);
        DynamicService<LoadBalancer> balancer = new DynamicService<>("b", () -> 5000L, deadlines);
        ServingStats stats = new ServingStats();
        Serving serving = new Serving(repository, balancer, () -> null, () -> config, deadlines, stats);
        repository.bind(new Fakes.Repository().with("iris", 2, 1));
        Fakes.Balancer lb = new Fakes.Balancer("b");
        lb.behaviour = r -> CompletableFuture.completedFuture(new InferenceResponse(r.id(), r.model(),
                r.version(), List.of(), "b", 40, 500));
        balancer.bind(lb);

        for (int i = 0; i < 3; i++) {
            serving.infer(new ModelRef("iris", null), null, s -> input(), Set.of(), 30_000).get(1, TimeUnit.SECONDS);
        }
        serving.infer(new ModelRef("iris", 2), null, s -> input(), Set.of(), 30_000).get(1, TimeUnit.SECONDS);
        assertThrows(InvalidInputException.class, () -> serving.infer(new ModelRef("iris", null), null, s -> {
            throw new InvalidInputException("bad");
        }, Set.of(), 30_000));
        lb.behaviour = r -> CompletableFuture.failedFuture(new IllegalStateException("engine failed"));
        CompletableFuture<Serving.Served> failed = serving.infer(new ModelRef("iris", 2), null, s -> input(),
                Set.of(), 30_000);
        assertThrows(ExecutionException.class, () -> failed.get(1, TimeUnit.SECONDS));

        JsonNode one = tree(stats.json("iris", 1));
        assertEquals(3, one.at("/inference_stats/success/count").asLong());
        assertEquals(1, one.at("/inference_stats/fail/count").asLong());
        assertEquals(120, one.at("/inference_stats/queue/ns").asLong());
        assertEquals(1500, one.at("/inference_stats/compute_infer/ns").asLong());
        JsonNode two = tree(stats.json("iris", 2));
        assertEquals(1, two.at("/inference_stats/success/count").asLong());
        assertEquals(1, two.at("/inference_stats/fail/count").asLong());
        deadlines.retire(0);
    }

    @Test
    void theRepositoryStateOfAVersionComesFromItsModelhosts() {
        assertEquals(List.of("READY", ""), List.of(KServeResource.state(List.of(
                status(ModelState.FAILED, "x"), status(ModelState.READY, null)))));
        assertEquals(List.of("LOADING", ""), List.of(KServeResource.state(List.of(status(ModelState.LOADING, null)))));
        assertEquals(List.of("UNAVAILABLE", "failed to load: bad file"),
                List.of(KServeResource.state(List.of(status(ModelState.FAILED, "bad file")))));
        assertEquals(List.of("UNAVAILABLE", "not on any live modelhost"), List.of(KServeResource.state(List.of())));
    }

    /** As a client reads it (numbers as parsed, not as the map held them). */
    private static JsonNode tree(Object value) {
        try {
            return JSON.readTree(JSON.writeValueAsString(value));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static ModelStatusDTO status(ModelState state, String reason) {
        ModelStatusDTO s = new ModelStatusDTO();
        s.state = state;
        s.reason = reason;
        s.engine = "pytorch";
        return s;
    }

    private static List<Tensor> input() {
        return List.of(Tensor.of("input", DataType.FP32, new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f}));
    }
}
