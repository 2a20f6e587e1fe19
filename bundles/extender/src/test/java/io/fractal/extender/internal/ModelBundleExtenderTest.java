package io.fractal.extender.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.Constants;
import org.osgi.framework.Version;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * The extender against a stand-in framework and repository: what it deploys and, above all, what it never
 * undeploys (its own restart, the repository's).
 */
class ModelBundleExtenderTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private final List<FakeBundle> bundles = new CopyOnWriteArrayList<>();
    private final List<BundleListener> listeners = new CopyOnWriteArrayList<>();
    private final List<ModelBundleExtender> extenders = new ArrayList<>();
    /** The delay before an extender's first read again, set on each extender this test makes. */
    private long retryDelayMillis = 10;

    private static final Logger LOG = Logger.getLogger(ModelBundleExtender.class.getName());
    private static final List<LogRecord> LOGGED = new CopyOnWriteArrayList<>();
    private static final Handler CAPTURE = new Handler() {
        @Override
        public void publish(LogRecord record) {
            LOGGED.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeAll
    static void quiet() {
        LOG.setLevel(Level.INFO);
        LOG.setUseParentHandlers(false);
        LOG.addHandler(CAPTURE);
    }

    @AfterAll
    static void loud() {
        LOG.removeHandler(CAPTURE);
        LOG.setUseParentHandlers(true);
        LOG.setLevel(null);
    }

    @BeforeEach
    void clearLog() {
        LOGGED.clear();
    }

    @AfterEach
    void stop() {
        extenders.forEach(ModelBundleExtender::deactivate);
    }

    private List<String> logged(Level level) {
        return LOGGED.stream().filter(r -> r.getLevel() == level).map(LogRecord::getMessage).toList();
    }

    @Test
    void aRestartOfTheExtenderOrItsRepositoryUndeploysNothing() throws Exception {
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt, adder;path=models/adder.pt");
        ModelBundleExtender first = extender();
        await().atMost(WAIT).until(() -> calls.size() == 2);
        assertEquals(List.of("deployFrom bundle:com.acme.models/iris", "deployFrom bundle:com.acme.models/adder"), calls);

        first.deactivate(); // the extender updated, or its repository going (a static reference)
        extenders.remove(first);
        assertEquals(2, calls.size(), "deactivation undeploys nothing");

        extender(); // the new revision, or the same extender bound to the new repository
        await().atMost(WAIT).until(() -> calls.size() == 4);
        assertEquals(List.of("deployFrom bundle:com.acme.models/iris", "deployFrom bundle:com.acme.models/adder",
                "deployFrom bundle:com.acme.models/iris", "deployFrom bundle:com.acme.models/adder"), calls,
                "it deploys the same content again (a no-op in the repository), and undeploys nothing");
        assertEquals(Bundle.ACTIVE, models.state);
    }

    @Test
    void stoppingAModelBundleKeepsItsModelsUninstallingItRemovesThem() throws Exception {
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt");
        extender();
        await().atMost(WAIT).until(() -> calls.size() == 1);
        models.state = Bundle.RESOLVED;
        fire(BundleEvent.STOPPED, models);
        models.state = Bundle.UNINSTALLED;
        fire(BundleEvent.UNINSTALLED, models);
        await().atMost(WAIT).until(() -> calls.size() == 2);
        assertEquals("undeploySource bundle:com.acme.models/iris", calls.get(1));
    }

    @Test
    void anUninstallSeenAsTheExtenderStopsIsStillCarriedOut() throws Exception {
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt");
        FakeBundle other = modelBundle(13, "com.acme.other", "adder;path=models/adder.pt");
        ModelBundleExtender extender = extender();
        await().atMost(WAIT).until(() -> calls.size() == 2);
        models.state = Bundle.UNINSTALLED; // its event not delivered yet when the tracker closes
        extender.deactivate();
        extenders.remove(extender);
        assertEquals("undeploySource bundle:com.acme.models/iris", calls.get(2));
        assertEquals(3, calls.size(), "the bundle still installed keeps its model");
        assertEquals(Bundle.ACTIVE, other.state);
    }

    // ---- a bundle changing under a read of its entries (FileInstall updating and refreshing it) ----------------

    @Test
    void aReadThatFailsWithStreamClosedIsMadeAgainFromTheCurrentRevision() throws Exception {
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt");
        models.failingOpens.set(1); // the refresh closed the content under the read; no event reached the tracker

        extender();

        await().atMost(WAIT).until(() -> calls.size() == 1);
        assertEquals(List.of("deployFrom bundle:com.acme.models/iris"), calls);
        assertEquals(2, models.opens.get(), "read once more, from the bundle's current content");
        assertEquals(List.of(), logged(Level.WARNING));
        assertEquals(1, logged(Level.INFO).stream().filter(m -> m.contains("changed while it was read")).count(),
                "logged once: " + logged(Level.INFO));
    }

    @Test
    void aRefreshUnderTheReadDeploysAgainAtTheRefreshsOwnEventsNotLater() throws Exception {
        retryDelayMillis = 3_600_000; // no timer: only the bundle's events can bring the read again
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt");
        models.failingOpens.set(1);
        models.duringFailingRead = () -> { // what Felix does on a refresh: closes the content, unresolves
            models.state = Bundle.INSTALLED;
            fire(BundleEvent.UNRESOLVED, models);
        };
        // the refresh comes once the tracker has added the bundle (it ignores the events of a bundle it is adding)
        models.readGate = new CountDownLatch(1);

        ModelBundleExtender extender = extender();
        models.readGate.countDown();

        // the extender resolves the INSTALLED bundle (the stand-in framework fires RESOLVED), then reads it again
        await("deployed again; logged " + LOGGED.stream().map(r -> r.getLevel() + " " + r.getMessage()
                + (r.getThrown() == null ? "" : " " + r.getThrown())).toList()).atMost(WAIT).until(() -> calls.size() == 1);
        assertEquals(List.of("deployFrom bundle:com.acme.models/iris"), calls);
        assertEquals(2, models.opens.get());
        fire(BundleEvent.STARTED, models); // the rest of the refresh: deployed, so nothing more
        Thread.sleep(200);
        assertEquals(1, calls.size(), "deployed once: " + calls);

        long stopping = System.nanoTime();
        extender.deactivate(); // the hour-long retry waiting is dropped, not waited for
        extenders.remove(extender);
        assertTrue(System.nanoTime() - stopping < 5_000_000_000L, "deactivation waits for no retry");
    }

    @Test
    void aBundleUninstalledUnderTheReadIsDroppedNotReadAgain() throws Exception {
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt");
        models.failingOpens.set(1);
        models.duringFailingRead = () -> {
            models.state = Bundle.UNINSTALLED;
            fire(BundleEvent.UNINSTALLED, models);
        };

        extender();

        await().atMost(WAIT).until(() -> calls.size() == 1);
        Thread.sleep(300); // 30 retry delays
        assertEquals(List.of("undeploySource bundle:com.acme.models/iris"), calls);
        assertEquals(1, models.opens.get(), "not read again");
        assertEquals(List.of(), logged(Level.WARNING));
    }

    @Test
    void aContentThatNeverReadsIsReadAgainABoundedNumberOfTimesThenAWarning() throws Exception {
        retryDelayMillis = 1;
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/iris.pt");
        models.failingOpens.set(Integer.MAX_VALUE);

        extender();

        int reads = 1 + ModelBundleExtender.MAX_READ_RETRIES;
        await().atMost(WAIT).until(() -> logged(Level.WARNING).size() == 1);
        Thread.sleep(300);
        assertEquals(reads, models.opens.get());
        assertEquals(List.of(), calls);
        assertTrue(logged(Level.WARNING).get(0).contains("gave up after"), logged(Level.WARNING).toString());
        assertEquals(1, logged(Level.INFO).size(), "one INFO for the whole series: " + logged(Level.INFO));

        fire(BundleEvent.STARTED, models); // its next event tries again (and keeps within the bound)
        await().atMost(WAIT).until(() -> models.opens.get() == reads + 1);
    }

    @Test
    void aClauseTheBundleCannotSatisfyIsNotReadAgain() throws Exception {
        FakeBundle models = modelBundle(12, "com.acme.models", "iris;path=models/none.pt");

        extender();

        await().atMost(WAIT).until(() -> logged(Level.WARNING).size() == 1);
        Thread.sleep(300);
        assertEquals(1, logged(Level.WARNING).size(), logged(Level.WARNING).toString());
        assertTrue(logged(Level.WARNING).get(0).contains("has no entry"), logged(Level.WARNING).toString());
        assertEquals(List.of(), calls);
        assertEquals(0, models.opens.get());
    }

    // ---- the stand-in framework ----------------------------------------------------------------------------

    private ModelBundleExtender extender() {
        ModelBundleExtender e = new ModelBundleExtender(context(), repository());
        e.retryDelayMillis = retryDelayMillis;
        e.activate();
        extenders.add(e);
        return e;
    }

    private void fire(int type, FakeBundle bundle) {
        BundleEvent event = new BundleEvent(type, bundle.bundle);
        listeners.forEach(l -> l.bundleChanged(event));
    }

    private FakeBundle modelBundle(long id, String symbolicName, String header) throws IOException {
        Path models = Files.createDirectories(dir.resolve(symbolicName).resolve("models"));
        Files.writeString(models.resolve("iris.pt"), "iris model", StandardCharsets.UTF_8);
        Files.writeString(models.resolve("adder.pt"), "adder model", StandardCharsets.UTF_8);
        FakeBundle b = new FakeBundle(id, symbolicName, header, models.getParent());
        bundles.add(b);
        return b;
    }

    /** A bundle's state and content; its Bundle view is a proxy. */
    private static final class FakeBundle {
        final long id;
        final String symbolicName;
        final String header;
        final Path root;
        volatile int state = Bundle.ACTIVE;
        final Bundle bundle;
        /** Entry streams opened. */
        final AtomicInteger opens = new AtomicInteger();
        /** How many of the next entry streams fail at their first read, as Felix's do when a refresh closes them. */
        final AtomicInteger failingOpens = new AtomicInteger();
        /** Runs in such a read before it fails (the refresh, say). */
        volatile Runnable duringFailingRead = () -> { };
        /** Such a read waits for it first. */
        volatile CountDownLatch readGate = new CountDownLatch(0);
        private final URLStreamHandler handler = new URLStreamHandler() {
            @Override
            protected URLConnection openConnection(URL u) {
                return new URLConnection(u) {
                    @Override
                    public void connect() {
                    }

                    @Override
                    public InputStream getInputStream() throws IOException {
                        return open(Path.of(u.getPath()));
                    }
                };
            }
        };

        FakeBundle(long id, String symbolicName, String header, Path root) {
            this.id = id;
            this.symbolicName = symbolicName;
            this.header = header;
            this.root = root;
            this.bundle = (Bundle) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Bundle.class},
                    (proxy, method, args) -> switch (method.getName()) {
                        case "getState" -> state;
                        case "getBundleId" -> id;
                        case "getSymbolicName" -> symbolicName;
                        case "getVersion" -> new Version(1, 0, 0);
                        case "getLastModified" -> 1000L;
                        case "getHeaders" -> {
                            Hashtable<String, String> h = new Hashtable<>();
                            h.put(ModelHeader.NAME, header);
                            yield h;
                        }
                        case "getEntry" -> entry((String) args[0]);
                        case "getEntryPaths" -> null;
                        case "adapt" -> null; // no wiring: extended here
                        case "hashCode" -> Long.hashCode(id);
                        case "equals" -> proxy == args[0];
                        case "compareTo" -> Long.compare(id, ((Bundle) args[0]).getBundleId());
                        case "toString" -> symbolicName + " [" + id + "]";
                        default -> throw new UnsupportedOperationException(method.getName());
                    });
        }

        URL entry(String path) throws IOException {
            Path p = root.resolve(path);
            return Files.isRegularFile(p) ? new URL("fakebundle", "", -1, p.toAbsolutePath().toString(), handler) : null;
        }

        InputStream open(Path p) throws IOException {
            opens.incrementAndGet();
            if (failingOpens.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
                return Files.newInputStream(p);
            }
            return new InputStream() {
                @Override
                public int read() throws IOException {
                    try {
                        assertTrue(readGate.await(5, TimeUnit.SECONDS));
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                    duringFailingRead.run();
                    throw new IOException("Stream closed");
                }
            };
        }
    }

    private BundleContext context() {
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BundleContext.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "addBundleListener" -> {
                        listeners.add((BundleListener) args[0]);
                        yield null;
                    }
                    case "removeBundleListener" -> {
                        listeners.remove((BundleListener) args[0]);
                        yield null;
                    }
                    case "getBundles" -> bundles.stream().map(b -> b.bundle).toArray(Bundle[]::new);
                    case "getBundle" -> {
                        assertEquals(Constants.SYSTEM_BUNDLE_LOCATION, args[0]);
                        yield systemBundle();
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "BundleContext";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** The system bundle, as far as its FrameworkWiring: resolving an INSTALLED bundle fires RESOLVED. */
    private Bundle systemBundle() {
        FrameworkWiring wiring = (FrameworkWiring) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {FrameworkWiring.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "resolveBundles" -> {
                        for (Object o : (java.util.Collection<?>) args[0]) {
                            FakeBundle b = bundles.stream().filter(f -> f.bundle == o).findFirst().orElseThrow();
                            if (b.state == Bundle.INSTALLED) {
                                b.state = Bundle.RESOLVED;
                                fire(BundleEvent.RESOLVED, b);
                            }
                        }
                        yield true;
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return (Bundle) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Bundle.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "adapt" -> FrameworkWiring.class.equals(args[0]) ? wiring : null;
                    case "getBundleId" -> 0L;
                    case "hashCode" -> 0;
                    case "equals" -> proxy == args[0];
                    case "toString" -> "system bundle";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private ModelRepository repository() {
        return (ModelRepository) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ModelRepository.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "deployFrom" -> {
                        try (InputStream in = (InputStream) args[3]) {
                            in.readAllBytes();
                        }
                        calls.add("deployFrom " + args[0]);
                        ModelVersionDTO v = new ModelVersionDTO();
                        v.name = (String) args[1];
                        v.version = 1;
                        yield v;
                    }
                    case "undeploySource" -> {
                        calls.add("undeploySource " + args[0]);
                        yield 1;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "ModelRepository";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
