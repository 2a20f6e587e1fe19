package io.fractal.http.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.glassfish.grizzly.Buffer;
import org.glassfish.grizzly.Connection;
import org.glassfish.grizzly.ConnectionProbe;
import org.glassfish.grizzly.nio.transport.TCPNIOServerConnection;

/**
 * The client connections a listener has open, and, once it closes, when one of them last sent anything: a closing
 * listener waits for its connections to go quiet before it shuts them. A client on a kept-alive connection sends its
 * next request right after its last answer; shut the connection just then and the request is lost without an answer.
 * Once none has sent anything for a while, the ones still open are idle in some client's pool, and closing them is
 * what any server's keep-alive timeout does.
 */
final class OpenConnections extends ConnectionProbe.Adapter {

    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong accepted = new AtomicLong();
    private volatile boolean closing;
    private volatile long lastRead;

    @Override
    public void onAcceptEvent(Connection serverConnection, Connection clientConnection) {
        open.incrementAndGet();
        accepted.incrementAndGet();
        if (closing) {
            lastRead = System.nanoTime(); // taken in from the backlog while closing: its request is on its way
        }
    }

    @Override
    public void onCloseEvent(Connection connection) {
        if (!(connection instanceof TCPNIOServerConnection)) {
            open.decrementAndGet();
        }
    }

    @Override
    public void onReadEvent(Connection connection, Buffer data, int size) {
        if (closing) {
            lastRead = System.nanoTime();
        }
    }

    /** From now on, reads are timed. */
    void closing() {
        lastRead = System.nanoTime();
        closing = true;
    }

    /** Whether every connection is closed, or none has sent anything for {@code quietNanos} since closing began. */
    boolean settled(long quietNanos) {
        return open.get() <= 0 || System.nanoTime() - lastRead >= quietNanos;
    }

    /** Connections accepted so far. */
    long accepted() {
        return accepted.get();
    }

    int open() {
        return open.get();
    }
}
