package io.fractal.shell.internal;

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
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The remote shell with a stand-in for Gogo: a command is answered by a function of its line. The update of the
 * shell bundle is played as the framework plays it: on the session thread that runs the command, the component is
 * deactivated and the new revision's component activated.
 */
class RemoteShellTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private final List<RemoteShell> shells = new CopyOnWriteArrayList<>();
    private final List<Socket> clients = new ArrayList<>();
    private final int port = freePort();

    @BeforeAll
    static void quiet() {
        Logger.getLogger(RemoteShell.class.getName()).setLevel(Level.WARNING);
    }

    @AfterEach
    void close() throws IOException {
        for (Socket c : clients) {
            c.close();
        }
        shells.forEach(RemoteShell::deactivate);
    }

    @Test
    void itRunsCommandsAndAnswersEachWithANul() throws Exception {
        shell(line -> "ran " + line);
        Socket c = connect();
        assertEquals("ran fractal:models\n", send(c, "fractal:models"));
        assertEquals("", send(c, "   "));
        assertEquals("ran second\n", send(c, "second"));
    }

    @Test
    void updatingTheShellFromTheShellAnswersTheUpdateAndTheNewRevisionListens() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        RemoteShell[] current = new RemoteShell[1];
        current[0] = shell(line -> {
            if (!line.equals("update 42")) {
                return "ran " + line;
            }
            // What Felix does on this thread: stop the bundle (deactivate), install and start the new revision.
            // The framework then reads the new revision through this thread's context class loader: the system one,
            // never the shell bundle's own, which the update disposes of.
            seen.add("system class loader as context=" + (Thread.currentThread().getContextClassLoader()
                    == ClassLoader.getSystemClassLoader()));
            current[0].deactivate();
            seen.add("interrupted=" + Thread.currentThread().isInterrupted());
            current[0] = shell(next -> "new revision ran " + next);
            seen.add("new revision activated");
            return null;
        });
        Socket idle = connect();
        assertEquals("ran hello\n", send(idle, "hello"));
        Socket updating = connect();

        assertEquals("", send(updating, "update 42"), "the update is answered");
        assertEquals(List.of("system class loader as context=true", "interrupted=false", "new revision activated"),
                seen,
                "the session running the update was neither interrupted nor waited for");
        assertEquals(-1, updating.getInputStream().read(), "then its session closes");
        assertEquals(-1, idle.getInputStream().read(), "an idle session was closed at once");

        Socket again = connect();
        assertEquals("new revision ran fractal:models\n", send(again, "fractal:models"));
    }

    @Test
    void aTakenPortIsTriedAgainUntilItIsFree() throws Exception {
        ServerSocket squatter = new ServerSocket();
        squatter.setReuseAddress(true);
        squatter.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        shell(line -> "ran " + line); // the old revision still holds the port: activation does not fail
        squatter.close();
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> send(connect(), "x").equals("ran x\n"));
    }

    @Test
    void aShellDeactivatedWhileItWaitsForThePortNeverListens() throws Exception {
        ServerSocket squatter = new ServerSocket();
        squatter.setReuseAddress(true);
        squatter.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        RemoteShell shell = shell(line -> "ran " + line);
        shell.deactivate();
        squatter.close();
        await().atMost(WAIT).until(() -> threads("fractal-remote-shell").isEmpty());
        assertThrows(IOException.class, this::connect);
    }

    @Test
    void deactivationLeavesNoThreadBehind() throws Exception {
        RemoteShell shell = shell(line -> "ran " + line);
        Socket c = connect();
        assertEquals("ran a\n", send(c, "a"));
        assertFalse(threads("fractal-remote-shell").isEmpty());
        shell.deactivate();
        await().atMost(WAIT).until(() -> threads("fractal-remote-shell").isEmpty());
    }

    @Test
    void withAPasswordTheFirstLineMustGiveIt() throws Exception {
        shell(line -> "ran " + line, "s3cret");
        Socket wrong = connect();
        assertTrue(send(wrong, "auth nope").startsWith("error: authentication required"));
        assertEquals(-1, wrong.getInputStream().read());
        Socket right = connect();
        write(right, "auth s3cret");
        assertEquals("ran x\n", send(right, "x"));
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private RemoteShell shell(Function<String, Object> commands) {
        return shell(commands, "");
    }

    private RemoteShell shell(Function<String, Object> commands, String password) {
        try {
            RemoteShell s = new RemoteShell(processor(commands), config(Map.of("port", port, "password", password)));
            shells.add(s);
            return s;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private Socket connect() throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        s.setSoTimeout((int) WAIT.toMillis());
        clients.add(s);
        return s;
    }

    private static void write(Socket s, String line) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Sends a line and reads the answer up to its NUL; fails if the connection ends first. */
    private static String send(Socket s, String line) throws IOException {
        write(s, line);
        InputStream in = s.getInputStream();
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != 0) {
            if (b < 0) {
                throw new IOException("connection closed before the answer ended: '" + answer + "'");
            }
            answer.write(b);
        }
        return answer.toString(StandardCharsets.UTF_8);
    }

    private static List<String> threads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith(prefix)).toList();
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
        return (CommandProcessor) Proxy.newProxyInstance(RemoteShellTest.class.getClassLoader(),
                new Class<?>[] {CommandProcessor.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "createSession" -> session(commands);
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "CommandProcessor";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static CommandSession session(Function<String, Object> commands) {
        return (CommandSession) Proxy.newProxyInstance(RemoteShellTest.class.getClassLoader(),
                new Class<?>[] {CommandSession.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "execute" -> commands.apply(String.valueOf(args[0]));
                    case "format" -> String.valueOf(args[0]);
                    case "close" -> null;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "CommandSession";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** The configuration annotation as Declarative Services builds it: the given values, else the defaults. */
    private static RemoteShellConfiguration config(Map<String, Object> values) {
        return (RemoteShellConfiguration) Proxy.newProxyInstance(RemoteShellConfiguration.class.getClassLoader(),
                new Class<?>[] {RemoteShellConfiguration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "annotationType" -> RemoteShellConfiguration.class;
                    case "toString" -> "RemoteShellConfiguration" + values;
                    case "hashCode" -> values.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> values.containsKey(method.getName()) ? values.get(method.getName())
                            : method.getDefaultValue();
                });
    }
}
