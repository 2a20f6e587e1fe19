package io.fractal.rest.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import java.util.logging.Logger;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The API's bearer tokens. The management token comes from configuration or from a file that the first start
 * generates with owner-only permissions, as TorchServe does; the log shows it that once, with where it lives, and
 * never again. Tokens are kept as SHA-256 digests and compared in constant time.
 */
@Component(service = Tokens.class, configurationPid = AuthConfiguration.PID, immediate = true)
@Designate(ocd = AuthConfiguration.class)
public class Tokens {

    /** What a presented token is good for. */
    enum Grant { NONE, INFERENCE, MANAGEMENT }

    private static final Logger LOG = Logger.getLogger(Tokens.class.getName());
    private static final int TOKEN_BYTES = 32;

    private final Path defaultFile;
    private volatile State state;

    private record State(boolean enabled, byte[] management, byte[] inference, String where) {
    }

    @Activate
    public Tokens(BundleContext context, AuthConfiguration config) throws IOException {
        this(config, context.getProperty("fractal.home") != null
                ? Path.of(context.getProperty("fractal.home"), "data", "management.token")
                : context.getDataFile("management.token").toPath());
    }

    Tokens(AuthConfiguration config, Path defaultFile) throws IOException {
        this.defaultFile = defaultFile;
        this.state = load(config);
    }

    @Modified
    void modified(AuthConfiguration config) throws IOException {
        state = load(config);
    }

    /** Whether calls that change the server need the management token. */
    boolean managementRequired() {
        return state.enabled;
    }

    /** Whether predictions and metadata need a token. */
    boolean inferenceRequired() {
        return state.inference != null;
    }

    /** Where the management token is, for the 401 answer (a place, never the token). */
    String where() {
        return state.where;
    }

    /** What {@code token} grants; {@link Grant#NONE} for null or a wrong one. Constant time in the token. */
    Grant grant(String token) {
        State s = state;
        if (token == null) {
            return Grant.NONE;
        }
        byte[] presented = digest(token);
        // both compared, always: the time does not say which one matched
        boolean management = MessageDigest.isEqual(presented, s.management);
        boolean inference = s.inference != null && MessageDigest.isEqual(presented, s.inference);
        return management ? Grant.MANAGEMENT : inference ? Grant.INFERENCE : Grant.NONE;
    }

    private State load(AuthConfiguration config) throws IOException {
        String configured = config.management_token().strip();
        byte[] inference = config.inference_token().isBlank() ? null : digest(config.inference_token().strip());
        if (!config.enabled()) {
            LOG.warning("API authentication is OFF (" + AuthConfiguration.PID + " enabled=false): anyone who can reach "
                    + "the port can upload, delete and drain");
        }
        if (!configured.isEmpty()) {
            return new State(config.enabled(), digest(configured), inference, "the " + AuthConfiguration.PID
                    + " configuration");
        }
        Path file = tokenFile(config);
        return new State(config.enabled(), digest(readOrCreate(file)), inference, file.toString());
    }

    private Path tokenFile(AuthConfiguration config) {
        return config.management_token_file().isBlank() ? defaultFile : Path.of(config.management_token_file().strip());
    }

    static String readOrCreate(Path file) throws IOException {
        if (Files.exists(file)) {
            String token = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (token.isEmpty()) {
                throw new IOException("the management token file " + file + " is empty: delete it to have a new "
                        + "token generated");
            }
            warnIfShared(file);
            return token;
        }
        byte[] random = new byte[TOKEN_BYTES];
        new SecureRandom().nextBytes(random);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        Files.createDirectories(file.toAbsolutePath().getParent());
        try {
            if (Files.getFileStore(file.toAbsolutePath().getParent()).supportsFileAttributeView("posix")) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(
                        Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
            } else {
                Files.createFile(file);
            }
        } catch (FileAlreadyExistsException e) {
            return readOrCreate(file); // another start won the race
        }
        Files.writeString(file, token + "\n", StandardCharsets.UTF_8);
        LOG.info("Generated the management token into " + file + " (owner-only): " + token
                + " . Calls that change the server need 'Authorization: Bearer <token>'. It is not logged again.");
        return token;
    }

    private static void warnIfShared(Path file) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
            if (p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ)) {
                LOG.warning("The management token file " + file + " can be read by other users: chmod 600 it");
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not a POSIX file system: nothing to check
        }
    }

    static byte[] digest(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
