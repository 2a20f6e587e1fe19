package io.fractal.extender.internal;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.osgi.framework.Bundle;

/** Finds the files of a {@link ModelHeader.Clause} among a bundle's entries. */
final class ModelEntries {

    /** The sidecar of a model folder. */
    static final String SIDECAR = "model.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The files of one model in a bundle.
     *
     * @param fileName the model file's name (its extension tells the repository the file type)
     * @param model    the model file's entry
     * @param metadata the bytes of the folder's {@code model.json}, or null for a model given as a file
     */
    record ModelFiles(String fileName, URL model, byte[] metadata) {
    }

    /**
     * What the bundle's entries say is wrong with a clause (a missing file, a bad model.json): reading the same
     * revision again gives the same answer. Any other exception of {@link #find} is a failed read of the content.
     */
    static final class InvalidModelException extends IOException {
        InvalidModelException(String message) {
            super(message);
        }
    }

    private ModelEntries() {
    }

    /**
     * Reads where a clause's model is: {@code path} is a model file, or a folder with {@code model.json} and the
     * model file, which is the {@code file} that model.json names, or else the folder's one file of a known type.
     *
     * @param knownTypes model file extensions, lower case
     * @throws InvalidModelException naming what is missing or wrong
     * @throws IOException             the content could not be read (the bundle refreshed or updated meanwhile)
     */
    static ModelFiles find(Bundle bundle, ModelHeader.Clause clause, Set<String> knownTypes) throws IOException {
        String path = clause.path();
        URL sidecar = bundle.getEntry(path + "/" + SIDECAR);
        if (sidecar == null) {
            if (!children(bundle, path).isEmpty()) {
                throw new InvalidModelException("folder '" + path + "' has no " + SIDECAR);
            }
            URL file = bundle.getEntry(path);
            if (file == null) {
                throw new InvalidModelException("the bundle has no entry '" + path + "'");
            }
            return new ModelFiles(fileName(path), file, null);
        }
        byte[] json;
        try (InputStream in = sidecar.openStream()) {
            json = in.readAllBytes();
        }
        JsonNode metadata;
        try {
            metadata = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new InvalidModelException(path + "/" + SIDECAR + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (metadata == null || !metadata.isObject()) {
            throw new InvalidModelException(path + "/" + SIDECAR + " is not a JSON object");
        }
        JsonNode file = metadata.get("file");
        String entry;
        if (file == null || file.isNull()) {
            entry = singleModelFile(bundle, path, knownTypes);
        } else {
            String name = file.asText();
            if (!file.isTextual() || name.isEmpty() || name.startsWith("/") || name.contains("\\")
                    || List.of(name.split("/")).contains("..")) {
                throw new InvalidModelException(path + "/" + SIDECAR + ": \"file\" must name a file in the folder, not " + file);
            }
            entry = path + "/" + name;
            if (bundle.getEntry(entry) == null || !children(bundle, entry).isEmpty()) {
                throw new InvalidModelException(path + "/" + SIDECAR + " names the file '" + name
                        + "', which the bundle does not hold");
            }
        }
        URL model = bundle.getEntry(entry);
        if (model == null) { // it was there a moment ago: the content changed under this read
            throw new IOException("the entry '" + entry + "' went away while the bundle was read");
        }
        return new ModelFiles(fileName(entry), model, json);
    }

    /** The folder's one file of a known type, or its one file besides model.json. */
    private static String singleModelFile(Bundle bundle, String folder, Set<String> knownTypes) throws IOException {
        List<String> files = children(bundle, folder).stream()
                .filter(p -> !p.endsWith("/"))
                .filter(p -> !fileName(p).equals(SIDECAR) && !fileName(p).startsWith("."))
                .toList();
        List<String> known = files.stream().filter(p -> knownTypes.contains(extension(p))).toList();
        if (known.size() == 1) {
            return known.get(0);
        }
        if (known.isEmpty() && files.size() == 1) {
            return files.get(0); // of a type the repository may know by then, or it says which types it knows
        }
        throw new InvalidModelException("folder '" + folder + "' holds " + (known.isEmpty() ? files : known).size()
                + " candidate model files " + (known.isEmpty() ? files : known).stream().map(ModelEntries::fileName)
                .toList() + ": name the model file with \"file\" in its " + SIDECAR);
    }

    /** The entry paths directly below a folder (folders end with '/'); empty for a file or a missing path. */
    private static List<String> children(Bundle bundle, String folder) {
        Enumeration<String> paths = bundle.getEntryPaths(folder + "/");
        return paths == null ? List.of() : new ArrayList<>(Collections.list(paths));
    }

    private static String fileName(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    private static String extension(String path) {
        String name = fileName(path);
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
    }
}
