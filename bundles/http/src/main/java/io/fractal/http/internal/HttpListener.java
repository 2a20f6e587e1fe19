package io.fractal.http.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.rest.HttpApplication;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.glassfish.grizzly.EmptyCompletionHandler;
import org.glassfish.grizzly.Transport;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpHandlerRegistration;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.ServerConfiguration;
import org.glassfish.grizzly.memory.ByteBufferManager;
import org.glassfish.grizzly.memory.PooledMemoryManager;
import org.glassfish.grizzly.nio.RegisterChannelResult;
import org.glassfish.grizzly.nio.SelectorRunner;
import org.glassfish.grizzly.nio.transport.TCPNIOServerConnection;
import org.glassfish.grizzly.nio.transport.TCPNIOTransport;
import org.glassfish.grizzly.strategies.LeaderFollowerNIOStrategy;
import org.glassfish.grizzly.strategies.SameThreadIOStrategy;
import org.glassfish.grizzly.threadpool.ThreadPoolConfig;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
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
 * The API's listening socket, and nothing else: a Grizzly server whose one handler passes each request to the
 * application registered as an {@link HttpApplication} service. The application (Jersey and its resources) can be
 * replaced while requests flow; this piece stays. Updating this bundle itself hands the socket over: the old revision
 * stops taking connections and finishes the requests in flight, connections that arrive meanwhile wait in the socket's
 * accept queue, and the new revision serves them ({@link ListeningSockets}).
 */
@Component(service = {}, configurationPid = HttpListenerConfiguration.PID, immediate = true)
@Designate(ocd = HttpListenerConfiguration.class)
public class HttpListener {

    private static final Logger LOG = Logger.getLogger(HttpListener.class.getName());
    private static final long RETRY_SECONDS = 2;
    /** How long a closing listener waits for requests on connections it accepted last to arrive. */
    private static final long SETTLE_MS = 25;
    /** A closing listener's connections are idle once none has sent anything for this long. */
    private static final long QUIET_MS = 200;
    /** How long a closing listener waits for Grizzly's selector to let go of its socket. */
    private static final long DEREGISTER_MS = 2000;
    /** How long the shutdown hook waits for the framework to stop once the listener has drained. */
    private static final long FRAMEWORK_STOP_MS = 60_000;

    private final BundleContext context;
    private final DelegatingHandler handler;
    /** Watches the connections of requests waiting for their answers: a client that leaves cancels its request. */
    private final ClientWatch clients;
    private final Thread shutdownHook;
    private final ListeningSockets sockets;
    private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(
            IsolatedThreads.factory("fractal-http-listen"));
    private volatile HttpListenerConfiguration config;
    /** The server listening now, if any. */
    private Listening listening;
    private int failedAttempts;
    private boolean stopped;

    @Activate
    public HttpListener(BundleContext context, HttpListenerConfiguration config) {
        this.context = context;
        this.config = config;
        this.sockets = new ListeningSockets(context);
        this.handler = new DelegatingHandler(config.hold_ms());
        ClientWatch watch = null;
        try {
            watch = new ClientWatch("fractal-http-clients");
        } catch (IOException e) {
            // no selector: requests still work, only a client that leaves is noticed at its deadline
            LOG.warning(() -> "Clients that leave are not noticed before their requests' deadlines: " + e);
        }
        this.clients = watch;
        handler.setClientWatch(watch);
        this.shutdownHook = IsolatedThreads.factory("fractal-shutdown").newThread(this::shutDownGracefully);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        listen();
    }

