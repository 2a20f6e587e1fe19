package io.fractal.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.channel.ChannelExec;
import org.apache.sshd.client.channel.ChannelShell;
import org.apache.sshd.client.channel.ClientChannelEvent;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.NamedResource;
import org.apache.sshd.common.io.nio2.Nio2ServiceFactoryFactory;
import org.apache.sshd.common.keyprovider.KeyIdentityProvider;
import org.apache.sshd.common.util.security.SecurityUtils;

/**
 * Apache SSHD's own client (from the distribution's sshd-osgi bundle), as a user's ssh logs into the server's SSH
 * console: a key or a password, exec channels (one command, its exit status) and a shell channel with a terminal.
 * SSHD looks some classes up through the thread context class loader, which in the test JVM is the class path (where
 * sshd-osgi also is, for compiling): every call that may be SSHD's first use of something runs with SSHD's bundle
 * as context loader.
 */
final class SshConsoleClient implements AutoCloseable {

    static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final SshClient client;
    private final int port;
    /** The host key the server presented last. */
    private final AtomicReference<PublicKey> hostKey = new AtomicReference<>();

    SshConsoleClient(int port) {
        this.port = port;
        this.client = withSshd(() -> {
            SshClient c = SshClient.setUpDefaultClient();
            c.setIoServiceFactoryFactory(new Nio2ServiceFactoryFactory());
            c.setKeyIdentityProvider(KeyIdentityProvider.EMPTY_KEYS_PROVIDER);
            c.setServerKeyVerifier((session, address, key) -> {
                hostKey.set(key);
                return true;
            });
            c.start();
            return c;
        });
    }

    /** The host key the server presented at the last login. */
    PublicKey hostKey() {
        return hostKey.get();
    }

    /** Logs in with a key and/or a password; an {@link IOException} ({@code SshException}) if refused. */
    ClientSession login(String user, KeyPair key, String password) throws IOException {
        return withSshdIo(() -> {
            ClientSession session = client.connect(user, "127.0.0.1", port).verify(TIMEOUT).getSession();
            try {
                if (key != null) {
                    session.addPublicKeyIdentity(key);
                }
                if (password != null) {
                    session.addPasswordIdentity(password);
                }
                session.auth().verify(TIMEOUT);
                return session;
            } catch (IOException | RuntimeException e) {
                session.close(true);
                throw e;
            }
        });
    }

    /** What an exec channel gave: its exit status (-1: none came), stdout and stderr. */
    record Result(int status, String out, String err) {
    }

    /** Runs one command on an exec channel, as {@code ssh host 'command'} does. */
    static Result exec(ClientSession session, String command) throws IOException {
        return withSshdIo(() -> {
            try (ChannelExec channel = session.createExecChannel(command)) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                channel.setOut(out);
                channel.setErr(err);
                channel.open().verify(TIMEOUT);
                channel.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), TIMEOUT);
                Integer status = channel.getExitStatus();
                return new Result(status == null ? -1 : status, out.toString(StandardCharsets.UTF_8),
                        err.toString(StandardCharsets.UTF_8));
            }
        });
    }

    /**
     * A shell channel with a terminal, as an interactive {@code ssh host} opens it; {@code keys} is written as typed,
     * and the channel read until it closes: what the screen showed, and the exit status.
     */
    static Result interactive(ClientSession session, String keys) throws IOException {
        return withSshdIo(() -> {
            try (ChannelShell shell = session.createShellChannel()) {
                shell.setPtyType("xterm");
                ByteArrayOutputStream screen = new ByteArrayOutputStream();
                shell.setOut(screen);
                shell.setErr(screen);
                shell.open().verify(TIMEOUT);
                OutputStream typed = shell.getInvertedIn();
                typed.write(keys.getBytes(StandardCharsets.UTF_8));
                typed.flush();
                shell.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), TIMEOUT);
                Integer status = shell.getExitStatus();
                return new Result(status == null ? -1 : status, screen.toString(StandardCharsets.UTF_8), "");
            }
        });
    }

    /** A key pair from an OpenSSH private key file. */
    static KeyPair readKey(Path file) throws IOException {
        return withSshdIo(() -> {
            try (InputStream in = Files.newInputStream(file)) {
                return SecurityUtils.loadKeyPairIdentities(null, NamedResource.ofName(file.toString()), in, null)
                        .iterator().next();
            } catch (GeneralSecurityException e) {
                throw new IOException(e);
            }
        });
    }

    @Override
    public void close() {
        withSshd(() -> {
            client.stop();
            return null;
        });
    }

    private interface IoAction<T> {
        T run() throws IOException;
    }

    private static <T> T withSshdIo(IoAction<T> action) throws IOException {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(SshClient.class.getClassLoader());
        try {
            return action.run();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    private static <T> T withSshd(Supplier<T> action) {
        try {
            return withSshdIo(action::get);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
