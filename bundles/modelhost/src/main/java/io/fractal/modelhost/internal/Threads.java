package io.fractal.modelhost.internal;

import java.security.AccessControlContext;
import java.security.AccessController;
import java.security.PrivilegedAction;
import java.security.ProtectionDomain;

/** The threads of this bundle. */
final class Threads {

    private Threads() {
    }

    /**
     * A daemon thread that holds neither its creator's access control context nor its creator's context class
     * loader. A thread keeps the protection domains of the stack that created it, and its context class loader:
     * created while another bundle calls in (the repository publishing a version, the shell running an update), it
     * would keep that bundle's old revision from being collected. Its context class loader is the system one, as the
     * framework's own threads have; never a bundle's, which an update can dispose of while the thread runs.
     */
    @SuppressWarnings("removal")
    static Thread newThread(Runnable r, String name) {
        Thread t = AccessController.doPrivileged((PrivilegedAction<Thread>) () -> new Thread(r, name),
                new AccessControlContext(new ProtectionDomain[0]));
        t.setDaemon(true);
        t.setContextClassLoader(ClassLoader.getSystemClassLoader()); // as a framework thread has
        return t;
    }
}
