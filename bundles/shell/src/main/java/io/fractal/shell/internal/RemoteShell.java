package io.fractal.shell.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The Gogo shell over a socket, for {@code bin/client}: one command per line; each answer ends with a NUL byte.
 * It listens on loopback by default; bound to any other address it refuses to start without a password, and a
 * client must then send {@code auth <password>} first.
 *
 * <p>It survives its own update: {@code bin/client "update <id of io.fractal.shell>"} runs on one of its session
 * threads, and that very thread stops this component. Deactivation therefore closes the listening socket at once
 * (so the new revision can bind the port), closes the sessions that wait for a command, and lets a session that runs
 * a command finish it, answer, and then close; it never waits for a session, nor interrupts one. The new revision
 * retries the port for a while if it is still taken.
 */
@Component(service = {}, configurationPid = RemoteShellConfiguration.PID, immediate = true)
@Designate(ocd = RemoteShellConfiguration.class)
public class RemoteShell {

    private static final Logger LOG = Logger.getLogger(RemoteShell.class.getName());
    private static final int END = 0;
    /** How long, and how often, a taken port is tried again. */
    static final long BIND_RETRY_MILLIS = TimeUnit.SECONDS.toMillis(30);
    private static final long BIND_RETRY_PAUSE_MILLIS = 100;

    private final CommandProcessor processor;
    private final String password;
    private final InetSocketAddress address;
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger sessionCount = new AtomicInteger();
    private final Thread listener;
    private volatile ServerSocket server;
    private volatile boolean closing;

    @Activate
    public RemoteShell(@Reference CommandProcessor processor, RemoteShellConfiguration config) throws IOException {
        this.processor = processor;
        this.password = config.password();
        if (config.port() <= 0) {
            address = null;
            listener = null;
            return;
        }
        InetAddress host = InetAddress.getByName(config.host());
        if (!host.isLoopbackAddress() && password.isEmpty()) {
            throw new IllegalStateException("the remote shell listens on " + config.host()
                    + ", beyond loopback: set a password in " + RemoteShellConfiguration.PID);
        }
        address = new InetSocketAddress(host, config.port());
        try {
            server = bind(address);
        } catch (BindException taken) {
            // the previous revision (or instance) may still hold it for a moment: the listener thread retries
            LOG.info(() -> "Remote shell: " + config.host() + ":" + config.port() + " is taken (" + taken.getMessage()
                    + "); trying again for up to " + BIND_RETRY_MILLIS / 1000 + " s");
        }
        listener = IsolatedThreads.newThread(this::listen, "fractal-remote-shell");
        listener.start();
        if (server != null) {
            logListening();
        }
    }

