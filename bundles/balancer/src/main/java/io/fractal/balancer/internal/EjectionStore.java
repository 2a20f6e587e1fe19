package io.fractal.balancer.internal;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The ejections in force, kept across a bundle update in the bundle's persistent data area
 * ({@code BundleContext.getDataFile("ejections.json")}): the old instance writes them when it deactivates, the
 * new one reads them when it activates. A store without a file (no data area) keeps nothing.
 */
final class EjectionStore {

    static final String FILE_NAME = "ejections.json";

    private static final Logger LOG = Logger.getLogger(EjectionStore.class.getName());

    private final Path file;
    private final ObjectMapper json = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    EjectionStore(Path file) {
        this.file = file;
    }

    /** One ejected modelhost, as saved. */
    public static final class Ejection {
        public String modelhost;
        /** Epoch milliseconds. */
        public long ejectedUntil;
        public int consecutiveFailures;

        public Ejection() {
        }

        Ejection(String modelhost, long ejectedUntil, int consecutiveFailures) {
            this.modelhost = modelhost;
            this.ejectedUntil = ejectedUntil;
            this.consecutiveFailures = consecutiveFailures;
        }
    }

    /** The file's layout. */
    public static final class Saved {
        public List<Ejection> ejections = new ArrayList<>();
    }

    /** The saved ejections still in force at {@code nowMillis}, by modelhost id; empty when nothing was saved. */
    Map<String, Ejection> load(long nowMillis) {
        Map<String, Ejection> out = new LinkedHashMap<>();
        if (file == null || !Files.isRegularFile(file)) {
            return out;
        }
        try {
            Saved saved = json.readValue(file.toFile(), Saved.class);
            if (saved != null && saved.ejections != null) {
                for (Ejection e : saved.ejections) {
                    if (e != null && e.modelhost != null && e.ejectedUntil > nowMillis) {
                        out.put(e.modelhost, e);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Cannot read the saved ejections from " + file + "; starting without them", e);
        }
        return out;
    }

    /** Replaces the saved ejections (an empty collection leaves an empty list). */
    void save(Collection<Ejection> ejections) {
        if (file == null) {
            return;
        }
        Saved saved = new Saved();
        saved.ejections.addAll(ejections);
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            json.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), saved);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Cannot save the ejections in force to " + file, e);
        }
    }
}
