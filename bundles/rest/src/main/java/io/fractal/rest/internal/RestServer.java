package io.fractal.rest.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fractal.api.metrics.FractalMetrics;
import io.fractal.api.rest.RestWhiteboard;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.jersey.grizzly2.httpserver.GrizzlyHttpContainer;
import org.glassfish.jersey.grizzly2.httpserver.GrizzlyHttpServerFactory;
import org.glassfish.jersey.jackson.JacksonFeature;
import org.glassfish.jersey.media.multipart.MultiPartFeature;
import org.glassfish.jersey.server.ContainerFactory;
import org.glassfish.jersey.server.ResourceConfig;
import org.glassfish.jersey.server.ServerProperties;
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
 * Jersey on Grizzly, serving every resource registered on the {@link RestWhiteboard}. Resources that come or go
 * while it runs are added by reloading the Jersey container (tens of milliseconds; the listener stays up).
 */
@Component(service = {}, configurationPid = RestConfiguration.PID, immediate = true)
@Designate(ocd = RestConfiguration.class)
public class RestServer {

    private static final Logger LOG = Logger.getLogger(RestServer.class.getName());

    private static final long RELOAD_DELAY_MS = 50;
    private static final long RETRY_SECONDS = 2;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<Object> resources = new CopyOnWriteArrayList<>();
    private final AtomicBoolean reloadPending = new AtomicBoolean();
    private final ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fractal-rest-reload");
        t.setDaemon(true);
        return t;
    });
    private volatile RestConfiguration config;
    private final GrizzlyHttpContainer container;
    private volatile URI uri;
    private volatile HttpServer server;
    private int failedAttempts;
    private volatile boolean stopped;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FractalMetrics metrics;

    @Activate
    public RestServer(RestConfiguration config) {
        this.config = config;
        this.uri = uri(config);
        this.container = withJerseyClassLoader(() -> ContainerFactory.createContainer(GrizzlyHttpContainer.class,
                resourceConfig()));
        listen();
    }

    private static URI uri(RestConfiguration c) {
        return URI.create("http://" + c.host() + ":" + c.port() + "/");
    }

    /**
     * A new configuration: a new address moves the listener (requests in flight on the old one finish), a new body
     * limit reloads the application. The component itself stays, with its resources.
     */
    @Modified
    void modified(RestConfiguration newConfig) {
        RestConfiguration old = config;
        config = newConfig;
        URI newUri = uri(newConfig);
        if (!newUri.equals(uri)) {
            LOG.info(() -> "REST API moving from " + uri + " to " + newUri);
            uri = newUri;
            HttpServer previous = server;
            server = null;
            failedAttempts = 0;
            reloader.execute(() -> {
                if (previous != null) {
                    // Grizzly shuts the Jersey application down with its server: start a fresh one for the new
                    // listener
                    try {
                        previous.shutdown(5, TimeUnit.SECONDS).get();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    } catch (java.util.concurrent.ExecutionException e) {
                        previous.shutdownNow();
                    }
                    withJerseyClassLoader(() -> {
                        container.reload(resourceConfig());
                        return null;
                    });
                }
                listen();
            });
        } else if (old.max_body_bytes() != newConfig.max_body_bytes()) {
            reload();
        }
    }

    /**
     * Starts the listener. If the port is taken (another process, or a previous instance still closing), the
     * component stays up and tries again every {@value #RETRY_SECONDS} s rather than leave the API down for good.
     */
    private synchronized void listen() {
        if (stopped || server != null) {
            return;
        }
        URI uri = this.uri;
        HttpServer s = GrizzlyHttpServerFactory.createHttpServer(uri, container, false, null, false);
        // Body size is limited by BodyLimit, which answers in JSON; Grizzly's own check would answer in HTML.
        s.getServerConfiguration().setMaxPostSize(-1);
        s.getListeners().forEach(l -> l.registerAddOn(new IgnoreUpgrades()));
        // What Grizzly answers itself (outside Jersey) is JSON too.
        s.getServerConfiguration().setDefaultErrorPageGenerator((request, status, reason, description, error) ->
                JSON.createObjectNode().put("error", status + " " + reason
                        + (description == null || description.isBlank() ? "" : ": " + description)).toString());
        try {
            s.start();
            server = s;
            LOG.info(() -> "REST API listening on " + uri + " with " + resources.size() + " resource(s)");
        } catch (IOException e) {
            s.shutdownNow();
            if (failedAttempts++ == 0) {
                LOG.severe(() -> "REST API cannot listen on " + uri + ": " + e.getMessage() + "; retrying every "
                        + RETRY_SECONDS + " s");
            }
            reloader.schedule(this::listen, RETRY_SECONDS, TimeUnit.SECONDS); // a move in between wins
        }
    }

    @Deactivate
    void deactivate() {
        stopped = true;
        reloader.shutdownNow();
        HttpServer s = server;
        if (s != null) {
            s.shutdownNow();
        }
        LOG.info("REST API stopped");
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, service = Object.class, target = RestWhiteboard.FILTER)
    void bindResource(Object resource) {
        resources.add(resource);
        reload();
    }

    void unbindResource(Object resource) {
        resources.remove(resource);
        reload();
    }


    /**
     * Reloads the Jersey application with the resources bound now. Resources arrive in bursts (a bundle starting
     * registers several), so reloads are coalesced: one, {@value #RELOAD_DELAY_MS} ms after the first change.
     */
    private void reload() {
        if (container == null || stopped || !reloadPending.compareAndSet(false, true)) {
            return; // before the constructor ends, the first configuration takes what is bound by then
        }
        reloader.schedule(() -> {
            reloadPending.set(false);
            if (!stopped) {
                withJerseyClassLoader(() -> {
                    container.reload(resourceConfig());
                    return null;
                });
            }
        }, RELOAD_DELAY_MS, TimeUnit.MILLISECONDS);
    }

    private ResourceConfig resourceConfig() {
        ResourceConfig rc = new ResourceConfig();
        rc.register(JacksonFeature.withoutExceptionMappers());
        rc.register(MultiPartFeature.class);
        rc.register(new ObjectMapperResolver());
        rc.register(new JsonErrors());
        rc.register(new BodyLimit(config.max_body_bytes()));
        rc.register(HelpResource.class);
        rc.register(new RequestMetrics(() -> metrics));
        rc.property(ServerProperties.WADL_FEATURE_DISABLE, true);
        rc.property(ServerProperties.RESPONSE_SET_STATUS_OVER_SEND_ERROR, true);
        resources.forEach(rc::register);
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
