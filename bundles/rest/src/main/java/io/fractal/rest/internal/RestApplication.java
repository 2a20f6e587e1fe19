package io.fractal.rest.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.rest.HttpApplication;
import io.fractal.api.rest.RestWhiteboard;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.jersey.grizzly2.httpserver.GrizzlyHttpContainer;
import org.glassfish.jersey.inject.hk2.AbstractBinder;
import org.glassfish.jersey.jackson.JacksonFeature;
import org.glassfish.jersey.media.multipart.MultiPartFeature;
import org.glassfish.jersey.server.ContainerFactory;
import org.glassfish.jersey.server.ResourceConfig;
import org.glassfish.jersey.server.ServerProperties;
import org.glassfish.jersey.server.spi.internal.ResourceMethodInvocationHandlerProvider;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The Jersey application of every resource registered on the {@link RestWhiteboard}, served by the listener
 * through an {@link HttpApplication} service. When resources come or go, a new application is built beside the
 * running one, registered (the listener switches to it at once), and the old one is unregistered, which returns
 * once the requests it was serving have been answered, and only then destroyed: no request sees a half torn-down
 * application. A request for a resource that has just left (its bundle is being updated) waits for it to come back,
 * up to {@code hold_ms}.
 */
@Component(service = {}, configurationPid = RestConfiguration.PID, immediate = true)
@Designate(ocd = RestConfiguration.class)
public class RestApplication implements Generation.Successor {

    private static final Logger LOG = Logger.getLogger(RestApplication.class.getName());
    private static final long RELOAD_DELAY_MS = 50;

    private final BundleContext context;
    private final Tokens tokens;
    private final List<Object> resources = new CopyOnWriteArrayList<>();
    /** Root paths of resources that left, and until when ({@link System#nanoTime()}) requests wait for them. */
    private final Map<String, Long> departed = new ConcurrentHashMap<>();
    private final AtomicBoolean reloadPending = new AtomicBoolean();
    private final ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(
            IsolatedThreads.factory("fractal-rest-reload"));
    private final Object generations = new Object();
    private volatile RestConfiguration config;
    private volatile Generation current;
    private int latest;
    private boolean stopped;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FractalMetrics metrics;

    @Activate
    public RestApplication(BundleContext context, RestConfiguration config, @Reference Tokens tokens) {
        this.context = context;
        this.tokens = tokens;
        this.config = config;
        // DS binds the resources after construction: the first build comes a moment later, with all of them.
        reload();
    }

    @Modified
    void modified(RestConfiguration newConfig) {
        RestConfiguration old = config;
        config = newConfig;
        if (old.max_body_bytes() != newConfig.max_body_bytes() || old.body_timeout_ms() != newConfig.body_timeout_ms()
                || old.direct_calls() != newConfig.direct_calls()) {
            reload();
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, service = Object.class, target = RestWhiteboard.FILTER)
    void bindResource(Object resource) {
        resources.add(resource);
        reload();
    }

    void unbindResource(Object resource) {
        resources.remove(resource);
        String root = ResourcePaths.rootOf(resource);
        if (root != null) {
            departed.put(root, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.hold_ms()));
        }
        reload();
    }

