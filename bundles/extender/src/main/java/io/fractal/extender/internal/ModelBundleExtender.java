package io.fractal.extender.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import io.fractal.api.engine.InferenceEngine;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.osgi.annotation.bundle.Capability;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.Constants;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.namespace.extender.ExtenderNamespace;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.util.tracker.BundleTracker;
import org.osgi.util.tracker.BundleTrackerCustomizer;

/**
 * The model bundle extender: deploys the models that bundles carry, for as long as those bundles are installed.
 *
 * <p>A model bundle names its models in the {@value ModelHeader#NAME} manifest header, one clause per model: the
 * model name and the {@code path} of a model file, or of a folder holding {@code model.json} and the model file:
 *
 * <pre>
 * Fractal-Model: iris;path=models/iris, adder;path=models/adder.pt
 * Require-Capability: osgi.extender;filter:="(&amp;(osgi.extender=fractal.model)(version&gt;=1.0)(!(version&gt;=2.0)))"
 * </pre>
 *
 * <p>This bundle provides the {@code osgi.extender} capability {@value #EXTENDER_NAME} (version
 * {@value #EXTENDER_VERSION}); model bundles should require it, as above, so that they resolve only where a
 * compatible extender runs. A bundle whose requirement is wired to another provider is left to that one.
 *
 * <p>The models of a bundle are deployed through {@link ModelRepository#deployFrom} from the source
 * {@code bundle:<symbolic-name>/<model>} when the bundle is resolved (a model bundle that is only installed is
 * resolved by the extender, so installing it from the shell is enough). An update (an {@code UPDATED} event)
 * deploys them again from the new content once the new revision resolves: changed files make a new version, which
 * the repository swaps in once it is ready; models the new revision no longer names are removed. Deploying the same
 * content again is a no-op, so a restart changes nothing. Uninstalling the bundle ({@code UNINSTALLED}) removes its
 * models, unless another installed bundle of the same symbolic name still carries them. Stopping the bundle does not:
 * a model bundle carries data, not code, and stopping it is no request to stop serving.
 *
 * <p>The tracker sees bundles in every state but {@code UNINSTALLED}, so that it reports the {@code UPDATED} and
 * {@code UNINSTALLED} events of a bundle it tracks; it deploys only in {@code RESOLVED}, {@code STARTING} and
 * {@code ACTIVE}. All deploy work runs on one thread of its own, in event order, never on the framework's event
 * thread.
 *
 * <p>A bundle can change under a read of its entries: an update, and any refresh (the one the framework makes right
 * after an update, FileInstall's own), closes the content of the bundle's revision, so that a stream open on it
 * fails ("Stream closed", "Zip file is closed") or an entry seems missing, while the bundle keeps its revision's
 * last-modified time. A read that fails so, or during which the tracker saw an event of the bundle, is made again
 * against the bundle's current revision: at its next event (the RESOLVED or STARTED that ends the refresh), or
 * after a short delay if none comes, at most {@value #MAX_READ_RETRIES} times in a row with a growing delay. It is
 * logged once at INFO (a warning if it never succeeds); an uninstalled bundle is dropped without a word.
 *
 * <p>Deactivating this component (stopping or updating the extender, or the repository going away) undeploys
 * nothing: the repository keeps the models, and they keep serving. When the extender comes back it sees every model
 * bundle again, and deploying unchanged content is a no-op. The other side of this: a model bundle that goes while
 * no extender runs (its jar deleted from {@code deploy/} while the server is down) leaves its models in the
 * repository, to be deleted through the API.
 */
@Component
@Capability(namespace = ExtenderNamespace.EXTENDER_NAMESPACE, name = ModelBundleExtender.EXTENDER_NAME,
        version = ModelBundleExtender.EXTENDER_VERSION)
public class ModelBundleExtender {

    /** The {@code osgi.extender} name model bundles require. */
    static final String EXTENDER_NAME = "fractal.model";
    /** The version of the header contract; a change that breaks model bundles makes it 2.0. */
    static final String EXTENDER_VERSION = "1.0.0";
    /** The prefix of the repository sources this extender deploys from. */
    static final String SOURCE_PREFIX = "bundle:";