    /**
     * Closes the listening socket and the idle sessions at once; a session running a command (possibly the
     * {@code update} of this very bundle, on this very thread) closes after answering it. Waits for no session, only
     * for the listener thread to let go of the port.
     */
    @Deactivate
    void deactivate() {
        closing = true;
        closeQuietly(server);
        for (Session s : List.copyOf(sessions)) {
            s.closeIfIdle();
        }
        if (listener != null && listener != Thread.currentThread()) {
            // The listener runs no command, so it can be waited for: the port is released only once it has left
            // accept(), and the new revision binds it right after this returns.
            listener.interrupt(); // ends a pause between bind attempts
            try {
                listener.join(TimeUnit.SECONDS.toMillis(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static ServerSocket bind(InetSocketAddress address) throws IOException {
        ServerSocket s = new ServerSocket();
        try {
            s.setReuseAddress(true);
            s.bind(address, 16);
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    private void logListening() {
        LOG.info(() -> "Remote shell listening on " + address.getHostString() + ":" + address.getPort()
                + (password.isEmpty() ? "" : " (password required)"));
    }

    private void listen() {
        if (server == null && !retryBind()) {
            return;
        }
        ServerSocket s = server;
        if (closing) {
            closeQuietly(s); // deactivated while it bound
            return;
        }
        while (!closing && !s.isClosed()) {
            try {
                Socket socket = s.accept();
                Session session = new Session(socket);
                sessions.add(session);
                if (closing) {
                    session.closeIfIdle(); // deactivated while it accepted: the session sees it and ends
                }
                IsolatedThreads.newThread(session, "fractal-remote-shell-" + sessionCount.incrementAndGet()).start();
            } catch (IOException e) {
                if (!closing && !s.isClosed()) {
                    LOG.log(Level.WARNING, "Remote shell: " + e.getMessage());
                }
            }
        }
    }

    /** Binds the port, trying again while it is taken; false if deactivated or it stays taken. */
    private boolean retryBind() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BIND_RETRY_MILLIS);
        IOException last = null;
        while (!closing && System.nanoTime() < deadline) {
            try {
                Thread.sleep(BIND_RETRY_PAUSE_MILLIS);
                server = bind(address);
                logListening();
                return true;
            } catch (InterruptedException e) {
                return false; // deactivated
            } catch (IOException e) {
                last = e;
            }
        }
        if (!closing) {
            IOException cause = last;
            LOG.severe(() -> "Remote shell: cannot listen on " + address.getHostString() + ":" + address.getPort()
                    + " (" + (cause == null ? "taken" : cause.getMessage()) + "); bin/client cannot connect until the "
                    + "port is free and " + RemoteShellConfiguration.PID + " is updated or the bundle restarted");
        }
        return false;
    }

    private boolean authenticated(String line) {
        if (line == null || !line.startsWith("auth ")) {
            return false;
        }
        byte[] given = line.substring(5).getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, password.getBytes(StandardCharsets.UTF_8));
    }

    private static void run(CommandSession session, String line, PrintStream out) {
        try {
            Object result = session.execute(line);
            if (result != null) {
                out.println(session.format(result, Converter.INSPECT));
            }
        } catch (Exception e) {
            out.println("error: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        }
    }


    private static void closeQuietly(Closeable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException | RuntimeException e) {
            // closing anyway
        }
    }

    /**
     * One client connection. The code that runs after a command must need no class it has not used before: the
     * command may have been the update of this bundle, whose class loader then loads nothing more.
     */
    private final class Session implements Runnable {
        private final Socket socket;
        /** Whether a command runs; guarded by this. */
        private boolean busy;

        Session(Socket socket) {
            this.socket = socket;
        }

        /** Closes the connection unless a command runs; that one closes it once it answered. */
        synchronized void closeIfIdle() {
            if (!busy) {
                closeQuietly(socket);
            }
        }

        /** Marks a command running; false once the shell is closing (the session ends instead). */
        private synchronized boolean begin() {
            if (closing) {
                return false;
            }
            busy = true;
            return true;
        }

        /** Marks the command done; false if the shell began closing meanwhile (the session ends). */
        private synchronized boolean end() {
            busy = false;
            return !closing;
        }

        @Override
        public void run() {
            try {
                serve();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.FINE, "Remote shell session ended", e);
            } finally {
                sessions.remove(this);
                closeQuietly(socket);
            }
        }

        private void serve() throws IOException {
            InputStream in = socket.getInputStream();
            OutputStream raw = socket.getOutputStream();
            PrintStream out = new PrintStream(raw, true, StandardCharsets.UTF_8);
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            if (!password.isEmpty() && !authenticated(lines.readLine())) {
                out.print("error: authentication required: the first line must be 'auth <password>'\n");
                out.write(END);
                out.flush();
                return;
            }
            CommandSession session = processor.createSession(InputStream.nullInputStream(), out, out);
            try {
                String line;
                boolean more = true;
                while (more && (line = lines.readLine()) != null && begin()) {
                    try {
                        if (!line.isBlank()) {
                            RemoteShell.run(session, line, out);
                        }
                        out.write(END);
                        out.flush();
                    } finally {
                        more = end();
                    }
                }
            } finally {
                try {
                    session.close();
                } catch (RuntimeException e) {
                    // the shell runtime may be going too
                }
            }
        }
    }
}
