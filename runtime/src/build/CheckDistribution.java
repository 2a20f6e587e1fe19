import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Checks the assembled distribution; the build runs it (single-file source launch) after the copy steps.
 *
 * <p>Usage: {@code java CheckDistribution.java <dist> <package prefix>... [!<excluded prefix>...]}
 *
 * <ul>
 *   <li>every jar in {@code bundle/} is an OSGi bundle, and no symbolic name is there twice;
 *   <li>no class is in two jars of {@code lib/} (a stale version beside a new one);
 *   <li>every package of {@code org.osgi.framework.system.packages.extra} exists in {@code lib/}, every
 *       {@code lib/} package under the given prefixes is in it, and no bundle exports one of them again;
 *   <li>every file that {@code felix.auto.install.N} / {@code felix.auto.start.N} names exists;
 *   <li>every jar of {@code bin/} that {@code bin/fractal} puts on the class path exists, and one of them holds the
 *       {@code java.util.logging.manager} it names.
 * </ul>
 */
public class CheckDistribution {

    private static final String EXTRA = "org.osgi.framework.system.packages.extra";

    public static void main(String[] args) throws IOException {
        Path dist = Path.of(args[0]);
        List<String> prefixes = new ArrayList<>();
        List<String> excluded = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            if (args[i].startsWith("!")) excluded.add(args[i].substring(1));
            else prefixes.add(args[i]);
        }
        List<String> errors = new ArrayList<>();

        // bundle/
        Map<String, String> bundles = new TreeMap<>();
        Map<String, String> bundleExports = new TreeMap<>();
        for (Path jar : jars(dist.resolve("bundle"))) {
            try (JarFile jf = new JarFile(jar.toFile())) {
                Attributes main = jf.getManifest() == null ? null : jf.getManifest().getMainAttributes();
                String bsn = main == null ? null : main.getValue("Bundle-SymbolicName");
                if (bsn == null) {
                    errors.add("bundle/" + jar.getFileName() + " is not an OSGi bundle (no Bundle-SymbolicName)");
                    continue;
                }
                bsn = bsn.split(";")[0].trim();
                String previous = bundles.put(bsn, jar.getFileName().toString());
                if (previous != null) {
                    errors.add("bundle " + bsn + " is in bundle/ twice: " + previous + " and " + jar.getFileName());
                }
                if (main.getValue("Fragment-Host") != null) {
                    errors.add("bundle/" + jar.getFileName() + " is a fragment: felix.auto.deploy cannot start it");
                }
                for (String pkg : packageNames(main.getValue("Export-Package"))) {
                    bundleExports.putIfAbsent(pkg, bsn);
                }
            }
        }

        // lib/
        Map<String, String> classes = new TreeMap<>();
        Set<String> libPackages = new TreeSet<>();
        Map<String, String> duplicates = new TreeMap<>();
        List<Path> libJars = jars(dist.resolve("lib"));
        for (Path jar : libJars) {
            try (JarFile jf = new JarFile(jar.toFile())) {
                for (Enumeration<JarEntry> e = jf.entries(); e.hasMoreElements(); ) {
                    String name = e.nextElement().getName();
                    if (!name.endsWith(".class") || name.startsWith("META-INF/") || name.endsWith("module-info.class")) {
                        continue;
                    }
                    String previous = classes.put(name, jar.getFileName().toString());
                    if (previous != null && !previous.equals(jar.getFileName().toString())) {
                        duplicates.putIfAbsent(previous + " and " + jar.getFileName(), name);
                    }
                    int slash = name.lastIndexOf('/');
                    if (slash > 0) libPackages.add(name.substring(0, slash).replace('/', '.'));
                }
            }
        }

        duplicates.forEach((jars, name) -> errors.add("lib/: " + jars + " hold the same classes (" + name + ")"));