    private static final Logger LOG = Logger.getLogger(ModelBundleExtender.class.getName());
    private static final int DEPLOY_STATES = Bundle.RESOLVED | Bundle.STARTING | Bundle.ACTIVE;
    private static final int TRACKED_STATES = Bundle.INSTALLED | DEPLOY_STATES | Bundle.STOPPING;
    /** Model file types known before any engine registers (the repository knows the same). */
    private static final Set<String> BUILT_IN_TYPES = Set.of("pt", "pth", "torchscript", "onnx");
    /** How many times in a row a bundle's models are read again after the bundle changed under the read. */
    static final int MAX_READ_RETRIES = 6;

    private final BundleContext context;
    private final ModelRepository repository;
    private final BundleTracker<TrackedBundle> tracker;
    private final ScheduledThreadPoolExecutor worker = new ScheduledThreadPoolExecutor(1,
            r -> IsolatedThreads.newThread(r, "fractal-model-extender"));
    /** The delay before the first read again (it doubles at each); a field so tests can shorten it. */
    long retryDelayMillis = 100;
    /**
     * How long an INSTALLED model bundle is left to whoever installed or updated it before this extender resolves
     * it: resolving takes the framework's global lock, and a {@code start} (FileInstall's, the shell's, the one in
     * {@code update} of an active bundle) that runs meanwhile holds the bundle's lock and fails with "Unable to
     * acquire global lock for resolve".
     */
    long resolveGraceMillis = 500;
    /** The models deployed from each bundle (by bundle id), as its last deployed revision named them; worker only. */
    private final Map<Long, Set<String>> deployed = new HashMap<>();
    private final Map<InferenceEngine, Set<String>> engineTypes = new ConcurrentHashMap<>();

    /** What the tracker keeps per bundle; guarded by itself. */
    private static final class TrackedBundle {
        /**
         * The revision (as {@link Bundle#getLastModified()}, which each install and update sets) last handed to
         * the worker to deploy; a refresh, a stop or a restart keep the revision, so they deploy nothing again.
         */
        long deployedRevision = -1;
        /** The bundle's events the tracker has seen; a read during which it changes may have read a closed content. */
        int events;
        /** The revision whose reads failed as the bundle changed, and how many times in a row. */
        long retryRevision = -1;
        int retries;

        synchronized int events() {
            return events;
        }
    }

