package io.fractal.ssh.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.channel.ChannelExec;
import org.apache.sshd.client.channel.ChannelShell;
import org.apache.sshd.client.channel.ClientChannelEvent;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.NamedResource;
import org.apache.sshd.common.SshException;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.keyprovider.KeyIdentityProvider;
import org.apache.sshd.common.util.security.SecurityUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SSH console with Apache SSHD's own client and a stand-in for Gogo: a command is answered by a function of its
 * line. The update of the console's bundle is played as the framework plays it: on the thread of the session that
 * runs the command, the component is deactivated and the new revision's component activated.
 */
class SshConsoleTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path home;
    private final List<SshConsole> consoles = new CopyOnWriteArrayList<>();
    private final int port = freePort();
    private final AtomicReference<PublicKey> seenHostKey = new AtomicReference<>();
    private SshClient client;

    /** Held: a logger nobody references may be collected, and its level with it. */
    private static final List<Logger> QUIET = List.of(Logger.getLogger("io.fractal.ssh"),
            Logger.getLogger("org.apache.sshd"));

    @BeforeAll
    static void quiet() {
        QUIET.forEach(l -> l.setLevel(Level.OFF));
    }

    @BeforeEach
    void client() {
        client = SshClient.setUpDefaultClient();
        client.setKeyIdentityProvider(KeyIdentityProvider.EMPTY_KEYS_PROVIDER);
        client.setServerKeyVerifier((session, address, key) -> {
            seenHostKey.set(key);
            return true;
        });
        client.start();
    }

    @AfterEach
    void close() throws IOException {
        client.stop();
        consoles.forEach(SshConsole::deactivate);
    }

    @Test
    void theOperatorKeyLogsInAndEachCommandExitsWithItsStatus() throws Exception {
        console(line -> {
            if (line.equals("fail")) {
                throw new IllegalStateException("boom");
            }
            return "ran " + line;
        }, Map.of());

        try (ClientSession session = login("admin", clientKey(), null)) {
            assertEquals(new Result(0, "ran fractal:models\n", ""), exec(session, "fractal:models"));
            assertEquals(new Result(1, "", "error: boom\n"), exec(session, "fail"));
            assertEquals(new Result(0, "ran lb -s\n", ""), exec(session, "lb -s"), "the session goes on");
        }
    }

    @Test
    void theFolderIsOwnerOnlyAndTheKeysAreKeptAcrossStarts() throws Exception {
        SshConsole first = console(line -> "ran " + line, Map.of());
        Path ssh = home.resolve("ssh");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ssh)));
        for (String file : List.of("host.key", "client_key", "authorized_keys", "ssh_config", "known_hosts")) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ssh.resolve(file))),
                    file);
        }
        try (ClientSession session = login("admin", clientKey(), null)) {
            assertEquals(0, exec(session, "x").status);
        }
        PublicKey hostKey = seenHostKey.get();
        assertEquals("fractal " + PublicKeyEntry.toString(hostKey), Files.readString(ssh.resolve("known_hosts")).strip(),
                "known_hosts names the host key the server presents, for bin/client's alias");
        String config = Files.readString(ssh.resolve("ssh_config"));
        assertTrue(config.contains("\n  Port " + port + "\n") && config.contains("  HostName 127.0.0.1\n")
                && config.contains("  User admin\n") && config.contains("IdentityFile \"" + ssh.resolve("client_key")
                + "\"") && config.contains("StrictHostKeyChecking yes"), config);
        String clientKey = Files.readString(ssh.resolve("client_key"));

        first.deactivate();
        console(line -> "ran " + line, Map.of());
        seenHostKey.set(null);
        try (ClientSession session = login("admin", clientKey(), null)) {
            assertEquals(0, exec(session, "x").status);
        }
        assertTrue(KeyUtils.compareKeys(hostKey, seenHostKey.get()), "the host key is the same after a restart");
        assertEquals(clientKey, Files.readString(ssh.resolve("client_key")), "the client key is made once");
        assertEquals(1, Files.readAllLines(ssh.resolve("authorized_keys")).size(), "and authorized once");
    }

    @Test
    void aStrangerKeyAnotherUserAndAPasswordWithoutAHashAreRefused() throws Exception {
        console(line -> "ran " + line, Map.of());
        assertThrows(SshException.class, () -> login("admin", newKey(), null).close());
        assertThrows(SshException.class, () -> login("root", clientKey(), null).close());
        assertThrows(SshException.class, () -> login("admin", null, "admin").close());
    }

    @Test
    void aHashedPasswordLogsInAndAWrongOneDoesNot() throws Exception {
        String hash = PasswordHash.hash("s3cret pass".toCharArray(), 1000);
        console(line -> "ran " + line, Map.of("password_hash", hash, "client_key", false));

        try (ClientSession session = login("admin", null, "s3cret pass")) {
            assertEquals(new Result(0, "ran x\n", ""), exec(session, "x"));
        }
        assertThrows(SshException.class, () -> login("admin", null, "s3cret").close());
        assertThrows(SshException.class, () -> login("other", null, "s3cret pass").close());
        assertFalse(Files.exists(home.resolve("ssh/client_key")), "no client key when configured so");
    }

    @Test
    void withNeitherKeysNorAPasswordNobodyLogsIn() throws Exception {
        console(line -> "ran " + line, Map.of("client_key", false));
        assertFalse(Files.exists(home.resolve("ssh/authorized_keys")));
        assertThrows(SshException.class, () -> login("admin", newKey(), null).close());
        assertThrows(SshException.class, () -> login("admin", null, "admin").close());
    }

    @Test
    void aKeyAddedToAuthorizedKeysLogsInWithoutARestart() throws Exception {
        console(line -> "ran " + line, Map.of());
        KeyPair mine = newKey();
        assertThrows(SshException.class, () -> login("admin", mine, null).close());

        SshFiles.appendAuthorizedKey(home.resolve("ssh/authorized_keys"), PublicKeyEntry.toString(mine.getPublic())
                + " me@laptop\n");

        try (ClientSession session = login("admin", mine, null)) {
            assertEquals(0, exec(session, "x").status);
        }
    }

    @Test
    void anInteractiveSessionEchoesEditsAndRunsLinesUntilExit() throws Exception {
        console(line -> "ran " + line, Map.of());
        try (ClientSession session = login("admin", clientKey(), null);
                ChannelShell shell = session.createShellChannel()) {
            shell.setPtyType("xterm");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            shell.setOut(out);
            shell.setErr(out);
            shell.open().verify(WAIT);
            OutputStream keys = shell.getInvertedIn();
            // "lb" typed with a typo erased by Backspace (DEL), then Enter as a terminal sends it (CR)
            keys.write("lbx\u007f -s\r".getBytes(StandardCharsets.UTF_8));
            keys.flush();
            await().atMost(WAIT).until(() -> out.toString(StandardCharsets.UTF_8).contains("ran lb -s\r\n"));
            keys.write("exit\r".getBytes(StandardCharsets.UTF_8));
            keys.flush();
            shell.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), WAIT);

            String screen = out.toString(StandardCharsets.UTF_8);
            assertTrue(screen.startsWith(GogoCommand.BANNER.replace("\n", "\r\n") + GogoCommand.PROMPT), screen);
            assertTrue(screen.contains(GogoCommand.PROMPT + "lbx\b \b -s\r\nran lb -s\r\n" + GogoCommand.PROMPT), screen);
            assertEquals(0, shell.getExitStatus());
        }
    }

    @Test
    void aShellWithoutTerminalReadsLinesWithoutEchoOrPrompt() throws Exception {
        console(line -> "ran " + line, Map.of());
        try (ClientSession session = login("admin", clientKey(), null);
                ChannelShell shell = session.createShellChannel()) {
            shell.setUsePty(false);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            shell.setOut(out);
            shell.setErr(out);
            shell.setIn(new java.io.ByteArrayInputStream("a\nb\n".getBytes(StandardCharsets.UTF_8)));
            shell.open().verify(WAIT);
            shell.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), WAIT);

            assertEquals("ran a\nran b\n", out.toString(StandardCharsets.UTF_8));
            assertEquals(0, shell.getExitStatus());
        }
    }

    @Test
    void updatingTheConsoleFromItsOwnSessionAnswersThenTheNewRevisionListens() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        SshConsole[] current = new SshConsole[1];
        current[0] = console(line -> {
            if (!line.equals("update 42")) {
                return "ran " + line;
            }
            // What Felix does on this thread: stop the bundle (deactivate), install and start the new revision.
            seen.add("system class loader as context=" + (Thread.currentThread().getContextClassLoader()
                    == ClassLoader.getSystemClassLoader()));
            current[0].deactivate();
            current[0] = console(next -> "new revision ran " + next, Map.of());
            seen.add("new revision activated");
            return null;
        }, Map.of());
        ClientSession idle = login("admin", clientKey(), null);
        assertEquals(0, exec(idle, "hello").status);

        try (ClientSession updating = login("admin", clientKey(), null)) {
            assertEquals(new Result(0, "", ""), exec(updating, "update 42"), "the update is answered, status 0");
        }
        assertEquals(List.of("system class loader as context=true", "new revision activated"), seen);
        await("the old server closes its sessions").atMost(WAIT).until(idle::isClosed);

        try (ClientSession again = login("admin", clientKey(), null)) {
            assertEquals(new Result(0, "new revision ran fractal:models\n", ""), exec(again, "fractal:models"));
        }
    }

    @Test
    void deactivationClosesTheSessionsAndLeavesNoThreadBehind() throws Exception {
        SshConsole console = console(line -> "ran " + line, Map.of());
        ClientSession session = login("admin", clientKey(), null);
        assertEquals(0, exec(session, "a").status);
        console.deactivate();
        await().atMost(WAIT).until(session::isClosed);
        await().atMost(WAIT).until(() -> serverThreads().isEmpty());
    }

    @Test
    void aTakenPortIsTriedAgainUntilItIsFree() throws Exception {
        ServerSocket squatter = new ServerSocket();
        squatter.setReuseAddress(true);
        squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        console(line -> "ran " + line, Map.of()); // activation does not fail
        squatter.close();
        await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).ignoreExceptions().until(() -> {
            try (ClientSession session = login("admin", clientKey(), null)) {
                return exec(session, "x").status == 0;
            }
        });
    }

    @Test
    void portZeroIsNoConsole() throws Exception {
        console(line -> "ran " + line, Map.of()).deactivate();
        assertTrue(Files.exists(home.resolve("ssh/ssh_config")));
        SshConsole off = console(line -> "ran " + line, Map.of("port", 0));
        assertEquals(-1, off.port());
        assertFalse(Files.exists(home.resolve("ssh/ssh_config")), "bin/client finds no console to connect to");
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private SshConsole console(Function<String, Object> commands, Map<String, Object> settings) {
        Map<String, Object> values = new HashMap<>(Map.of("port", port));
        values.putAll(settings);
        try {
            SshConsole c = new SshConsole(processor(commands), config(values), home.resolve("ssh"));
            consoles.add(c);
            return c;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private ClientSession login(String user, KeyPair key, String password) throws IOException {
        ClientSession session = client.connect(user, "127.0.0.1", port).verify(WAIT).getSession();
        try {
            if (key != null) {
                session.addPublicKeyIdentity(key);
            }
            if (password != null) {
                session.addPasswordIdentity(password);
            }
            session.auth().verify(WAIT);
            return session;
        } catch (IOException | RuntimeException e) {
            session.close(true);
            throw e;
        }
    }

    private record Result(int status, String out, String err) {
    }

    private static Result exec(ClientSession session, String command) throws IOException {
        try (ChannelExec channel = session.createExecChannel(command)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            channel.setOut(out);
            channel.setErr(err);
            channel.open().verify(WAIT);
            channel.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), WAIT);
            Integer status = channel.getExitStatus();
            return new Result(status == null ? -1 : status, out.toString(StandardCharsets.UTF_8),
                    err.toString(StandardCharsets.UTF_8));
        }
    }

    private KeyPair clientKey() throws Exception {
        Path file = home.resolve("ssh/client_key");
        try (InputStream in = Files.newInputStream(file)) {
            return SecurityUtils.loadKeyPairIdentities(null, NamedResource.ofName(file.toString()), in, null)
                    .iterator().next();
        }
    }

    private static KeyPair newKey() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        return generator.generateKeyPair();
    }

    /** The threads of the console and of its SSHD servers (this test's client threads are named sshd-SshClient). */
    private static List<String> serverThreads() {
        List<String> names = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && (t.getName().startsWith("fractal-ssh") || t.getName().contains("ConsoleServer"))) {
                names.add(t.getName());
            }
        }
        return names;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A command processor whose sessions answer each line with {@code commands} (null: no output). */
    private static CommandProcessor processor(Function<String, Object> commands) {
        return (CommandProcessor) Proxy.newProxyInstance(SshConsoleTest.class.getClassLoader(),
                new Class<?>[] {CommandProcessor.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "createSession" -> session(commands);
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "CommandProcessor";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static CommandSession session(Function<String, Object> commands) {
        return (CommandSession) Proxy.newProxyInstance(SshConsoleTest.class.getClassLoader(),
                new Class<?>[] {CommandSession.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "execute" -> commands.apply(String.valueOf(args[0]));
                    case "format" -> String.valueOf(args[0]);
                    case "close", "put" -> null;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "CommandSession";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** The configuration annotation as Declarative Services builds it: the given values, else the defaults. */
    private static SshConsoleConfiguration config(Map<String, Object> values) {
        return (SshConsoleConfiguration) Proxy.newProxyInstance(SshConsoleConfiguration.class.getClassLoader(),
                new Class<?>[] {SshConsoleConfiguration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "annotationType" -> SshConsoleConfiguration.class;
                    case "toString" -> "SshConsoleConfiguration" + values;
                    case "hashCode" -> values.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> values.containsKey(method.getName()) ? values.get(method.getName())
                            : method.getDefaultValue();
                });
    }
}