        // conf/config.properties: the system bundle's extra packages
        Properties config = new Properties();
        try (InputStream in = Files.newInputStream(dist.resolve("conf/config.properties"))) {
            config.load(in);
        }
        String extra = config.getProperty(EXTRA);
        Set<String> exported = new TreeSet<>();
        if (extra == null) {
            errors.add("conf/config.properties has no " + EXTRA);
        } else {
            exported.addAll(packageNames(extra));
        }
        for (String pkg : exported) {
            if (!libPackages.contains(pkg)) {
                errors.add(EXTRA + " lists " + pkg + ", which no jar in lib/ holds");
            }
            if (bundleExports.containsKey(pkg)) {
                errors.add(pkg + " is exported by the system bundle and again by bundle " + bundleExports.get(pkg));
            }
        }
        // felix.auto.install.N / felix.auto.start.N: every file they name exists
        for (String key : config.stringPropertyNames()) {
            if (!key.startsWith("felix.auto.install.") && !key.startsWith("felix.auto.start.")) continue;
            for (String location : config.getProperty(key).trim().split("\\s+")) {
                String prefix = "file:${fractal.home}/";
                if (location.startsWith(prefix) && !Files.isRegularFile(dist.resolve(location.substring(prefix.length())))) {
                    errors.add(key + " names " + location + ", which the distribution does not hold");
                }
            }
        }
        // bin/fractal: every jar of bin/ on its class path exists, and holds the log manager it names
        String launcher = Files.readString(dist.resolve("bin/fractal"));
        java.util.regex.Matcher jar = java.util.regex.Pattern.compile("\\$FRACTAL_HOME/bin/([\\w.-]+\\.jar)").matcher(launcher);
        List<Path> binJars = new ArrayList<>();
        while (jar.find()) {
            Path file = dist.resolve("bin").resolve(jar.group(1));
            if (Files.isRegularFile(file)) binJars.add(file);
            else errors.add("bin/fractal puts bin/" + jar.group(1) + " on the class path, which the distribution does not hold");
        }
        java.util.regex.Matcher manager = java.util.regex.Pattern.compile("-Djava\\.util\\.logging\\.manager=([\\w.$]+)")
                .matcher(launcher);
        if (manager.find()) {
            String entry = manager.group(1).replace('.', '/') + ".class";
            boolean found = false;
            for (Path file : binJars) {
                try (JarFile jf = new JarFile(file.toFile())) {
                    found |= jf.getEntry(entry) != null;
                }
            }
            if (!found) errors.add("bin/fractal names the log manager " + manager.group(1) + ", which no jar of bin/ holds");
        }
        for (String pkg : libPackages) {
            if (under(pkg, prefixes) && !under(pkg, excluded) && !exported.contains(pkg)) {
                errors.add("lib/ package " + pkg + " is missing from " + EXTRA);
            }
        }

        System.out.printf("fractal-server: %d bundles in bundle/, %d jars in lib/, %d packages exported by the system bundle%n",
                bundles.size(), libJars.size(), exported.size());
        if (!errors.isEmpty()) {
            errors.forEach(e -> System.err.println("ERROR: " + e));
            System.exit(1);
        }
    }

    private static boolean under(String pkg, List<String> prefixes) {
        return prefixes.stream().anyMatch(p -> pkg.equals(p) || pkg.startsWith(p + "."));
    }

    private static List<Path> jars(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        }
    }

    /** The package names of an Export-Package style header: clauses split on commas outside quotes. */
    static Set<String> packageNames(String header) {
        Set<String> names = new TreeSet<>();
        if (header == null) return names;
        StringBuilder clause = new StringBuilder();
        boolean quoted = false;
        for (char c : (header + ",").toCharArray()) {
            if (c == '"') quoted = !quoted;
            if (c == ',' && !quoted) {
                for (String part : clause.toString().split(";")) {
                    String p = part.trim();
                    if (!p.isEmpty() && !p.contains("=")) names.add(p);
                }
                clause.setLength(0);
            } else {
                clause.append(c);
            }
        }
        return names;
    }
}
