package io.fractal.balancer.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The ejections in force, kept across a bundle update in the bundle's persistent data area
 * ({@code BundleContext.getDataFile("ejections.json")}): the old instance writes them when it deactivates, the
 * new one reads them when it activates. A store without a file (no data area) keeps nothing.
 *
 * <p>The file is read and written as a JSON tree, not bound to classes of this bundle: Jackson's shared type cache
 * would otherwise keep this bundle's old revision after an update.
 */
final class EjectionStore {

    static final String FILE_NAME = "ejections.json";

    private static final Logger LOG = Logger.getLogger(EjectionStore.class.getName());

    private final Path file;
    private final ObjectMapper json = new ObjectMapper();

    EjectionStore(Path file) {
        this.file = file;
    }

    /**
     * One ejected modelhost, as saved: {@code {"modelhost": id, "ejectedUntil": epoch ms, "consecutiveFailures": n}}
     * in the file's {@code "ejections"} array.
     */
    static final class Ejection {
        final String modelhost;
        /** Epoch milliseconds. */
        final long ejectedUntil;
        final int consecutiveFailures;

        Ejection(String modelhost, long ejectedUntil, int consecutiveFailures) {
            this.modelhost = modelhost;
            this.ejectedUntil = ejectedUntil;
            this.consecutiveFailures = consecutiveFailures;
        }
    }

    /** The saved ejections still in force at {@code nowMillis}, by modelhost id; empty when nothing was saved. */
    Map<String, Ejection> load(long nowMillis) {
        Map<String, Ejection> out = new LinkedHashMap<>();
        if (file == null || !Files.isRegularFile(file)) {
            return out;
        }
        try {
            for (JsonNode e : json.readTree(file.toFile()).path("ejections")) {
                String id = e.path("modelhost").asText(null);
                long until = e.path("ejectedUntil").asLong(0);
                if (id != null && until > nowMillis) {
                    out.put(id, new Ejection(id, until, e.path("consecutiveFailures").asInt(0)));
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
        ObjectNode saved = json.createObjectNode();
        ArrayNode list = saved.putArray("ejections");
        for (Ejection e : ejections) {
            list.addObject().put("modelhost", e.modelhost).put("ejectedUntil", e.ejectedUntil)
                    .put("consecutiveFailures", e.consecutiveFailures);
        }
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
