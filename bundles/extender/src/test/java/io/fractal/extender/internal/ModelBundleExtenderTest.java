package io.fractal.extender.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.Version;

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

    @BeforeAll
    static void quiet() {
        Logger.getLogger(ModelBundleExtender.class.getName()).setLevel(Level.WARNING);
    }

    @AfterEach
    void stop() {
        extenders.forEach(ModelBundleExtender::deactivate);
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

    // ---- the stand-in framework ----------------------------------------------------------------------------

    private ModelBundleExtender extender() {
        ModelBundleExtender e = new ModelBundleExtender(context(), repository());
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
            return Files.isRegularFile(p) ? p.toUri().toURL() : null;
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
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "BundleContext";
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
