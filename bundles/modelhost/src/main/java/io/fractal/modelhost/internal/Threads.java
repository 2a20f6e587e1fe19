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
     * A daemon thread that holds neither its creator's access control context nor its context class loader. A thread
     * keeps the protection domains of the stack that created it (and that stack's context class loader): created while
     * another bundle calls in (the repository publishing a version, the shell running an update), it would keep that
     * bundle's old revision from being collected after an update.
     */
    @SuppressWarnings("removal")
    static Thread newThread(Runnable r, String name) {
        Thread t = AccessController.doPrivileged((PrivilegedAction<Thread>) () -> new Thread(r, name),
                new AccessControlContext(new ProtectionDomain[0]));
        t.setDaemon(true);
        t.setContextClassLoader(Threads.class.getClassLoader());
        return t;
    }
}
