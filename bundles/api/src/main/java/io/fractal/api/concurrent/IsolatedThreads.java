package io.fractal.api.concurrent;

import java.security.AccessControlContext;
import java.security.AccessController;
import java.security.PrivilegedAction;
import java.security.ProtectionDomain;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Threads that keep no bundle revision alive. On Java 17 a new thread keeps the protection domains of the stack that
 * created it (its inherited access control context), and each domain holds a bundle's class loader: a thread created
 * while another bundle calls in (a shell session running an update, a request passing through) would keep that
 * bundle's old revision from being collected after its update, for as long as the thread lives. These threads are
 * created with an empty context, and with the system class loader as context class loader, as the framework's own
 * threads have (never a bundle's, which an update disposes of while the thread runs).
 */
public final class IsolatedThreads {

    private IsolatedThreads() {
    }

    private static final Logger LOG = Logger.getLogger(IsolatedThreads.class.getName());

    /**
     * A daemon thread, not started. Should it die of an exception, that is logged (an executor replaces a worker
     * that dies: the log says why it had to).
     */
    @SuppressWarnings("removal")
    public static Thread newThread(Runnable task, String name) {
        Thread t = AccessController.doPrivileged((PrivilegedAction<Thread>) () -> new Thread(task, name),
                new AccessControlContext(new ProtectionDomain[0]));
        t.setDaemon(true);
        t.setContextClassLoader(ClassLoader.getSystemClassLoader());
        t.setUncaughtExceptionHandler((thread, e) -> LOG.log(Level.SEVERE, "Thread " + thread.getName()
                + " died of an uncaught " + e.getClass().getSimpleName() + "; a pool it belonged to replaces it", e));
        return t;
    }

    /**
     * Runs an action that starts threads it does not create through a factory of this class (a library's own pools),
     * so that they too inherit an empty context instead of the caller's.
     */
    @SuppressWarnings("removal")
    public static <T> T run(PrivilegedAction<T> action) {
        return AccessController.doPrivileged(action, new AccessControlContext(new ProtectionDomain[0]));
    }

    /** A factory of such threads named {@code prefix-1}, {@code prefix-2}, ... (just {@code prefix} for the first). */
    public static ThreadFactory factory(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return task -> {
            int i = n.incrementAndGet();
            return newThread(task, i == 1 ? prefix : prefix + "-" + i);
        };
    }
}
