package io.fractal.launcher;

import java.util.logging.Handler;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * The JDK's log manager, except that it keeps its handlers when the JVM starts to shut down. The JDK's own shutdown
 * hook resets the log manager (every handler closed and removed) while the other hooks still run, and the server's
 * graceful shutdown (readiness off, the listener drained, the framework stopped) is one of them: without this, what
 * it logs (requests still in flight, a drain that timed out, a bundle that would not stop) is lost. Tomcat's
 * {@code ClassLoaderLogManager} ignores that reset the same way.
 *
 * <p>The handlers are flushed instead; file and console handlers also flush each record as they publish it, so
 * nothing is lost when the JVM ends. Installed by {@code bin/fractal} with
 * {@code -Djava.util.logging.manager=io.fractal.launcher.ShutdownLogManager}.
 */
public final class ShutdownLogManager extends LogManager {

    @Override
    public void reset() {
        if (Thread.currentThread().getClass().getName().startsWith(LogManager.class.getName() + "$")) {
            for (Handler handler : Logger.getLogger("").getHandlers()) {
                handler.flush();
            }
            return;
        }
        super.reset();
    }
}
