package io.fractal.ssh.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.ExitCallback;
import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;

/**
 * One SSH channel's Gogo session, made by the framework's {@link CommandProcessor} with the channel's streams: an
 * exec channel ({@code ssh host 'fractal:models'}) runs its command and exits with 0, or 1 if the command threw
 * (its message on stderr); a shell channel reads command lines until {@code exit}, Ctrl-D or the end of input, with a
 * prompt and line editing when the client asked for a terminal. Results are printed as the Gogo console prints them.
 *
 * <p>Each channel runs on a thread of its own ({@link IsolatedThreads}: it keeps no bundle revision alive). A command
 * may be the update of this very bundle ({@code update <id>}): the console is then deactivated on this thread, and
 * the code that runs after the command must need no class that was not loaded before (this bundle's class loader is
 * gone by then); see {@link CommandGate}.
 */
final class GogoCommand implements Command, Runnable {

    private static final Logger LOG = Logger.getLogger(GogoCommand.class.getName());
    static final String PROMPT = "fractal> ";
    static final String BANNER = "Fractal ML Server: the Gogo shell. 'help' lists the commands; 'exit' or Ctrl-D "
            + "leaves.\n";
    static final String CLOSING = "The SSH console is closing (its bundle or its configuration changed): connect "
            + "again.\n";
    private static final Set<String> LEAVE = Set.of("exit", "logout", "quit");

    private final CommandProcessor processor;
    private final CommandGate gate;
    /** The exec channel's command; null for a shell channel. */
    private final String command;
    private final String threadName;
    private InputStream in;
    private OutputStream out;
    private OutputStream err;
    private ExitCallback exit;
    private boolean terminal;
    private volatile Thread thread;
    private volatile CommandSession session;
    private boolean ended;

    GogoCommand(CommandProcessor processor, CommandGate gate, String command, String threadName) {
        this.processor = processor;
        this.gate = gate;
        this.command = command;
        this.threadName = threadName;
    }

    @Override
    public void setInputStream(InputStream in) {
        this.in = in;
    }

    @Override
    public void setOutputStream(OutputStream out) {
        this.out = out;
    }

    @Override
    public void setErrorStream(OutputStream err) {
        this.err = err;
    }

    @Override
    public void setExitCallback(ExitCallback exit) {
        this.exit = exit;
    }

    @Override
    public void start(ChannelSession channel, Environment env) {
        // a pty-req: the client's terminal is raw, this side echoes and edits lines and turns \n into \r\n
        terminal = !env.getPtyModes().isEmpty() || env.getEnv().containsKey(Environment.ENV_TERM);
        Thread t = IsolatedThreads.newThread(this, threadName);
        thread = t;
        t.start();
    }

    /** The channel closed (the client left, or the server closes): the session ends, a running command is interrupted. */
    @Override
    public void destroy(ChannelSession channel) {
        CommandSession s = session;
        if (s != null) {
            closeQuietly(s);
        }
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            t.interrupt();
        }
    }

    @Override
    public void run() {
        PrintStream o = new PrintStream(terminal ? new TerminalOutput(out) : out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(terminal ? new TerminalOutput(err) : err, true, StandardCharsets.UTF_8);
        CommandSession s = null;
        try {
            s = processor.createSession(command == null ? InputStream.nullInputStream() : in, o, e);
            session = s;
            if (command != null) {
                exec(s, o, e);
            } else {
                shell(s, o, e);
            }
        } catch (IOException | RuntimeException | Error failure) {
            LOG.log(Level.FINE, "SSH console session ended", failure);
            end(s, o, e, 1);
        }
    }

    private void exec(CommandSession s, PrintStream o, PrintStream e) {
        if (!gate.enter()) {
            e.print(CLOSING);
            end(s, o, e, 1);
            return;
        }
        try {
            end(s, o, e, execute(s, command, o, e));
        } finally {
            gate.leave(); // after the exit status: the server may close now (the command updated this bundle)
        }
    }

    private void shell(CommandSession s, PrintStream o, PrintStream e) throws IOException {
        LineEditor editor = terminal ? new LineEditor(in, out) : null;
        BufferedReader lines = terminal ? null : new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        if (terminal) {
            o.print(BANNER);
        }
        while (true) {
            o.flush();
            e.flush();
            String line = terminal ? editor.readLine(PROMPT) : lines.readLine();
            if (line == null || LEAVE.contains(line.strip())) {
                break;
            }
            if (line.isBlank()) {
                continue;
            }
            if (!gate.enter()) {
                e.print(CLOSING);
                break;
            }
            boolean closing;
            try {
                execute(s, line, o, e);
                closing = gate.closing();
                if (closing) {
                    o.print(CLOSING);
                    end(s, o, e, 0);
                }
            } finally {
                gate.leave();
            }
            if (closing) {
                return;
            }
        }
        end(s, o, e, 0);
    }

    /** Runs one command line; prints its result as the Gogo console does, or its error. 0, or 1 if it threw. */
    private static int execute(CommandSession s, String line, PrintStream o, PrintStream e) {
        try {
            Object result = s.execute(line);
            if (result != null) {
                CharSequence text = s.format(result, Converter.INSPECT);
                o.print(text);
                if (text.length() == 0 || text.charAt(text.length() - 1) != '\n') {
                    o.println();
                }
            }
            return 0;
        } catch (Exception failure) {
            String message = failure.getMessage();
            e.print("error: ");
            e.println(message == null ? failure.getClass().getName() : message);
            return 1;
        }
    }

    /** Flushes, closes the Gogo session and sends the exit status (which closes the channel). */
    private void end(CommandSession s, PrintStream o, PrintStream e, int status) {
        if (ended) {
            return;
        }
        ended = true;
        o.flush();
        e.flush();
        if (s != null) {
            closeQuietly(s);
        }
        exit.onExit(status);
    }

    private static void closeQuietly(CommandSession s) {
        try {
            s.close();
        } catch (RuntimeException closing) {
            // the shell runtime may be going away too
        }
    }
}