    /**
     * The process is asked to stop (SIGTERM, Ctrl-C): readiness turns false at once while the server keeps serving
     * for {@code shutdown.delay.ms}, so that load balancers stop sending; then the listener stops taking connections
     * and finishes what is in flight (bounded by {@code drain.ms}), the framework stops (the modelhosts finish their
     * queues), and the JVM exits with status 0. This is the framework's only shutdown hook
     * ({@code felix.shutdown.hook=false}): Felix's own would stop every bundle at once, the listener among them.
     */
    private void shutDownGracefully() {
        HttpListenerConfiguration c = config;
        LOG.info(() -> "Stopping: readiness is false; serving " + c.shutdown_delay_ms() + " ms more, then draining");
        handler.setShuttingDown();
        try {
            Thread.sleep(Math.max(0, c.shutdown_delay_ms()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Listening s = stopListening();
        if (s != null) {
            int inFlight = handler.inFlight();
            close(s, c.drain_ms(), false); // the process ends: the socket with it
            LOG.info(() -> "REST API listener closed (" + inFlight + " request(s) were in flight, all answered unless "
                    + "logged); stopping the framework");
        }
        try {
            Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
            system.stop();
            if (system instanceof Framework framework) {
                FrameworkEvent event = framework.waitForStop(FRAMEWORK_STOP_MS);
                if (event.getType() == FrameworkEvent.WAIT_TIMEDOUT) {
                    LOG.warning("The framework did not stop within " + FRAMEWORK_STOP_MS + " ms");
                    return; // the JVM ends with the signal's status
                }
            }
        } catch (BundleException | IllegalStateException e) {
            return; // already stopping: whoever stops it owns the exit
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        Runtime.getRuntime().halt(0); // stopped cleanly: exit 0 rather than the signal's 143
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, service = HttpHandler.class, target = HttpApplication.FILTER)
    void bindApplication(HttpHandler application, Map<String, Object> properties) {
        Object ranking = properties.get(Constants.SERVICE_RANKING);
        handler.add(application, ranking instanceof Integer r ? r : 0, (Long) properties.get(Constants.SERVICE_ID));
    }

    /** Called while the application unregisters: returns once the requests it was serving have been answered. */
    void unbindApplication(HttpHandler application) throws InterruptedException {
        int left = handler.remove(application, config.drain_ms(), TimeUnit.MILLISECONDS);
        if (left > 0) {
            LOG.warning(() -> left + " request(s) still running on a replaced HTTP application after "
                    + config.drain_ms() + " ms");
        }
    }

    /**
     * A new address moves the listener: the new one starts, then the old one finishes its requests and closes. New
     * connection settings on the same address (io.strategy, worker.threads, worker.starvation.ms, read.timeout.ms,
     * keep.alive.max.requests) replace the listener the same way, the socket handed from the old server to the new
     * one as a bundle update hands it to the next revision: connections arriving meanwhile wait in its accept queue,
     * none is refused.
     */
    @Modified
    void modified(HttpListenerConfiguration newConfig) {
        HttpListenerConfiguration old = config;
        config = newConfig;
        handler.setHoldMillis(newConfig.hold_ms());
        boolean moved = !old.host().equals(newConfig.host()) || old.port() != newConfig.port();
        boolean rebuilt = !old.io_strategy().equals(newConfig.io_strategy())
                || old.worker_threads() != newConfig.worker_threads()
                || old.worker_starvation_ms() != newConfig.worker_starvation_ms()
                || old.read_timeout_ms() != newConfig.read_timeout_ms()
                || old.keep_alive_max_requests() != newConfig.keep_alive_max_requests();
        if (!moved && !rebuilt) {
            return;
        }
        if (moved) {
            LOG.info(() -> "REST API moving from " + old.host() + ":" + old.port() + " to " + newConfig.host() + ":"
                    + newConfig.port());
        } else {
            LOG.info(() -> "REST API listener restarting on " + newConfig.host() + ":" + newConfig.port()
                    + " with its new connection settings");
        }
        retries.execute(() -> {
            // taken here, not when the change came: until this task runs, stopping closes the listener as usual
            Listening previous;
            synchronized (this) {
                if (stopped) {
                    return;
                }
                previous = listening;
                listening = null;
                failedAttempts = 0;
            }
            if (previous != null && !moved) {
                release(previous, true); // parked for the new server (or closed, and the new one binds afresh)
            }
            listen();
            if (previous != null) {
                if (moved) {
                    release(previous, false); // nobody listens on that address any more
                }
                // drained on a thread of its own (up to drain.ms): the next change or retry need not wait for it
                IsolatedThreads.newThread(() -> {
                    long start = System.nanoTime();
                    int left = drain(previous, newConfig.drain_ms());
                    LOG.info(() -> "The replaced REST API listener closed after "
                            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms"
                            + (left == 0 ? "" : ", " + left + " of its requests still running (drain.ms)"));
                }, "fractal-http-drain").start();
            }
        });
    }

    /**
     * Starts the listener. If the port is taken (another process, or the previous revision still closing) the
     * component stays and tries again every {@value #RETRY_SECONDS} s rather than leave the API down for good.
     */
    private synchronized void listen() {
        if (stopped || listening != null) {
            return;
        }
        HttpListenerConfiguration c = config;
        HttpServer s = new HttpServer();
        // Grizzly binds a socket of its own as it starts: a placeholder on the loopback, closed at once. The API's
        // socket is ours (ListeningSockets), so that it can outlive this revision; it is attached once Grizzly runs.
        NetworkListener listener = new NetworkListener("fractal", InetAddress.getLoopbackAddress().getHostAddress(),
                0);
        int most = Math.max(2, c.worker_threads());
        // As many threads as the machine runs at once while they keep up; more only while requests starve behind
        // threads stuck on slow clients' bodies (each waits read.timeout.ms per read, body.timeout.ms in all).
        int base = Math.min(most, Math.max(4, 2 * Runtime.getRuntime().availableProcessors()));
        WorkerPool workers = new WorkerPool(base, most, c.worker_starvation_ms(), "fractal-http");
        listener.getTransport().setWorkerThreadPool(workers);
        // The selector threads as plain threads of ours rather than Grizzly's DefaultWorkerThread, which keeps its
        // per-thread caches (recycled requests, and through their connections this listener's filter chain and
        // handler) in fields; a plain thread gets them in ThreadLocals, which end with it. A thread object can outlive
        // its thread: Felix 7.0.5's parallel class loading leaves a thread that lost a race to define a class in the
        // defining bundle's lock table for as long as that bundle lives (BundleClassLoader.defineClassParallel), and a
        // DefaultWorkerThread there kept this listener's revision reachable after an update (benchmark/swap.sh).
        int selectors = Math.max(1, listener.getTransport().getSelectorRunnersCount());
        listener.getTransport().setKernelThreadPoolConfig(ThreadPoolConfig.defaultConfig().copy()
                .setPoolName("fractal-http-io").setCorePoolSize(selectors).setMaxPoolSize(selectors)
                .setThreadFactory(IsolatedThreads.factory("fractal-http-io")));
        // Same-thread (the default): the selector thread that read a request serves it when the application says it
        // can without waiting (DelegatingHandler), with no thread hand-off at all, and hands anything else to the
        // pool. Leader-follower: the thread the selector woke serves the request, a pool thread takes over the
        // selector. Worker: the selector hands every request to the pool (benchmark/README.md, sections 9 and 11).
        String strategy = c.io_strategy();
        switch (strategy) {
            case "worker" -> { } // Grizzly's default
            case "leader-follower" -> listener.getTransport().setIOStrategy(LeaderFollowerNIOStrategy.getInstance());
            default -> {
                if (!"same-thread".equals(strategy)) {
                    LOG.warning(() -> "io.strategy=" + c.io_strategy() + " is none of same-thread, leader-follower "
                            + "and worker: same-thread it is");
                    strategy = "same-thread";
                }
                listener.getTransport().setIOStrategy(SameThreadIOStrategy.getInstance());
                // Not Grizzly's default HeapMemoryManager: under this strategy the bytes of pipelined requests left
                // waiting behind one handed to a worker were overwritten by the I/O thread's next reads, of other
                // connections (clients got others' answers: ClientDisconnectIT.pipeliningClientsGetTheirOwnAnswers
                // InOrder). -Dfractal.http.memory=heap or pooled (PooledMemoryManager) for measurements.
                String memory = System.getProperty("fractal.http.memory", "bytebuffer");
                if ("pooled".equals(memory)) {
                    listener.getTransport().setMemoryManager(new PooledMemoryManager());
                } else if (!"heap".equals(memory)) {
                    listener.getTransport().setMemoryManager(new ByteBufferManager());
                }
            }
        }
        listener.getTransport().setReadTimeout(Math.max(1, c.read_timeout_ms()), TimeUnit.MILLISECONDS);
        // Grizzly takes -1 for no limit and any other negative as 0 (no keep-alive): every negative is no limit
        listener.getKeepAlive().setMaxRequestsCount(c.keep_alive_max_requests() < 0 ? -1 : c.keep_alive_max_requests());
        listener.registerAddOn(new StrictHttp()); // request heads checked before Grizzly parses them: 400 in JSON
        listener.registerAddOn(new IgnoreUpgrades());
        OpenConnections connections = new OpenConnections();
        listener.getTransport().getConnectionMonitoringConfig().addProbes(connections);
        s.addListener(listener);
        ServerConfiguration sc = s.getServerConfiguration();
        sc.addHttpHandler(handler, HttpHandlerRegistration.ROOT); // alone at the root: no handler chain in between
        sc.setPassTraceRequest(true);
        sc.setMaxPostSize(-1); // the application limits bodies, and answers in JSON
        sc.setDefaultErrorPageGenerator(new JsonErrorPages());
        sc.setDefaultQueryEncoding(java.nio.charset.StandardCharsets.UTF_8);
        ServerSocketChannel channel = null;
        try {
            channel = sockets.open(c.host(), c.port());
            // Grizzly's timer threads come from no factory of ours: started here, they keep no caller's revision.
            IOException failed = IsolatedThreads.run(() -> {
                try {
                    s.start();
                    return null;
                } catch (IOException e) {
                    return e;
                }
            });
            if (failed != null) {
                throw failed;
            }
            TCPNIOTransport transport = listener.getTransport();
            // The placeholder, unbound on a thread of its own: the first close in the process initialises Grizzly's
            // CloseReason, whose two shared exceptions keep the classes of the stack that created them for good (this
            // revision's class loader, had it been called from here).
            Thread unbind = IsolatedThreads.newThread(transport::unbindAll, "fractal-http-unbind");
            unbind.start();
            try {
                unbind.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            TCPNIOServerConnection accepting = new TCPNIOServerConnection(transport, channel);
            accepting.setProcessor(transport.getProcessor());
            accepting.setProcessorSelector(transport.getProcessorSelector());
            accepting.getMonitoringConfig().addProbes(connections);
            handler.track(transport);
            accepting.listen();
            listening = new Listening(s, accepting, channel, ListeningSockets.address(c.host(), c.port()),
                    connections);
            String serving = strategy;
            LOG.info(() -> "REST API listening on http://" + c.host() + ":" + c.port() + "/ (io.strategy=" + serving
                    + ", " + base + " to " + most + " pool threads)");
        } catch (IOException | RuntimeException e) { // RuntimeException: an address that does not resolve, say
            s.shutdownNow();
            workers.shutdown();
            handler.forget(listener.getTransport());
            if (channel != null) {
                ListeningSockets.close(channel);
            }
            if (failedAttempts++ == 0) {
                LOG.severe(() -> "REST API cannot listen on " + c.host() + ":" + c.port() + ": " + e.getMessage()
                        + "; retrying every " + RETRY_SECONDS + " s");
            }
            retries.schedule(this::listen, RETRY_SECONDS, TimeUnit.SECONDS);
        }
    }

    /** Stops taking connections; the requests in flight finish (bounded by drain_ms), then the socket closes. */
    @Deactivate
    void deactivate() throws InterruptedException {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is what stops us
        }
        Listening s = stopListening();
        if (s != null) {
            close(s, config.drain_ms(), true); // the next revision, if any, takes the socket over
        }
        if (clients != null) {
            handler.setClientWatch(null);
            clients.stop();
        }
        LOG.info("REST API listener stopped");
    }

    /** Stops for good: no more (re)tries to listen; the server that listens now, if any, for the caller to close. */
    private Listening stopListening() {
        Listening s;
        synchronized (this) {
            stopped = true;
            s = listening;
            listening = null;
        }
        retries.shutdownNow();
        return s;
    }

    /**
     * Closes a listener without losing a request: it stops taking connections at once (its socket parked for the next
     * revision when {@code handOver}, closed otherwise), answers what arrives on the open ones as usual but with
     * {@code Connection: close}, and shuts down once nothing is in flight (or after the drain time). Grizzly's own
     * graceful shutdown would answer those requests 503, and leaves a thread behind.
     */
    private void close(Listening l, long drainMillis, boolean handOver) {
        release(l, handOver);
        drain(l, drainMillis);
    }

    /**
     * The first half of {@link #close}: the listener stops taking connections, its socket parked for whoever listens
     * on its address next when {@code handOver} (and it can be), closed otherwise; the open connections are answered
     * with {@code Connection: close} from now on.
     *
     * @return whether the socket was parked
     */
    private boolean release(Listening l, boolean handOver) {
        handler.setClosing(l.accepting().getTransport(), true);
        l.connections().closing();
        boolean released = stopAccepting(l);
        if (released && handOver && sockets.park(l.address(), l.channel(), config.hold_ms())) {
            return true;
        }
        if (released) {
            acceptBacklog(l);
        }
        ListeningSockets.close(l.channel());
        return false;
    }

    /**
     * The second half of {@link #close}: waits for the requests in flight (bounded), then shuts the server down.
     *
     * @return how many of its requests were still running at the drain time's end (0 normally)
     */
    private int drain(Listening l, long drainMillis) {
        Transport transport = l.accepting().getTransport();
        HttpServer s = l.server();
        // the worker pools are ours, not the transports': they end once what is queued on them has run
        List<ExecutorService> pools = new ArrayList<>();
        s.getListeners().forEach(n -> pools.add(n.getTransport().getWorkerThreadPool()));
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(drainMillis);
            long quiet = TimeUnit.MILLISECONDS.toNanos(Math.min(QUIET_MS, drainMillis));
            // Connections accepted just before the socket stopped being read may not have been read yet, and a
            // kept-alive client sends its next request right after its last answer: wait until nothing is in flight
            // and every connection is closed (its client was answered with Connection: close) or has been quiet for
            // a while (idle in a client's pool), bounded by the drain time.
            Thread.sleep(Math.min(SETTLE_MS, drainMillis));
            while ((handler.inFlight(transport) > 0 || !l.connections().settled(quiet))
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            // the connections first: HttpServer.shutdownNow() removes the handler before it closes them, and a
            // request read in between would get Grizzly's own 404 (no handler) rather than a closed connection
            for (NetworkListener n : s.getListeners()) {
                try {
                    n.shutdownNow();
                } catch (IOException e) {
                    LOG.log(Level.FINE, "Listener not stopped cleanly", e);
                }
            }
            s.shutdownNow();
            pools.stream().filter(p -> p != null).forEach(ExecutorService::shutdown);
        }
        int left = handler.inFlight(transport);
        handler.forget(transport);
        return left;
    }

    /**
     * Takes in the connections the kernel completed after the selector stopped accepting, so that closing the socket
     * does not reset them: a client that connected then has sent (or is sending) a request and would lose it. They
     * are served like any other, answered with {@code Connection: close}.
     */
    private static void acceptBacklog(Listening l) {
        try {
            for (int i = 0; i < ListeningSockets.BACKLOG; i++) {
                long before = l.connections().accepted();
                l.accepting().onAccept(); // a non-blocking accept: nothing when the backlog is empty
                if (l.connections().accepted() == before) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Connections waiting in the REST API socket's backlog were not taken in: closing "
                    + "the socket resets them", e);
        }
    }

    /**
     * Takes the socket out of Grizzly's selector without closing it: on the selector's own thread (between two
     * selects, never while it handles the socket's keys), then the selector lets go of it at its next select.
     *
     * @return whether the selector let go of it; if not, Grizzly may still close it, and it is not handed over
     */
    private static boolean stopAccepting(Listening l) {
        SelectorRunner runner = l.accepting().getSelectorRunner();
        TCPNIOTransport transport = (TCPNIOTransport) l.accepting().getTransport();
        if (runner == null) {
            return false;
        }
        CompletableFuture<Void> deregistered = new CompletableFuture<>();
        transport.getSelectorHandler().deregisterChannelAsync(runner, l.channel(),
                new EmptyCompletionHandler<RegisterChannelResult>() {
                    @Override
                    public void completed(RegisterChannelResult result) {
                        deregistered.complete(null);
                    }

                    @Override
                    public void failed(Throwable throwable) {
                        deregistered.completeExceptionally(throwable);
                    }
                });
        try {
            deregistered.get(DEREGISTER_MS, TimeUnit.MILLISECONDS);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEREGISTER_MS);
            Selector selector = runner.getSelector();
            while (l.channel().keyFor(selector) != null && System.nanoTime() < deadline) {
                selector.wakeup(); // the cancelled key goes at the next select
                Thread.sleep(1);
            }
            return l.channel().keyFor(selector) == null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException | TimeoutException e) {
            LOG.warning(() -> "The REST API socket could not be taken from its selector (" + e
                    + "): closed rather than handed over");
            return false;
        }
    }

    /** A running server, and the socket it takes connections from (ours, not Grizzly's). */
    private record Listening(HttpServer server, TCPNIOServerConnection accepting, ServerSocketChannel channel,
            String address, OpenConnections connections) {
    }
}
