package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.host.ModelHostAdmin;
import io.fractal.api.host.ModelHostConfigDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InvalidInputException;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import jakarta.ws.rs.core.Response;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The REST resources as Declarative Services keeps them: one instance each, registered all along, on one
 * {@link InferrerServices}, while the repository, the balancer and the modelhost administration are updated under
 * them.
 */
class ResourcesAcrossSwapsTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final InferrerServices services = new InferrerServices(Fakes.config(Map.of("grace_ms", 5000L)));

    @AfterEach
    void deactivate() {
        services.deactivate();
    }

    @Test
    void theV1ResourceServesAcrossRepositoryAndBalancerUpdates() throws Exception {
        ModelsResource resource = new ModelsResource(services);
        Fakes.Repository repository = new Fakes.Repository().with("iris", 1, 1);
        services.bindRepository(repository);
        Fakes.Balancer first = new Fakes.Balancer("first");
        services.bindBalancer(first);
        assertEquals("first", predictV1(resource, null).get(1, TimeUnit.SECONDS).get("modelhost"));

        // the balancer bundle is updated: a prediction waits for the new balancer instead of failing
        services.unbindBalancer(first);
        CompletableFuture<Map<String, Object>> waiting = predictV1(resource, null);
        assertThrows(TimeoutException.class, () -> waiting.get(100, TimeUnit.MILLISECONDS));
        services.bindBalancer(new Fakes.Balancer("second"));
        Map<String, Object> answer = waiting.get(2, TimeUnit.SECONDS);
        assertEquals("second", answer.get("modelhost"));
        assertEquals("[1.0,5.1]", answer.get("values").toString());

        // the repository bundle is updated: a listing waits for the new repository
        services.unbindRepository(repository);
        CompletableFuture<Map<String, Object>> listing = CompletableFuture.supplyAsync(resource::list);
        assertThrows(TimeoutException.class, () -> listing.get(100, TimeUnit.MILLISECONDS));
        services.bindRepository(new Fakes.Repository().with("iris", 1, 1).with("wine", 2, 2));
        assertEquals(2, ((List<?>) listing.get(2, TimeUnit.SECONDS).get("models")).size());
    }

    @Test
    void requestsReachingAnInstanceBeingDeactivatedFinishOnItsServices() throws Exception {
        ModelsResource resource = new ModelsResource(services);
        Fakes.Repository repository = new Fakes.Repository().with("iris", 1, 1);
        Fakes.Balancer balancer = new Fakes.Balancer("b");
        services.bindRepository(repository);
        services.bindBalancer(balancer);
        // the inferrer bundle is updated: DS deactivates the old resources, then their shared services, then unbinds
        // the references of those, while the REST layer may still hand the old resources a request or two
        services.deactivate();
        services.unbindBalancer(balancer);
        services.unbindRepository(repository);
        long start = System.nanoTime();
        assertEquals("b", predictV1(resource, null).get(1, TimeUnit.SECONDS).get("modelhost"));
        assertEquals(1, ((List<?>) resource.list().get("models")).size());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1), "it waited for a service");
    }

    @Test
    void theV1PredictionTakesTheClientsShorterDeadline() throws Exception {
        ModelsResource resource = new ModelsResource(services);
        services.bindRepository(new Fakes.Repository().with("iris", 1, 1));
        services.bindBalancer(Fakes.Balancer.silent("silent"));
        long start = System.nanoTime();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> predictV1(resource, "150").get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3));
        assertThrows(InvalidInputException.class, () -> predictV1(resource, "later"));
    }

    @Test
    void theV2ResourceWaitsForItsServicesAndTakesTritonsTimeout() throws Exception {
        KServeResource resource = new KServeResource(services, Fakes.context());
        assertEquals(Map.of("live", true), resource.live());
        CompletableFuture<Map<String, Object>> waiting = predictV2(resource, null, null);
        assertThrows(TimeoutException.class, () -> waiting.get(100, TimeUnit.MILLISECONDS));
        services.bindRepository(new Fakes.Repository().with("iris", 1, 1));
        services.bindBalancer(new Fakes.Balancer("b"));
        Map<String, Object> answer = waiting.get(2, TimeUnit.SECONDS);
        assertEquals("iris", answer.get("model_name"));
        assertEquals(200, resource.modelReady("iris").getStatus());

        services.bindBalancer(Fakes.Balancer.silent("silent"));
        long start = System.nanoTime();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> predictV2(resource, null, 150_000L).get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3));
        e = assertThrows(ExecutionException.class, () -> predictV2(resource, "100", null).get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, e.getCause());
        assertThrows(InvalidInputException.class, () -> KServeResource.timeoutMicros(
                JSON.readTree("{\"parameters\": {\"timeout\": \"soon\"}}")));
        assertNull(KServeResource.timeoutMicros(JSON.readTree("{\"parameters\": {\"priority\": 1}}")));
    }

    @Test
    void theSeedAndModelhostResourcesWaitForTheirServices() throws Exception {
        SeedResource seed = new SeedResource(services, Fakes.context());
        assertEquals("1.2.3", seed.welcome().get("version"));
        CompletableFuture<Map<String, Object>> echo = seed.sendToModelHost(JSON.readTree("{\"data\": [1, 2]}"))
                .toCompletableFuture();
        assertThrows(TimeoutException.class, () -> echo.get(100, TimeUnit.MILLISECONDS));
        services.bindBalancer(new Fakes.Balancer("b"));
        assertEquals(Map.of("b", 2), echo.get(2, TimeUnit.SECONDS).get("spread"));

        // a configuration change reaches every resource at once, without restarting any
        services.modified(Fakes.config(Map.of("grace_ms", 100L)));
        ModelHostsResource hosts = new ModelHostsResource(services);
        long start = System.nanoTime();
        CapacityExceededException away = assertThrows(CapacityExceededException.class, () -> hosts.drain("mh1"));
        assertTrue(away.getMessage().startsWith("the modelhost administration is not available (waited 100 ms)"),
                away.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3));
        services.bindAdmin(admin());
        assertEquals(Map.of("draining", "mh1"), hosts.drain("mh1"));
        assertFalse(hosts.list().isEmpty());
    }

    @Test
    void v1AndV2CountInTheSameStatistics() throws Exception {
        ModelsResource v1 = new ModelsResource(services);
        KServeResource v2 = new KServeResource(services, Fakes.context());
        services.bindRepository(new Fakes.Repository().with("iris", 1, 1));
        services.bindBalancer(new Fakes.Balancer("b"));
        predictV1(v1, null).get(1, TimeUnit.SECONDS);
        predictV2(v2, null, null).get(1, TimeUnit.SECONDS);

        JsonNode stats = JSON.valueToTree(v2.stats("iris")).at("/model_stats/0/inference_stats/success/count");
        assertEquals(2, stats.asLong());
        // statistics belong to the services instance, not to the JVM: a new one (the bundle updated) starts at zero
        InferrerServices next = new InferrerServices(Fakes.config(Map.of()));
        try {
            next.bindRepository(new Fakes.Repository().with("iris", 1, 1));
            KServeResource fresh = new KServeResource(next, Fakes.context());
            assertEquals(0, JSON.valueToTree(fresh.stats("iris"))
                    .at("/model_stats/0/inference_stats/success/count").asLong());
        } finally {
            next.deactivate();
        }
    }

    private static CompletableFuture<Map<String, Object>> predictV1(ModelsResource resource, String timeout)
            throws Exception {
        JsonNode body = JSON.readTree("{\"values\": [5.1, 3.5, 1.4, 0.2]}");
        return resource.predict("iris", timeout, body).toCompletableFuture();
    }

    @SuppressWarnings("unchecked")
    private static CompletableFuture<Map<String, Object>> predictV2(KServeResource resource, String timeout,
            Long micros) throws Exception {
        String parameters = micros == null ? "" : ", \"parameters\": {\"timeout\": " + micros + "}";
        byte[] body = ("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": "
                + "\"FP32\", \"data\": [5.1, 3.5, 1.4, 0.2]}]" + parameters + "}").getBytes(StandardCharsets.UTF_8);
        CompletableFuture<Object> answer;
        try {
            Object r = resource.infer("iris", timeout, null, null, null, null, null, new ByteArrayInputStream(body));
            answer = r instanceof CompletionStage<?> stage ? (CompletableFuture<Object>) stage.toCompletableFuture()
                    : CompletableFuture.completedFuture(r);
        } catch (CompletionException e) {
            answer = CompletableFuture.failedFuture(e.getCause()); // answered at once, with a failure
        }
        // a JSON answer to a client that takes JSON is the object itself; anything else a Response
        return answer.thenApply(r -> (Map<String, Object>) (r instanceof Response response ? response.getEntity() : r));
    }

    private static ModelHostAdmin admin() {
        return (ModelHostAdmin) Proxy.newProxyInstance(ResourcesAcrossSwapsTest.class.getClassLoader(),
                new Class<?>[] {ModelHostAdmin.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "drain", "resume", "remove" -> true;
                    case "create" -> (ModelHostConfigDTO) args[0];
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
