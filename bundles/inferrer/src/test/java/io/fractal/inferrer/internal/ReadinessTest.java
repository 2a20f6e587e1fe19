package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What /v2/health/ready answers, from the repository's and the modelhosts' states. */
class ReadinessTest {

    /** Model states by "model:version" and host, and the hosts' own states. */
    private final Map<String, Map<String, ModelState>> states = new HashMap<>();
    private final Map<String, String> hostStates = new HashMap<>();

    private final LoadBalancer balancer = (LoadBalancer) Proxy.newProxyInstance(getClass().getClassLoader(),
            new Class<?>[] {LoadBalancer.class}, (proxy, method, args) -> switch (method.getName()) {
                case "status" -> status((String) args[0], (Integer) args[1]);
                case "modelHosts" -> hosts();
                default -> throw new UnsupportedOperationException(method.getName());
            });

    private Map<String, ModelStatusDTO> status(String model, int version) {
        Map<String, ModelStatusDTO> out = new HashMap<>();
        states.getOrDefault(model + ":" + version, Map.of()).forEach((host, state) -> {
            ModelStatusDTO s = new ModelStatusDTO();
            s.model = model;
            s.version = version;
            s.state = state;
            out.put(host, s);
        });
        return out;
    }

    private List<ModelHostDTO> hosts() {
        return hostStates.entrySet().stream().map(e -> {
            ModelHostDTO h = new ModelHostDTO();
            h.id = e.getKey();
            h.state = e.getValue();
            h.loaded = states.values().stream().filter(m -> m.containsKey(e.getKey())).map(m -> {
                ModelStatusDTO s = new ModelStatusDTO();
                s.state = m.get(e.getKey());
                return s;
            }).toList();
            return h;
        }).toList();
    }

    private void state(String modelVersion, String host, ModelState state) {
        states.computeIfAbsent(modelVersion, k -> new HashMap<>()).put(host, state);
        hostStates.putIfAbsent(host, "RUNNING");
    }

    @Test
    void notReadyUntilTheRepositoryHasTakenInWhatWasThereAtStart() {
        Fakes.Repository repo = new Fakes.Repository().with("iris", 1, 1);
        repo.settled = false;
        state("iris:1", "mh1", ModelState.READY);
        Readiness readiness = new Readiness();
        assertTrue(readiness.notReady(repo, balancer).contains("taking in"));
        repo.settled = true;
        assertNull(readiness.notReady(repo, balancer));
    }

    @Test
    void notReadyWhileTheRequestPathWarmsUp() {
        Fakes.Repository repo = new Fakes.Repository().with("iris", 1, 1);
        state("iris:1", "mh1", ModelState.READY);
        Readiness readiness = new Readiness();
        readiness.expectWarmup();
        assertNull(readiness.loading(repo, balancer, repo.models()), "the models are loaded: warm-up may start");
        assertTrue(readiness.notReady(repo, balancer).contains("warming up the request path"));
        readiness.warmedUp();
        assertNull(readiness.notReady(repo, balancer));
    }

    @Test
    void atStartEveryModelMustBeReadyOrFailedForGood() {
        Fakes.Repository repo = new Fakes.Repository().with("iris", 1, 1).with("broken", 1, 1);
        state("iris:1", "mh1", ModelState.READY);
        state("broken:1", "mh1", ModelState.LOADING);
        Readiness readiness = new Readiness();
        String reason = readiness.notReady(repo, balancer);
        assertTrue(reason.contains("loading") && reason.contains("broken:1"), reason);
        state("broken:1", "mh1", ModelState.FAILED);
        assertNull(readiness.notReady(repo, balancer), "a model that failed for good does not hold the server back");
    }

    @Test
    void onceStartedABrokenModelDoesNotPullTheServerButDrainingEveryHostDoes() {
        Fakes.Repository repo = new Fakes.Repository().with("iris", 1, 1);
        state("iris:1", "mh1", ModelState.READY);
        state("iris:1", "mh2", ModelState.READY);
        Readiness readiness = new Readiness();
        assertNull(readiness.notReady(repo, balancer));
        repo.with("uploaded", 1, 1);
        state("uploaded:1", "mh1", ModelState.FAILED);
        assertNull(readiness.notReady(repo, balancer), "one broken upload leaves the server ready");
        hostStates.put("mh1", "DRAINING");
        assertNull(readiness.notReady(repo, balancer), "mh2 still serves");
        hostStates.put("mh2", "DRAINING");
        assertTrue(readiness.notReady(repo, balancer).contains("modelhost"));
    }

    @Test
    void servicesThatAreAwayAreReasons() {
        Readiness readiness = new Readiness();
        assertTrue(readiness.notReady(null, balancer).contains("repository"));
        assertTrue(readiness.notReady(new Fakes.Repository(), null).contains("balancer"));
        assertNull(readiness.notReady(new Fakes.Repository(), balancer), "no model at all: ready");
    }
}
