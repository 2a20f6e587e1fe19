package io.fractal.shell.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 */
@Component(service = {}, configurationPid = RemoteShellConfiguration.PID, immediate = true)
@Designate(ocd = RemoteShellConfiguration.class)
public class RemoteShell {

    private static final Logger LOG = Logger.getLogger(RemoteShell.class.getName());
    private static final int END = 0;

    private final CommandProcessor processor;
    private final String password;
    private final ServerSocket server;
    private final ExecutorService sessions = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fractal-remote-shell");
        t.setDaemon(true);
        return t;
    });

    @Activate
    public RemoteShell(@Reference CommandProcessor processor, RemoteShellConfiguration config) throws IOException {
        this.processor = processor;
        this.password = config.password();
        if (config.port() <= 0) {
            server = null;
            return;
        }
        InetAddress address = InetAddress.getByName(config.host());
        if (!address.isLoopbackAddress() && password.isEmpty()) {
            throw new IllegalStateException("the remote shell listens on " + config.host()
                    + ", beyond loopback: set a password in " + RemoteShellConfiguration.PID);
        }
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(address, config.port()), 16);
        sessions.execute(this::accept);
        LOG.info(() -> "Remote shell listening on " + config.host() + ":" + config.port()
                + (password.isEmpty() ? "" : " (password required)"));
    }

    @Deactivate
    void deactivate() throws IOException {
        if (server != null) {
            server.close();
        }
        sessions.shutdownNow();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                sessions.execute(() -> serve(socket));
            } catch (IOException e) {
                if (!server.isClosed()) {
                    LOG.log(Level.WARNING, "Remote shell: " + e.getMessage());
                }
            }
        }
    }

    private void serve(Socket socket) {
        try (socket; InputStream in = socket.getInputStream(); OutputStream raw = socket.getOutputStream()) {
            PrintStream out = new PrintStream(raw, true, StandardCharsets.UTF_8);
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            if (!password.isEmpty() && !authenticated(lines.readLine())) {
                out.print("error: authentication required: the first line must be 'auth <password>'\n");
                out.write(END);
                out.flush();
                return;
            }
            try (CommandSession session = processor.createSession(InputStream.nullInputStream(), out, out)) {
                String line;
                while ((line = lines.readLine()) != null) {
                    if (!line.isBlank()) {
                        run(session, line, out);
                    }
                    out.write(END);
                    out.flush();
                }
            }
        } catch (IOException e) {
            LOG.log(Level.FINE, "Remote shell session ended", e);
        }
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
}