    @Activate
    public ModelBundleExtender(BundleContext context, @Reference(name = "repository") ModelRepository repository) {
        this.context = context;
        this.repository = repository;
        this.tracker = new BundleTracker<>(context, TRACKED_STATES, new Customizer());
        // a retry waiting when the extender stops is dropped (its next start sees every bundle again); queued work runs
        worker.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    @Activate
    void activate() {
        tracker.open();
    }

    /** Stops following bundles; the models deployed stay (see the class comment). */
    @Deactivate
    void deactivate() {
        tracker.close();
        // queued work still runs (an uninstall's undeploy must not be lost), within a bound
        worker.shutdown();
        try {
            if (!worker.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warning("Model bundle work still running after 30 s; interrupting it");
                worker.shutdownNow();
            }
        } catch (InterruptedException e) {
            worker.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void bindEngine(InferenceEngine engine) {
        Set<String> types = new HashSet<>();
        engine.fileExtensions().forEach(ext -> types.add(ext.toLowerCase(Locale.ROOT)));
        engineTypes.put(engine, types);
    }

    void unbindEngine(InferenceEngine engine) {
        engineTypes.remove(engine);
    }


    static String source(String symbolicName, String model) {
        return SOURCE_PREFIX + symbolicName + "/" + model;
    }

    // ---- on the framework's event thread: only bookkeeping and hand-offs ------------------------------------

    private final class Customizer implements BundleTrackerCustomizer<TrackedBundle> {

        @Override
        public TrackedBundle addingBundle(Bundle bundle, BundleEvent event) {
            if (bundle.getHeaders("").get(ModelHeader.NAME) == null) {
                return null; // not a model bundle (an update may make it one: it is offered again at each event)
            }
            TrackedBundle tracked = new TrackedBundle();
            changed(bundle, tracked);
            return tracked;
        }

        @Override
        public void modifiedBundle(Bundle bundle, BundleEvent event, TrackedBundle tracked) {
            synchronized (tracked) {
                tracked.events++;
            }
            changed(bundle, tracked);
        }

        @Override
        public void removedBundle(Bundle bundle, BundleEvent event, TrackedBundle tracked) {
            // also called for every bundle when the tracker closes: only an uninstall undeploys
            if (bundle.getState() == Bundle.UNINSTALLED) {
                submit(() -> uninstalled(bundle));
            }
        }
    }

    /**
     * Hands a resolved bundle's revision to the worker to deploy, once per revision: a new bundle, and an updated
     * one (an {@code UPDATED} event leaves the bundle INSTALLED with a new revision), deploy once they resolve. The
     * worker resolves a bundle left INSTALLED (one installed from the shell without a start, say) after a short grace.
     */
    private void changed(Bundle bundle, TrackedBundle tracked) {
        synchronized (tracked) {
            int state = bundle.getState();
            long revision = bundle.getLastModified();
            if (state == Bundle.INSTALLED) {
                schedule(() -> resolve(bundle, tracked), resolveGraceMillis);
            } else if ((state & DEPLOY_STATES) != 0 && tracked.deployedRevision != revision) {
                tracked.deployedRevision = revision;
                submit(() -> deploy(bundle, tracked));
            }
        }
    }

    private void submit(Runnable work) {
        schedule(work, 0);
    }

    private void schedule(Runnable work, long delayMillis) {
        Runnable guarded = () -> {
            try {
                work.run();
            } catch (RuntimeException e) { // e.g. this bundle stopping under the work
                LOG.log(Level.WARNING, "Model bundle work failed: " + e, e);
            }
        };
        try {
            if (delayMillis <= 0) {
                worker.execute(guarded);
            } else {
                worker.schedule(guarded, delayMillis, TimeUnit.MILLISECONDS);
            }
        } catch (RejectedExecutionException e) {
            LOG.fine(() -> "Model bundle extender stopping; a bundle event is left for its next start");
        }
    }

    // ---- on the worker thread --------------------------------------------------------------------------------

    /**
     * Resolves a bundle still INSTALLED after the grace, then deploys it. Its RESOLVED event cannot be relied on: it
     * may come while the tracker is still adding the bundle, and a tracker ignores events for a bundle it is adding.
     */
    private void resolve(Bundle bundle, TrackedBundle tracked) {
        if (bundle.getState() == Bundle.INSTALLED) {
            FrameworkWiring wiring = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION).adapt(FrameworkWiring.class);
            if (!wiring.resolveBundles(List.of(bundle)) && bundle.getState() == Bundle.INSTALLED) {
                LOG.warning(() -> "Model bundle " + label(bundle) + " does not resolve; its models are deployed once "
                        + "it does");
                return;
            }
        }
        if (bundle.getState() != Bundle.INSTALLED) {
            changed(bundle, tracked); // once per revision: a no-op if the RESOLVED event got there first
        }
    }

    /**
     * Deploys every clause of the bundle's current revision; removes the models its previous revision had more. A
     * clause whose read failed as the bundle changed under it is read again later (see the class comment).
     *
     * @param tracked the tracker's record of the bundle, or null (the tracker closed): then nothing is read again
     */
    private void deploy(Bundle bundle, TrackedBundle tracked) {
        if (bundle.getState() == Bundle.UNINSTALLED || !extendedHere(bundle)) {
            return;
        }
        // the revision this read is of; Felix keeps both over a refresh, which closes the content: hence the events
        long revision = bundle.getLastModified();
        BundleRevision revisionObject = bundle.adapt(BundleRevision.class);
        int events = tracked == null ? 0 : tracked.events();
        String label = label(bundle);
        List<ModelHeader.Clause> clauses = ModelHeader.parse(bundle.getHeaders("").get(ModelHeader.NAME),
                problem -> LOG.warning(() -> "Model bundle " + label + ": " + ModelHeader.NAME + " " + problem));
        Set<String> models = new LinkedHashSet<>();
        String changedUnder = null;
        for (ModelHeader.Clause clause : clauses) {
            models.add(clause.model());
            String failure = deploy(bundle, label, clause, () -> bundle.getLastModified() != revision
                    || bundle.adapt(BundleRevision.class) != revisionObject
                    || (tracked != null && tracked.events() != events));
            if (failure != null && changedUnder == null) {
                changedUnder = "model '" + clause.model() + "': " + failure;
            }
        }
        Set<String> previous = deployed.put(bundle.getBundleId(), models);
        if (previous != null) {
            previous.stream().filter(m -> !models.contains(m))
                    .forEach(m -> undeploy(bundle.getSymbolicName(), m, label + " no longer carries it"));
        }
        if (tracked == null) {
            return;
        }
        if (changedUnder != null) {
            readAgain(bundle, tracked, revision, label, changedUnder);
        } else {
            synchronized (tracked) {
                if (tracked.retryRevision == revision) {
                    int retries = tracked.retries;
                    LOG.fine(() -> "Model bundle " + label + ": read after " + retries + " retries");
                    tracked.retryRevision = -1;
                    tracked.retries = 0;
                }
            }
        }
    }

    /**
     * Deploys one clause.
     *
     * @param bundleChanged whether the bundle changed since its deploy began
     * @return why the read failed, if the bundle's content went away under it (read it again); null when deployed,
     * when the clause cannot deploy from this revision (logged), and when the bundle was uninstalled meanwhile
     */
    private String deploy(Bundle bundle, String label, ModelHeader.Clause clause,
            BooleanSupplier bundleChanged) {
        long started = System.nanoTime();
        ContentStream model = null;
        try {
            ModelEntries.ModelFiles files = ModelEntries.find(bundle, clause, knownTypes());
            model = new ContentStream(files.model().openStream());
            try (InputStream in = model;
                    InputStream metadata = files.metadata() == null ? null : new ByteArrayInputStream(files.metadata())) {
                ModelVersionDTO version = repository.deployFrom(source(bundle.getSymbolicName(), clause.model()),
                        clause.model(), files.fileName(), in, metadata);
                LOG.info(() -> String.format("Model bundle %s: model %s is version %d (%s, %d ms)", label,
                        clause.model(), version.version, version.sha256 == null ? "?" : version.sha256.substring(0, 12),
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)));
            }
            return null;
        } catch (Exception e) {
            if (bundle.getState() == Bundle.UNINSTALLED) {
                LOG.fine(() -> "Model bundle " + label + " uninstalled while model '" + clause.model() + "' was read");
                return null; // the uninstall is next in line
            }
            // before the repository got the stream, anything but what the entries say is a failed read of the
            // content ("Zip file is closed", an entry gone); after, only what the bundle's stream threw
            boolean readFailed = model == null ? !(e instanceof ModelEntries.InvalidModelException) : model.failed;
            if (readFailed || bundleChanged.getAsBoolean()) {
                return String.valueOf(e.getMessage() == null ? e : e.getMessage());
            }
            LOG.warning(() -> "Model bundle " + label + ": cannot deploy model '" + clause.model() + "' from '"
                    + clause.path() + "': " + e.getMessage());
            return null;
        }
    }

    /**
     * A read of the bundle's revision failed as the bundle changed: lets the bundle's next event deploy it again
     * (the refresh under way ends with one) and, in case none comes, schedules the same after a delay; bounded.
     */
    private void readAgain(Bundle bundle, TrackedBundle tracked, long revision, String label, String why) {
        int attempt;
        synchronized (tracked) {
            if (tracked.retryRevision != revision) {
                tracked.retryRevision = revision;
                tracked.retries = 0;
            }
            attempt = ++tracked.retries;
            if (tracked.deployedRevision == revision) {
                tracked.deployedRevision = -1; // not deployed after all
            }
        }
        if (attempt > MAX_READ_RETRIES) {
            LOG.warning(() -> "Model bundle " + label + ": its content kept changing while it was read (" + why
                    + "); gave up after " + MAX_READ_RETRIES + " retries; its models deploy at its next event "
                    + "(a refresh, an update, a start)");
            return;
        }
        long delay = retryDelayMillis << (attempt - 1);
        LOG.log(attempt == 1 ? Level.INFO : Level.FINE, () -> "Model bundle " + label + " changed while it was read ("
                + why + "); reading it again from its current revision (retry " + attempt + " of " + MAX_READ_RETRIES
                + ", at its next event or in " + delay + " ms)");
        schedule(() -> changed(bundle, tracked), delay); // a no-op if an event deployed it meanwhile
    }

    /** A bundle entry's stream that tells whether it threw (its content closed under the read). */
    private static final class ContentStream extends FilterInputStream {
        volatile boolean failed;

        ContentStream(InputStream in) {
            super(in);
        }

        private IOException failed(IOException e) {
            failed = true;
            return e;
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public long skip(long n) throws IOException {
            try {
                return super.skip(n);
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public int available() throws IOException {
            try {
                return super.available();
            } catch (IOException e) {
                throw failed(e);
            }
        }
    }

    /**
     * Removes the models of an uninstalled bundle, except those another installed bundle of the same symbolic name
     * carries (a new version installed beside the old one before the old one went): that one deploys them again.
     */
    private void uninstalled(Bundle bundle) {
        Set<String> models = new LinkedHashSet<>(Optional.ofNullable(deployed.remove(bundle.getBundleId()))
                .orElse(Set.of()));
        // an uninstalled bundle still answers its headers: its models, even if this extender never deployed them
        ModelHeader.parse(bundle.getHeaders("").get(ModelHeader.NAME), problem -> { })
                .forEach(clause -> models.add(clause.model()));
        String symbolicName = bundle.getSymbolicName();
        Set<Bundle> heirs = new LinkedHashSet<>();
        for (String model : models) {
            Optional<Bundle> heir = Arrays.stream(context.getBundles())
                    .filter(b -> b.getBundleId() != bundle.getBundleId() && b.getState() != Bundle.UNINSTALLED)
                    .filter(b -> symbolicName.equals(b.getSymbolicName()) && carries(b, model))
                    .findFirst();
            if (heir.isPresent()) {
                heirs.add(heir.get());
                LOG.info(() -> "Model bundle " + label(bundle) + " uninstalled; model " + model + " stays, carried by "
                        + label(heir.get()));
            } else {
                undeploy(symbolicName, model, label(bundle) + " was uninstalled");
            }
        }
        heirs.stream().filter(b -> (b.getState() & DEPLOY_STATES) != 0).forEach(b -> deploy(b, tracker.getObject(b)));
    }

    private void undeploy(String symbolicName, String model, String why) {
        int removed = repository.undeploySource(source(symbolicName, model));
        LOG.log(removed > 0 ? Level.INFO : Level.FINE, () -> "Model " + model + ": removed " + removed
                + " version(s) deployed from bundle " + symbolicName + " (" + why + ")");
    }

    private static boolean carries(Bundle bundle, String model) {
        return ModelHeader.parse(bundle.getHeaders("").get(ModelHeader.NAME), problem -> { }).stream()
                .anyMatch(clause -> clause.model().equals(model));
    }

    /** False when the bundle's {@code osgi.extender} requirement for model bundles is wired to another extender. */
    private boolean extendedHere(Bundle bundle) {
        BundleWiring wiring = bundle.adapt(BundleWiring.class);
        if (wiring == null) {
            return true;
        }
        for (BundleWire wire : wiring.getRequiredWires(ExtenderNamespace.EXTENDER_NAMESPACE)) {
            if (EXTENDER_NAME.equals(wire.getCapability().getAttributes().get(ExtenderNamespace.EXTENDER_NAMESPACE))
                    && wire.getProvider().getBundle().getBundleId() != context.getBundle().getBundleId()) {
                LOG.fine(() -> "Model bundle " + label(bundle) + " is wired to another model extender");
                return false;
            }
        }
        return true;
    }

    private Set<String> knownTypes() {
        Set<String> types = new HashSet<>(BUILT_IN_TYPES);
        engineTypes.values().forEach(types::addAll);
        return types;
    }

    private static String label(Bundle bundle) {
        return bundle.getSymbolicName() + " " + bundle.getVersion() + " [" + bundle.getBundleId() + "]";
    }
}
