package io.fractal.engine.djl;

import ai.djl.engine.Engine;
import java.util.concurrent.Callable;

/**
 * The one place DJL's class-loading quirk is handled. DJL finds its engines with a {@link java.util.ServiceLoader}
 * and its native-library descriptors through the thread context class loader; inside OSGi that loader is a
 * bundle's, which sees neither. DJL and its natives live on the launcher class path (the system bundle exports
 * them), so while DJL works we make the loader that holds DJL the context class loader.
 */
final class DjlClassLoading {

    private DjlClassLoading() {
    }

    static <T> T call(Callable<T> action) throws Exception {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(Engine.class.getClassLoader());
        try {
            return action.call();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }
}
