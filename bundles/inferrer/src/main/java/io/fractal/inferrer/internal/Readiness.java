package io.fractal.inferrer.internal;

import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What {@code /v2/health/ready} means: at start, not ready until the repository has taken in its store and
 * {@code deploy/}, and every model's default version is READY on a modelhost or has failed there for good (or the
 * start-up timeout has passed); from then on, ready while some modelhost that takes requests serves some model
 * (or there is no model at all). One broken model does not make the server unready: its own readiness says it.
 * At the first start in a JVM, also not ready while {@link Warmup} warms the request path. (The listener answers
 * false by itself once the process is stopping.)
 */
final class Readiness {

    static final long STARTUP_TIMEOUT_SECONDS = 120;

    private final long startupDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STARTUP_TIMEOUT_SECONDS);
    private volatile boolean started;
    private volatile boolean warm = true;

    /** Null when ready, else why not. Never blocks: a service that is away is a reason. */
    String notReady(ModelRepository repository, LoadBalancer balancer) {
        if (repository == null) {
            return "the model repository is not running";
        }
        if (balancer == null) {
            return "the balancer is not running";
        }
        List<ModelDTO> models = repository.models();
        if (!started) {
            String loading = loading(repository, balancer, models);
            if (loading != null && !startupTimedOut()) {
                return loading;
            }
            started = true;
        }
        if (!warm) {
            return "starting: warming up the request path";
        }
        if (models.isEmpty()) {
            return null;
        }
        for (ModelHostDTO host : balancer.modelHosts()) {
            if ("RUNNING".equals(host.state) && host.loaded != null
                    && host.loaded.stream().anyMatch(s -> s.state == ModelState.READY)) {
                return null;
            }
        }
        return "no modelhost that takes requests serves a model (draining, stopped or failed)";
    }

    /**
     * Null once the repository has taken in its store and {@code deploy/} and every model's default version is
     * READY on a modelhost or has failed there for good; else what is still loading.
     */
    String loading(ModelRepository repository, LoadBalancer balancer, List<ModelDTO> models) {
        if (!repository.settled()) {
            return "starting: taking in the stored models and deploy/";
        }
        List<String> loading = new ArrayList<>();
        for (ModelDTO m : models) {
            if (!settled(balancer.status(m.name, m.defaultVersion).values())) {
                loading.add(m.name + ":" + m.defaultVersion);
            }
        }
        return loading.isEmpty() ? null : "starting: loading " + loading;
    }

    /** Whether the start-up time for loading models has passed (readiness then stops waiting for them). */
    boolean startupTimedOut() {
        return System.nanoTime() - startupDeadline >= 0;
    }

    /** The request path is being warmed: not ready until {@link #warmedUp()}. */
    void expectWarmup() {
        warm = false;
    }

    void warmedUp() {
        warm = true;
    }

    /** READY somewhere, or failed on every modelhost that has it: nothing more will happen by itself. */
    private static boolean settled(Collection<ModelStatusDTO> statuses) {
        if (statuses.isEmpty()) {
            return false;
        }
        boolean anyReady = statuses.stream().anyMatch(s -> s.state == ModelState.READY);
        boolean allFailed = statuses.stream().allMatch(s -> s.state == ModelState.FAILED);
        return anyReady || allFailed;
    }
}
