package io.fractal.http.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.util.Collection;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/**
 * The API's listening sockets, which outlive the bundle revision listening on them. Closing a listening socket resets
 * the connections the kernel has already accepted for it and the server has not yet taken (its accept queue): to their
 * clients, requests lost. So a revision that stops while the framework runs (an update of this bundle, a refresh, a
 * stop and start) does not close its socket: it stops taking connections from it and parks it with the framework; the
 * next revision to listen on the same address takes it over, and the connections that queued meanwhile are served by
 * it. Nobody is refused and nothing is reset. A socket nobody takes within the hold time (the bundle stopped for good)
 * is closed then; while the framework itself stops, sockets close at once.
 *
 * <p>The parking place is a map registered as a service by the system bundle, so that it lives as long as the
 * framework: it holds only JDK objects (address to the channel and its expiry), nothing of a revision's class space.
 */
final class ListeningSockets {

    private static final Logger LOG = Logger.getLogger(ListeningSockets.class.getName());
    /** The service property naming the parking map. */
    static final String PARKING = "io.fractal.http.parked.listeners";
    private static final String FILTER = "(" + PARKING + "=true)";
    /** The accept queue's length, as Grizzly's own default. */
    static final int BACKLOG = 4096;

    private final BundleContext context;
    /** Closes parked sockets nobody took; its thread ends once idle, and is started only when a socket is parked. */
    private final ScheduledThreadPoolExecutor expiries;

    ListeningSockets(BundleContext context) {
        this.context = context;
        this.expiries = new ScheduledThreadPoolExecutor(1, IsolatedThreads.factory("fractal-http-parked"));
        expiries.setKeepAliveTime(1, TimeUnit.SECONDS);
        expiries.allowCoreThreadTimeOut(true);
        expiries.setRemoveOnCancelPolicy(true);
    }

    /** The key of a configured address. */
    static String address(String host, int port) {
        return host + ":" + port;
    }

    /**
     * The socket a previous revision parked for this address, or a new one bound to it; non-blocking either way.
     *
     * @throws IOException the address cannot be bound (taken by another process, say)
     */
    ServerSocketChannel open(String host, int port) throws IOException {
        ServerSocketChannel parked = take(address(host, port));
        if (parked != null && parked.isOpen()) {
            LOG.info(() -> "REST API socket " + address(host, port) + " taken over from the previous revision");
            return parked;
        }
        ServerSocketChannel channel = ServerSocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            channel.bind(new InetSocketAddress(host, port), BACKLOG);
            channel.configureBlocking(false);
            return channel;
        } catch (IOException | RuntimeException e) {
            close(channel);
            throw e;
        }
    }

    /**
     * Leaves a socket nobody takes connections from any more for the next revision: the connections that arrive wait
     * in its accept queue. Closed after {@code holdMillis} if nobody took it. Not parked when the framework is stopping
     * (or {@code holdMillis} is not positive): there is no next revision, and the caller closes the socket.
     *
     * @return whether the socket was parked
     */
    boolean park(String address, ServerSocketChannel channel, long holdMillis) {
        ConcurrentMap<String, Map.Entry<ServerSocketChannel, Future<?>>> parking =
                holdMillis <= 0 || frameworkStopping() ? null : parking(true);
        if (parking == null) {
            return false;
        }
        // The expiry runs on a thread of this revision that ends once it is idle (never the JDK's shared delayer,
        // whose thread would keep the context, and so the class loader, of the revision that started it), and
        // whoever takes the socket cancels it: nothing of this revision is kept past the handover.
        ScheduledFuture<?> expiry = expiries.schedule(() -> expire(parking, address, channel, holdMillis),
                holdMillis, TimeUnit.MILLISECONDS);
        Map.Entry<ServerSocketChannel, Future<?>> previous = parking.put(address, Map.entry(channel, expiry));
        if (previous != null) {
            previous.getValue().cancel(false);
            if (previous.getKey() != channel) {
                close(previous.getKey());
            }
        }
        if (expiry.isDone()) {
            expire(parking, address, channel, holdMillis); // it ran before the socket was parked
        }
        return true;
    }

    /** Closes the socket if it is still parked: nobody took it over. */
    private static void expire(ConcurrentMap<String, Map.Entry<ServerSocketChannel, Future<?>>> parking, String address,
            ServerSocketChannel channel, long holdMillis) {
        Map.Entry<ServerSocketChannel, Future<?>> parked = parking.get(address);
        if (parked != null && parked.getKey() == channel && parking.remove(address, parked)) {
            LOG.info(() -> "REST API socket " + address + " closed: no listener took it over within " + holdMillis
                    + " ms");
            close(channel);
        }
    }

    private ServerSocketChannel take(String address) {
        ConcurrentMap<String, Map.Entry<ServerSocketChannel, Future<?>>> parking = parking(false);
        Map.Entry<ServerSocketChannel, Future<?>> parked = parking == null ? null : parking.remove(address);
        if (parked == null) {
            return null;
        }
        parked.getValue().cancel(false); // the socket is no longer parked
        return parked.getKey();
    }

    static void close(ServerSocketChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "Listening socket not closed cleanly", e);
        }
    }

    private boolean frameworkStopping() {
        Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
        return system == null || (system.getState() & (Bundle.STOPPING | Bundle.RESOLVED)) != 0;
    }

    /** The framework-wide parking map; registered by the system bundle on first use when {@code create}. */
    @SuppressWarnings("unchecked")
    private synchronized ConcurrentMap<String, Map.Entry<ServerSocketChannel, Future<?>>> parking(
            boolean create) {
        try {
            Collection<ServiceReference<ConcurrentMap>> refs = context.getServiceReferences(ConcurrentMap.class,
                    FILTER);
            for (ServiceReference<ConcurrentMap> ref : refs) {
                ConcurrentMap<String, Map.Entry<ServerSocketChannel, Future<?>>> map =
                        context.getService(ref);
                if (map != null) {
                    return map;
                }
            }
            if (!create) {
                return null;
            }
            Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
            BundleContext systemContext = system == null ? null : system.getBundleContext();
            if (systemContext == null) {
                return null;
            }
            ConcurrentMap<String, Map.Entry<ServerSocketChannel, Future<?>>> map =
                    new ConcurrentHashMap<>();
            Dictionary<String, Object> props = new Hashtable<>();
            props.put(PARKING, Boolean.TRUE);
            props.put(Constants.SERVICE_DESCRIPTION, "The REST API's listening sockets between two revisions of "
                    + "io.fractal.http");
            systemContext.registerService(ConcurrentMap.class, map, props);
            return map;
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        } catch (IllegalStateException e) {
            return null; // our context is no longer valid: nothing to park with
        }
    }
}