    /** Builds a new application with the resources bound now, coalescing bursts (a bundle registers several). */
    private void reload() {
        if (reloadPending.compareAndSet(false, true)) {
            try {
                reloader.schedule(() -> {
                    reloadPending.set(false);
                    rebuild();
                }, RELOAD_DELAY_MS, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                reloadPending.set(false); // stopping
            }
        }
    }

    /** On the reloader thread only: build, register, switch, then retire the previous generation. */
    private void rebuild() {
        int number;
        synchronized (generations) {
            if (stopped) {
                return;
            }
            number = latest + 1;
        }
        List<Object> now = List.copyOf(resources);
        List<String> roots = new ArrayList<>();
        roots.add(ResourcePaths.rootOf(HelpResource.class));
        for (Object r : now) {
            String root = ResourcePaths.rootOf(r);
            if (root != null) {
                roots.add(root);
            }
        }
        long t = System.nanoTime();
        departed.entrySet().removeIf(e -> roots.contains(e.getKey()) || e.getValue() - t <= 0);
        Generation next;
        try {
            next = new Generation(number, withJerseyClassLoader(() -> {
                GrizzlyHttpContainer c = ContainerFactory.createContainer(GrizzlyHttpContainer.class,
                        resourceConfig(now));
                c.start();
                return c;
            }), roots, departed, this, config.direct_calls() ? DirectLane.of(now, tokens, () -> metrics,
                    new ObjectMapperResolver().getContext(Object.class), config.max_body_bytes(),
                    config.body_timeout_ms()) : null);
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "Cannot build the REST application; the previous one keeps serving", e);
            return;
        }
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(HttpApplication.APPLICATION, Boolean.TRUE);
        props.put(Constants.SERVICE_RANKING, number);
        next.registration = context.registerService(HttpHandler.class, next, props);
        Generation previous;
        synchronized (generations) {
            previous = current;
            current = next;
            latest = number;
            generations.notifyAll();
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t);
        LOG.fine(() -> "REST application " + number + " serving " + now.size() + " resource(s), built in " + ms + " ms");
        retire(previous);
    }

    /** Unregisters a generation (the listener returns once its requests are answered), then destroys it. */
    private static void retire(Generation g) {
        if (g == null) {
            return;
        }
        try {
            g.registration.unregister();
        } catch (IllegalStateException e) {
            // already gone with the bundle
        }
        withJerseyClassLoader(() -> {
            g.container.destroy();
            return null;
        });
    }

    @Override
    public boolean awaitNewer(int number, long deadlineNanos) throws InterruptedException {
        synchronized (generations) {
            // newer than mine, not merely other: a generation registers (and takes requests) a moment before
            // 'latest' says so, and must not take itself for its successor
            while (latest <= number && !stopped) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(generations, left);
            }
            return true;
        }
    }

    /**
     * Stopping (a bundle update): requests held for departed resources are declined to the listener, which holds
     * them for the next application; the current one finishes its requests, then is destroyed.
     */
    @Deactivate
    void deactivate() throws InterruptedException {
        reloader.shutdown();
        reloader.awaitTermination(30, TimeUnit.SECONDS); // a build in progress finishes and registers
        Generation last;
        synchronized (generations) {
            stopped = true;
            last = current;
            current = null;
            generations.notifyAll();
        }
        retire(last);
        LOG.info("REST application stopped");
    }

    private ResourceConfig resourceConfig(List<Object> now) {
        ResourceConfig rc = new ResourceConfig();
        rc.register(JacksonFeature.withoutExceptionMappers());
        rc.register(MultiPartFeature.class);
        rc.register(new ObjectMapperResolver());
        rc.register(new JsonErrors());
        rc.register(new HeaderCheck());
        rc.register(new AccessFilter(tokens));
        rc.register(new BodyLimit(config.max_body_bytes(), config.body_timeout_ms()));
        rc.register(HelpResource.class);
        rc.register(new RequestMetrics(() -> metrics));
        rc.register(new AbstractBinder() { // not a provider contract: bound, not registered
            @Override
            protected void configure() {
                bind(new ListenerThreadAnswers()).to(ResourceMethodInvocationHandlerProvider.class);
            }
        });
        rc.property(ServerProperties.WADL_FEATURE_DISABLE, true);
        rc.property(ServerProperties.RESPONSE_SET_STATUS_OVER_SEND_ERROR, true);
        now.forEach(rc::register);
        return rc;
    }

    /**
     * The one place Jersey's class-loading quirk is handled: jakarta.ws.rs-api finds its RuntimeDelegate through
     * the thread context class loader, which inside OSGi must be one that sees Jersey.
     */
    private static <T> T withJerseyClassLoader(Supplier<T> action) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(ResourceConfig.class.getClassLoader());
        try {
            return action.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }
}
