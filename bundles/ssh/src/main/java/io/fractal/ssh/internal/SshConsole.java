package io.fractal.ssh.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.io.IOException;
import java.net.BindException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.sshd.common.io.IoAcceptor;
import org.apache.sshd.common.io.nio2.Nio2ServiceFactoryFactory;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.session.SessionListener;
import org.apache.sshd.core.CoreModuleProperties;
import org.apache.sshd.server.ServerBuilder;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.config.keys.AuthorizedKeysAuthenticator;
import org.apache.sshd.server.keyprovider.SimpleGeneratorHostKeyProvider;
import org.apache.sshd.server.session.ServerSession;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The Gogo shell over SSH, as Apache Karaf serves it: an Apache SSHD server whose shell and exec channels run
 * sessions of the framework's {@link CommandProcessor} ({@link GogoCommand}). It listens on 127.0.0.1:8101 by default
 * (port 0: no console). Logins: the configured user (admin) with a key of the authorized_keys file, or with the
 * password whose hash is configured ({@link Logins}); with neither there is no login at all, and the log says so.
 * The host key is generated into {@code data/ssh/host.key} on the first start and reused; so is, unless configured
 * off, a key pair for the operator whose public key is authorized, and which {@code bin/client} uses
 * ({@link SshFiles}).
 *
 * <p>It survives its own update and reconfiguration, even from one of its sessions: deactivation frees the port at
 * once (the new revision or configuration binds it right after), refuses new commands, and closes the server when
 * the commands that run have answered ({@link CommandGate}); it never waits for a session. A port still taken (by
 * another process) is tried again for a while.
 *
 * <p>Apache SSHD looks some classes up through the thread context class loader (its Bouncy Castle registrar, its I/O
 * factory) and keeps what it found in statics: every call that may be its first touch of them runs in
 * {@link #withSshd}, the one place that sets that loader, and that also makes the threads SSHD starts carry no
 * bundle revision of a caller. Its I/O factory is set explicitly rather than found by {@code ServiceLoader}.
 */
@Component(service = {}, configurationPid = SshConsoleConfiguration.PID, immediate = true)
@Designate(ocd = SshConsoleConfiguration.class)
public class SshConsole {

    private static final Logger LOG = Logger.getLogger(SshConsole.class.getName());
    /** How long, and how often, a taken port is tried again. */
    static final long BIND_RETRY_MILLIS = TimeUnit.SECONDS.toMillis(30);
    private static final long BIND_RETRY_PAUSE_MILLIS = 200;
    /**
     * SSHD's switch to register Bouncy Castle with the JVM's {@code java.security.Security} (its default) or to use
     * its own provider instance. Registered, the provider would outlive its bundle: the next framework in the same JVM
     * (the integration tests run several) or a refreshed bcprov bundle would meet the old one's classes.
     */
    static final String BC_REGISTERED_WITH_JVM = "org.apache.sshd.security.provider.BC.useNamed";

    private final CommandProcessor processor;
    private final SshConsoleConfiguration config;
    private final SshFiles files;
    private final CommandGate gate = new CommandGate();
    private final AtomicInteger channels = new AtomicInteger();
    private final Path authorizedKeys;
    private final PasswordHash password;
    private final KeyPair hostKey;
    private final Thread binder;
    private volatile ConsoleServer server;
    private volatile boolean closing;

    @Activate
    public SshConsole(BundleContext context, @Reference CommandProcessor processor, SshConsoleConfiguration config)
            throws IOException, GeneralSecurityException {
        this(processor, config, context.getProperty("fractal.home") != null
                ? Path.of(context.getProperty("fractal.home"), "data", "ssh")
                : context.getDataFile("ssh").toPath());
    }

    SshConsole(CommandProcessor processor, SshConsoleConfiguration config, Path folder)
            throws IOException, GeneralSecurityException {
        this.processor = processor;
        this.config = config;
        this.files = new SshFiles(folder);
        if (config.port() <= 0) {
            authorizedKeys = null;
            password = null;
            hostKey = null;
            binder = null;
            files.removeClientConfig();
            LOG.info(() -> "SSH console off (" + SshConsoleConfiguration.PID + " port=" + config.port() + ")");
            return;
        }
        authorizedKeys = config.authorized_keys().isBlank() ? files.defaultAuthorizedKeys()
                : Path.of(config.authorized_keys().strip()).toAbsolutePath();
        password = passwordOf(config);
        files.prepare();
        hostKey = withSshd(() -> {
            KeyPair key = files.hostKey(new SimpleGeneratorHostKeyProvider(files.hostKey()));
            if (config.client_key() && files.createClientKey(authorizedKeys)) {
                LOG.info("SSH console: generated a key pair for bin/client into " + files.clientKey()
                        + " (owner-only) and added its public key to " + authorizedKeys);
            }
            return key;
        });
        logLogins();
        if (tryStart()) {
            binder = null;
        } else {
            LOG.info(() -> "SSH console: " + config.host() + ":" + config.port() + " is taken; trying again for up to "
                    + BIND_RETRY_MILLIS / 1000 + " s");
            binder = IsolatedThreads.newThread(this::retryStart, "fractal-ssh-bind");
            binder.start();
        }
    }

    /**
     * Frees the port at once and closes the server, now if no command runs, else when the last running one has
     * answered (it may be the command that updates this bundle, on this very thread). Waits for no session.
     */
    @Deactivate
    void deactivate() {
        closing = true;
        Thread b = binder;
        if (b != null && b != Thread.currentThread()) {
            b.interrupt(); // ends a pause between attempts
            try {
                b.join(TimeUnit.SECONDS.toMillis(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        ConsoleServer s = server;
        if (s == null) {
            return;
        }
        // made now: it may run after this bundle's class loader is gone
        ServerCloser closer = new ServerCloser(s);
        s.stopListening();
        if (gate.close(closer)) {
            closer.closeNow();
        }
    }

    /** The port this console listens on, or -1 (tests). */
    int port() {
        ConsoleServer s = server;
        return s == null ? -1 : s.getPort();
    }

    private static PasswordHash passwordOf(SshConsoleConfiguration config) {
        if (config.password_hash().isBlank()) {
            return null;
        }
        try {
            return PasswordHash.parse(config.password_hash());
        } catch (IllegalArgumentException e) {
            LOG.severe("SSH console: password.hash of " + SshConsoleConfiguration.PID + " is unusable (" + e.getMessage()
                    + "); no password login");
            return null;
        }
    }

    private void logLogins() {
        int keys;
        try {
            keys = SshFiles.countKeys(authorizedKeys);
        } catch (IOException | RuntimeException e) {
            LOG.warning("SSH console: cannot read " + authorizedKeys + ": " + e.getMessage());
            keys = 0;
        }
        if (keys == 0 && password == null) {
            LOG.warning("SSH console: no login is possible: no key in " + authorizedKeys + " and no password.hash in "
                    + SshConsoleConfiguration.PID + ". Add a public key to that file (read again when it changes) or "
                    + "set password.hash (bin/fractal hash-password)");
        } else {
            int count = keys;
            LOG.info(() -> "SSH console: '" + config.user() + "' logs in with the " + count + " key(s) of "
                    + authorizedKeys + (password != null ? " or the password of password.hash" : ""));
        }
    }

    /** Builds and starts a server; false if the port is taken. */
    private boolean tryStart() throws IOException, GeneralSecurityException {
        ConsoleServer s = withSshd(this::newServer);
        try {
            withSshd(() -> {
                s.start();
                return null;
            });
        } catch (IOException e) {
            s.close(true);
            if (e instanceof BindException || e.getCause() instanceof BindException) {
                return false;
            }
            throw e;
        }
        server = s;
        if (closing) {
            s.stop(true); // deactivated meanwhile
            return true;
        }
        files.writeClientConfig(hostKey.getPublic(), config.host(), config.port(), config.user());
        LOG.info(() -> "SSH console listening on " + config.host() + ":" + config.port() + " (ssh -p " + config.port()
                + " " + config.user() + "@" + SshFiles.connectAddress(config.host()) + ", or bin/client)");
        return true;
    }

    private void retryStart() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BIND_RETRY_MILLIS);
        while (!closing && System.nanoTime() < deadline) {
            try {
                Thread.sleep(BIND_RETRY_PAUSE_MILLIS);
                if (tryStart()) {
                    return;
                }
            } catch (InterruptedException e) {
                return; // deactivated
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                LOG.log(Level.SEVERE, "SSH console: cannot start", e);
                return;
            }
        }
        if (!closing) {
            LOG.severe(() -> "SSH console: cannot listen on " + config.host() + ":" + config.port() + ", taken; "
                    + "no SSH console until the port is free and " + SshConsoleConfiguration.PID
                    + " is updated or the bundle restarted");
        }
    }

    private ConsoleServer newServer() {
        ConsoleServer s = (ConsoleServer) ServerBuilder.builder().factory(ConsoleServer::new).build();
        s.setIoServiceFactoryFactory(new Nio2ServiceFactoryFactory());
        s.setHost(config.host());
        s.setPort(config.port());
        s.setKeyPairProvider(KeyPairProvider.wrap(hostKey));
        Logins logins = new Logins(config.user(), new AuthorizedKeysAuthenticator(authorizedKeys), password);
        s.setPublickeyAuthenticator(logins);
        s.setPasswordAuthenticator(password == null ? null : logins);
        s.setKeyboardInteractiveAuthenticator(null);
        s.setShellFactory(channel -> new GogoCommand(processor, gate, null, threadName()));
        s.setCommandFactory((channel, command) -> new GogoCommand(processor, gate, command, threadName()));
        CoreModuleProperties.IDLE_TIMEOUT.set(s, Duration.ofSeconds(Math.max(1, config.idle_timeout())));
        CoreModuleProperties.NIO_WORKERS.set(s, 2);
        s.addSessionListener(new LoginLog());
        return s;
    }

    private String threadName() {
        return "fractal-ssh-" + channels.incrementAndGet();
    }

    /** What may be SSHD's first touch of its statics: with its own bundle as context loader, in an empty context. */
    private static <T> T withSshd(SshdAction<T> action) throws IOException, GeneralSecurityException {
        System.getProperties().putIfAbsent(BC_REGISTERED_WITH_JVM, "false");
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(SshServer.class.getClassLoader());
        try {
            Object[] outcome = IsolatedThreads.run(() -> {
                try {
                    return new Object[] {action.run(), null};
                } catch (IOException | GeneralSecurityException | RuntimeException e) {
                    return new Object[] {null, e};
                }
            });
            if (outcome[1] instanceof IOException e) {
                throw e;
            } else if (outcome[1] instanceof GeneralSecurityException e) {
                throw e;
            } else if (outcome[1] instanceof RuntimeException e) {
                throw e;
            }
            @SuppressWarnings("unchecked")
            T result = (T) outcome[0];
            return result;
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    @FunctionalInterface
    private interface SshdAction<T> {
        T run() throws IOException, GeneralSecurityException;
    }

    /** An SSHD server that can stop accepting connections while its sessions go on. */
    static final class ConsoleServer extends SshServer {

        /** Frees the port; the sessions go on. */
        void stopListening() {
            IoAcceptor a = acceptor;
            if (a != null) {
                a.unbind();
            }
        }
    }

    /**
     * Closes a server: at once from the deactivation, or on the thread of the last command that ran, once its client
     * has left. Closing the connection right after the exit status would race the client's own close of the channel:
     * OpenSSH then reports a lost connection (status 255) instead of the command's status.
     */
    private static final class ServerCloser implements Runnable {
        private static final long CLIENTS_LEAVE_NANOS = TimeUnit.SECONDS.toNanos(5);
        private final ConsoleServer server;

        ServerCloser(ConsoleServer server) {
            this.server = server;
        }

        /** Waits (a few seconds at most) for the clients to close their sessions, then closes the server. */
        @Override
        public void run() {
            long deadline = System.nanoTime() + CLIENTS_LEAVE_NANOS;
            try {
                while (System.nanoTime() < deadline && !server.getActiveSessions().isEmpty()) {
                    Thread.sleep(20);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                // closing anyway
            }
            closeNow();
        }

        void closeNow() {
            try {
                server.stop(true);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "SSH console: closing the server failed", e);
            }
        }
    }

    /** Logs each login: who, from where. */
    private static final class LoginLog implements SessionListener {
        @Override
        public void sessionEvent(Session session, Event event) {
            if (event == Event.Authenticated && session instanceof ServerSession s) {
                LOG.info(() -> "SSH console: '" + s.getUsername() + "' logged in from " + s.getClientAddress());
            }
        }
    }
}
