package io.fractal.http.internal;

import io.fractal.api.concurrent.ThreadBacklog;
import io.fractal.api.rest.ClientConnection;
import io.fractal.api.rest.HttpApplication;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;
import org.glassfish.grizzly.Transport;
import org.glassfish.grizzly.http.server.AfterServiceListener;
import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.RequestExecutorProvider;
import org.glassfish.grizzly.http.server.Response;
import org.glassfish.grizzly.nio.NIOConnection;
import org.glassfish.grizzly.nio.SelectorRunner;
import org.glassfish.grizzly.threadpool.Threads;

/**
 * The stable handler the socket serves: it passes each request to the current application handler and counts the
 * requests each handler holds, so that a handler being replaced finishes its own requests while new ones go to its
 * successor. While no handler is registered (an update of the application in progress), a request waits for one,
 * up to the hold time, then is answered 503.
 */
final class DelegatingHandler extends HttpHandler {

    private static final Logger LOG = Logger.getLogger(DelegatingHandler.class.getName());
    /** A request declined this many times is answered by the handler it last reached (a bug, not a swap). */
    private static final int MAX_REDISPATCH = 8;
    static final String READY_PATH = "/v2/health/ready";
    /** Request attribute: the {@link Delegate} taken for a request served on the I/O thread that read it. */
    private static final String PINNED = DelegatingHandler.class.getName() + ".pinned";
    private static final byte[] NOT_READY = "{\"ready\":false,\"reason\":\"the server is shutting down\"}"
            .getBytes(java.nio.charset.StandardCharsets.UTF_8);

    private final Object lock = new Object();
    private final List<Delegate> delegates = new ArrayList<>();
    private volatile Delegate current;
    private volatile long holdNanos;
    /** The transports of listeners that are closing (a listener replaced, or stopping). */
    private final Set<Transport> closing = ConcurrentHashMap.newKeySet();
    /**
     * Requests being served now, per listener (its transport, from {@link #track} to {@link #forget}): what a closing
     * listener waits for.
     */
    private final Map<Transport, AtomicInteger> inFlightBy = new ConcurrentHashMap<>();
    /** Counts the requests of a listener not tracked (any more): one that drained and shut down. */
    private final AtomicInteger untracked = new AtomicInteger();
    private volatile boolean shuttingDown;
    private volatile ClientWatch watch;
    /**
     * See {@link #getRequestExecutorProvider()}. The handler that says it serves a request on the I/O thread is taken
     * for it there and then ({@link #PINNED}): if it were looked up again in {@link #service}, a swap in between could
     * hand the request to a handler that waits (for a successor, for a service), on the I/O thread.
     */
    private final RequestExecutorProvider executors = new RequestExecutorProvider() {
        @Override
        public Executor getExecutor(Request request) {
            if (!Threads.isService()) {
                return null; // a pool thread already (leader-follower or worker strategy)
            }
            if (request.getAttribute(PINNED) != null) {
                return null; // asked again for the same request (Grizzly's read and write handlers): served here
            }
            Delegate d = current;
            if (d != null && d.acquire()) {
                boolean here = false;
                try {
                    here = d.handler.getRequestExecutorProvider().getExecutor(request) == null;
                } finally {
                    if (here) {
                        request.setAttribute(PINNED, d);
                    } else {
                        d.release();
                    }
                }
                if (here) {
                    return null;
                }
            }
            return request.getContext().getConnection().getTransport().getWorkerThreadPool();
        }
    };

    DelegatingHandler(long holdMillis) {
        super("fractal");
        setHoldMillis(holdMillis);
    }

    /** Where clients of waiting requests are watched for leaving; null: they are not. */
    void setClientWatch(ClientWatch watch) {
        this.watch = watch;
    }

