package io.fractal.http.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Tells when the client of a request waiting for its answer closes its connection. While a request is suspended (an
 * asynchronous answer is being computed), Grizzly does not read its connection, so it would only see the client
 * leave when it writes the answer. This watcher registers such connections, once their request has waited a
 * {@linkplain #TICK_MS tick}, with a selector of its own (a channel may be registered with several), for reading.
 * It never reads: when the connection becomes readable, the bytes the socket holds ({@code FIONREAD}) tell what
 * happened. None, while nobody reads the connection, means end of stream or an error: the client is gone, and the
 * request's actions run on Grizzly's worker pool. Some means the client sent more (a pipelined request): it is left
 * for Grizzly to read after the answer, and no longer watched. This is what nginx does (a peek on a readable client
 * connection) while it waits for an upstream.
 *
 * <p>Costs on a request's path: an entry queued for requests that ask to be watched, a state set when they are
 * answered. Requests answered within a tick never reach the selector. One thread, waking each tick.
 */
final class ClientWatch {

    private static final Logger LOG = Logger.getLogger(ClientWatch.class.getName());
    /** How long a request waits before its connection is watched, and how often the watcher wakes. */
    static final long TICK_MS = 50;
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(TICK_MS);

    private final Queue<Entry> fresh = new ConcurrentLinkedQueue<>();
    /** The entries registered with the selector: the watcher thread's alone. */
    private final List<Entry> watched = new ArrayList<>();
    private final Selector selector;
    private final Thread thread;
    private volatile boolean stopped;

    ClientWatch(String threadName) throws IOException {
        selector = Selector.open();
        thread = IsolatedThreads.newThread(this::run, threadName);
        thread.start();
    }

    /**
     * Watches {@code channel} for the request now served on it, whose body has been read in full.
     *
     * @param executor where the actions run once the client is gone
     */
    Entry watch(SocketChannel channel, Executor executor) {
        Entry e = new Entry(channel, executor, System.nanoTime());
        if (!stopped) {
            fresh.add(e);
        }
        return e;
    }

    /** Stops watching: no action runs any more; the thread ends. */
    void stop() {
        stopped = true;
        selector.wakeup();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        try {
            while (!stopped) {
                selector.select(TICK_MS);
                for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    ((Entry) key.attachment()).readable(key);
                }
                long now = System.nanoTime();
                watched.removeIf(e -> e.settled(now));
                List<Entry> later = null;
                for (Entry e; (e = fresh.peek()) != null && now - e.since >= TICK_NANOS; ) {
                    fresh.poll();
                    Boolean registered = e.register(selector);
                    if (registered == null) {
                        (later == null ? later = new ArrayList<>() : later).add(e);
                    } else if (registered) {
                        watched.add(e);
                    }
                }
                if (later != null) {
                    fresh.addAll(later);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Client connections are no longer watched for disconnection", e);
        } finally {
            stopped = true;
            fresh.clear();
            watched.clear();
            try {
                selector.close(); // cancels its keys: the connections it watched close when Grizzly closes them
            } catch (IOException e) {
                LOG.log(Level.FINE, "Selector not closed", e);
            }
        }
    }

    /** One request whose client is watched. */
    static final class Entry {
        private static final int WAITING = 0;
        private static final int ANSWERED = 1;
        private static final int UNWATCHED = 2;
        private static final int GONE = 3;

        final SocketChannel channel;
        final Executor executor;
        final long since;
        private volatile int state = WAITING;
        private volatile SelectionKey key;
        /** The actions to run when the client goes; guarded by this. */
        private Runnable actions;

        Entry(SocketChannel channel, Executor executor, long since) {
            this.channel = channel;
            this.executor = executor;
            this.since = since;
        }

        /** Adds an action; false if the client is already gone or the request answered. */
        boolean add(Runnable action) {
            synchronized (this) {
                if (state != WAITING) {
                    return false;
                }
                Runnable before = actions;
                actions = before == null ? action : () -> {
                    before.run();
                    action.run();
                };
                return true;
            }
        }

        /** The request was answered (on the thread that answered it): its connection is no longer watched. */
        void answered() {
            state = ANSWERED;
            synchronized (this) {
                actions = null;
            }
            SelectionKey k = key;
            if (k != null) {
                k.cancel();
            }
        }

        /**
         * Registers the channel (the watcher's thread): false if there is nothing to watch any more, null to try
         * again at the next tick (the key of the connection's previous request is cancelled but still registered).
         */
        Boolean register(Selector selector) {
            if (state != WAITING) {
                return false;
            }
            try {
                key = channel.register(selector, SelectionKey.OP_READ, this);
            } catch (ClosedChannelException e) {
                gone(); // closed by the listener (shutting down): nobody will read an answer
                return false;
            } catch (CancelledKeyException e) {
                return null;
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "Connection not watched", e);
                state = UNWATCHED;
                return false;
            }
            if (state != WAITING) { // answered meanwhile: answered() may not have seen the key
                key.cancel();
                return false;
            }
            return true;
        }

        /** Whether the watcher is done with this entry (its thread), dropping its key if so. */
        boolean settled(long now) {
            if (state == WAITING && !channel.isOpen()) {
                gone();
            }
            if (state == WAITING) {
                return false;
            }
            SelectionKey k = key;
            if (k != null) {
                k.cancel();
            }
            return true;
        }

        /** The selector says the connection is readable (the watcher's thread). */
        void readable(SelectionKey k) {
            if (state != WAITING) {
                k.cancel();
                return;
            }
            int pending;
            try {
                pending = channel.socket().getInputStream().available(); // FIONREAD: reads nothing
            } catch (IOException e) {
                pending = 0; // reset, or closed: gone all the same
            }
            // Only while the request waits is nobody else reading: had it been answered meanwhile, Grizzly may have
            // read what made the connection readable, and no bytes would not mean end of stream.
            if (state != WAITING) {
                k.cancel();
                return;
            }
            if (pending > 0) {
                state = UNWATCHED; // more from the client: Grizzly reads it after the answer
                k.cancel();
                return;
            }
            k.cancel();
            gone();
        }

        private void gone() {
            Runnable run;
            synchronized (this) {
                if (state != WAITING) {
                    return;
                }
                state = GONE;
                run = actions;
                actions = null;
            }
            if (run == null) {
                return;
            }
            try {
                executor.execute(run);
            } catch (RejectedExecutionException e) {
                run.run(); // the pool stopped: the listener is closing
            }
        }
    }
}