    void setHoldMillis(long holdMillis) {
        this.holdNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(0, holdMillis));
    }

    /**
     * While a listener closes, answers on its connections say {@code Connection: close}: clients do not send more on
     * them (the listener that replaces it, if any, keeps its connections alive).
     */
    void setClosing(Transport listener, boolean closing) {
        if (closing) {
            this.closing.add(listener);
        } else {
            this.closing.remove(listener);
        }
    }

    /**
     * From now on, readiness ({@value #READY_PATH}) is false (400) whatever the application says: the process is
     * stopping. Answers say {@code Connection: close}: kept-alive clients move to new connections (to other servers,
     * once their balancer has seen readiness), and fewer connections sit idle in clients' pools when the listener
     * closes (a client that sends on one just as it closes loses its request).
     */
    void setShuttingDown() {
        this.shuttingDown = true;
    }

    void add(HttpHandler handler, int ranking, long serviceId) {
        synchronized (lock) {
            delegates.add(new Delegate(handler, ranking, serviceId));
            delegates.sort(Delegate::order);
            current = delegates.get(0);
            lock.notifyAll();
        }
    }

    /**
     * Takes a handler out of service: new requests go to the next one (or wait for one), and this returns once the
     * requests it took have been answered, or after the timeout.
     *
     * @return how many requests were still running at the timeout (0 normally)
     */
    int remove(HttpHandler handler, long timeout, TimeUnit unit) throws InterruptedException {
        Delegate gone = null;
        synchronized (lock) {
            for (Delegate d : delegates) {
                if (d.handler == handler) {
                    gone = d;
                }
            }
            if (gone == null) {
                return 0;
            }
            delegates.remove(gone);
            current = delegates.isEmpty() ? null : delegates.get(0);
            gone.retire();
        }
        return gone.awaitIdle(timeout, unit) ? 0 : gone.users();
    }

    /** Requests being served now, by every handler. */
    int inFlight() {
        synchronized (lock) {
            return delegates.stream().mapToInt(Delegate::users).sum();
        }
    }

    /**
     * Requests being served now that came in through one listener (its transport): a listener replaced while another
     * takes the load waits for its own requests only, not for the new one's.
     */
    int inFlight(Transport listener) {
        AtomicInteger n = inFlightBy.get(listener);
        return n == null ? 0 : n.get();
    }

    /** Counts the requests of a listener from now on: called before it accepts connections. */
    void track(Transport listener) {
        inFlightBy.put(listener, new AtomicInteger());
    }

    /** Forgets a listener that has shut down (or never started). */
    void forget(Transport listener) {
        inFlightBy.remove(listener);
        closing.remove(listener);
    }

    /**
     * Where Grizzly runs a request: on the thread that read it, unless that is an I/O thread (the same-thread
     * strategy's selector, which serves many connections and must never wait) and the application does not say it
     * can serve this request there without waiting (its handler's own provider answers null); then on a worker.
     */
    @Override
    public RequestExecutorProvider getRequestExecutorProvider() {
        return executors;
    }

    @Override
    public void service(Request request, Response response) throws Exception {
        long deadline = System.nanoTime() + holdNanos;
        Delegate pinned = request.getAttribute(PINNED) instanceof Delegate p ? p : null;
        if (pinned != null) {
            request.setAttribute(PINNED, Boolean.TRUE); // taken: the provider does not take another for it
        }
        Transport listener = request.getContext().getConnection().getTransport();
        if (shuttingDown || !closing.isEmpty() && closing.contains(listener)) {
            response.setHeader("Connection", "close");
        }
        AtomicInteger count = inFlightBy.get(listener);
        if (count == null) {
            count = untracked; // a request the pool of a listener that timed out its drain ran afterwards
        }
        count.incrementAndGet();
        // Registered before the handler runs: an asynchronous answer may complete before service() returns.
        Exchange exchange = new Exchange(request, count);
        request.addAfterServiceListener(exchange);
        if (shuttingDown && READY_PATH.equals(request.getRequestURI())) {
            if (pinned != null) {
                pinned.release();
            }
            response.setStatus(400); // the v2 protocol: 200 is true, 4xx false
            response.setContentType("application/json");
            response.setContentLength(NOT_READY.length);
            response.getOutputStream().write(NOT_READY);
            return;
        }
        for (int attempt = 0; ; attempt++) {
            // A pinned handler serves without declining (it said so); were it to decline all the same, the next
            // one is waited for as on a pool thread.
            Delegate d = attempt == 0 && pinned != null ? pinned : acquire(deadline);
            if (d == null) {
                JsonErrorPages.send(response, 503, "the HTTP application is not available (being updated?); retry",
                        1);
                return;
            }
            exchange.set(d);
            // Once the handler returns, the request may already have been answered on another thread and recycled
            // for another connection: it must not be touched again. A handler that declines says so through this
            // holder, in this thread, before it returns.
            AtomicBoolean declined = new AtomicBoolean();
            request.setAttribute(HttpApplication.REDISPATCH, declined);
            ClientConnection.bind(exchange);
            ThreadBacklog.bind(exchange);
            try {
                d.handler.service(request, response);
            } finally {
                ClientConnection.bind(null);
                ThreadBacklog.bind(null);
            }
            if (declined.get() && exchange.compareAndSet(d, null)) {
                // declined without answering: the request is still ours; the handler registered now takes it
                d.release();
                if (attempt < MAX_REDISPATCH) {
                    continue;
                }
                JsonErrorPages.send(response, 503, "the HTTP application is being replaced; retry", 1);
            }
            return;
        }
    }

    /**
     * One request: the handler serving it (released once it is answered), the watch on its client's connection
     * that the application may ask for while it runs on the request's thread ({@link ClientConnection}), and how many
     * other connections wait for that thread meanwhile ({@link ThreadBacklog}).
     */
    private final class Exchange extends AtomicReference<Delegate> implements AfterServiceListener,
            ClientConnection.Watch, ThreadBacklog.Source {
        /** The request, while the handler runs on its thread: never touched afterwards (it may be recycled). */
        private final Request request;
        /** The requests in flight on the request's listener, this one counted. */
        private final AtomicInteger listenerCount;
        private volatile ClientWatch.Entry watched;
        private volatile boolean answered;

        /** The selector that read the request, when this exchange was made on its thread; else null. */
        private final SelectorRunner selector;

        Exchange(Request request, AtomicInteger listenerCount) {
            this.request = request;
            this.listenerCount = listenerCount;
            SelectorRunner runner = request.getContext().getConnection() instanceof NIOConnection c
                    ? c.getSelectorRunner() : null;
            this.selector = runner != null && runner.getRunnerThread() == Thread.currentThread() ? runner : null;
        }

        @Override
        public void onAfterService(Request r) {
            Delegate d = getAndSet(null);
            if (d != null) {
                d.release();
            }
            if (!answered) {
                listenerCount.decrementAndGet();
            }
            answered = true;
            ClientWatch.Entry e = watched;
            if (e != null) {
                e.answered();
            }
        }

        @Override
        public boolean onClose(Runnable action) {
            ClientWatch w = watch;
            if (w == null || action == null || answered) {
                return false;
            }
            ClientWatch.Entry e = watched;
            if (e == null) {
                // Only once the body is in: until then Grizzly reads the connection, and the watch must not.
                if (!request.getInputBuffer().isFinished()
                        || !(request.getContext().getConnection() instanceof NIOConnection c)
                        || !(c.getChannel() instanceof SocketChannel channel)) {
                    return false;
                }
                e = w.watch(channel, c.getTransport().getWorkerThreadPool());
                watched = e;
                if (answered) { // answered meanwhile, on another thread: onAfterService may not have seen it
                    e.answered();
                }
            }
            return e.add(action);
        }

        /**
         * The other connections the selector found ready with this one, when this thread is that selector's (the
         * listener serves requests on the thread that read them): they wait until this request's handler returns. An
         * upper bound: the selector's whole last round, which may hold keys served before this one, or ready only
         * to write or accept. A pool thread (worker I/O), or a request already answered, cannot tell. The request
         * itself is not read here: answered elsewhere, it may be recycled while its handler still runs.
         */
        @Override
        public int waiting() {
            SelectorRunner runner = selector;
            if (runner == null || answered || runner.getRunnerThread() != Thread.currentThread()) {
                return -1;
            }
            return Math.max(0, runner.getLastSelectedKeysCount() - 1);
        }
    }

    /** The current handler with a request taken on it, waiting for one until the deadline; null if none came. */
    private Delegate acquire(long deadline) throws InterruptedException {
        while (true) {
            Delegate d = current;
            if (d != null && d.acquire()) {
                return d;
            }
            synchronized (lock) {
                if (current != null) {
                    continue; // replaced meanwhile: take the new one
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    LOG.fine("No HTTP application registered: answering 503");
                    return null;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
        }
    }
}
