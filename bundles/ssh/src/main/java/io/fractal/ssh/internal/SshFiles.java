package io.fractal.ssh.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import java.util.Set;
import org.apache.sshd.common.config.keys.AuthorizedKeyEntry;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.config.keys.writer.openssh.OpenSSHKeyPairResourceWriter;
import org.apache.sshd.server.keyprovider.SimpleGeneratorHostKeyProvider;

/**
 * The SSH console's folder, {@code data/ssh/} under the server's home, owner-only (0700), and its files:
 * <ul>
 *   <li>{@code host.key}: the server's host key, generated on the first start (OpenSSH format, 0600), reused after;
 *   <li>{@code authorized_keys}: the default file of public keys that may log in (OpenSSH's format);
 *   <li>{@code client_key}, {@code client_key.pub}: the operator's key pair for {@code bin/client}, generated on the
 *       first start when the configuration asks for it, its public key added to the authorized keys;
 *   <li>{@code known_hosts}, {@code ssh_config}: written at each start for {@code bin/client}, which runs
 *       {@code ssh -F data/ssh/ssh_config fractal}: the address and port the console listens on, the host key to
 *       expect (strictly), the client key to use.
 * </ul>
 */
final class SshFiles {

    /** The host name bin/client connects to, and the alias its known_hosts line is for. */
    static final String ALIAS = "fractal";
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");

    private final Path dir;

    SshFiles(Path dir) {
        this.dir = dir.toAbsolutePath();
    }

    Path dir() {
        return dir;
    }

    Path hostKey() {
        return dir.resolve("host.key");
    }

    Path defaultAuthorizedKeys() {
        return dir.resolve("authorized_keys");
    }

    Path clientKey() {
        return dir.resolve("client_key");
    }

    Path clientPublicKey() {
        return dir.resolve("client_key.pub");
    }

    Path knownHosts() {
        return dir.resolve("known_hosts");
    }

    Path sshConfig() {
        return dir.resolve("ssh_config");
    }

    /** Creates the folder, owner-only; tightens an existing one. */
    void prepare() throws IOException {
        Files.createDirectories(dir);
        restrict(dir, OWNER_ONLY_DIR);
    }

    /** The host key pair: generated into {@code host.key} (0600) the first time, read from it afterwards. */
    KeyPair hostKey(SimpleGeneratorHostKeyProvider provider) throws IOException, GeneralSecurityException {
        List<KeyPair> keys = provider.loadKeys(null);
        if (keys.isEmpty()) {
            throw new IOException("no host key in " + hostKey() + " and none could be generated there");
        }
        restrict(hostKey(), OWNER_ONLY_FILE);
        return keys.get(0);
    }

    /**
     * Generates the operator's key pair (ECDSA P-256, which any OpenSSH client and any Java reads) into
     * {@code client_key} (0600, OpenSSH format) and {@code client_key.pub}, and appends its public key to
     * {@code authorizedKeys}; false if the key pair exists already (it is then left alone, and so is the file).
     */
    boolean createClientKey(Path authorizedKeys) throws IOException, GeneralSecurityException {
        if (Files.exists(clientKey())) {
            return false;
        }
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair pair = generator.generateKeyPair();
        String comment = "fractal-client";
        Path staging = dir.resolve("client_key.new");
        Files.deleteIfExists(staging);
        try (OutputStream out = Files.newOutputStream(createOwnerOnly(staging))) {
            OpenSSHKeyPairResourceWriter.INSTANCE.writePrivateKey(pair, comment, null, out);
        }
        String publicLine = PublicKeyEntry.toString(pair.getPublic()) + " " + comment + "\n";
        Files.writeString(clientPublicKey(), publicLine, StandardCharsets.US_ASCII);
        appendAuthorizedKey(authorizedKeys, publicLine);
        // last: its presence says the whole pair was made
        Files.move(staging, clientKey());
        return true;
    }

    /** Adds a public key line to an authorized_keys file, created owner-only if it does not exist. */
    static void appendAuthorizedKey(Path authorizedKeys, String line) throws IOException {
        Path file = authorizedKeys.toAbsolutePath();
        Files.createDirectories(file.getParent());
        if (!Files.exists(file)) {
            createOwnerOnly(file);
        }
        String existing = Files.readString(file, StandardCharsets.UTF_8);
        String separator = existing.isEmpty() || existing.endsWith("\n") ? "" : "\n";
        Files.writeString(file, separator + line, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** How many keys an authorized_keys file holds (0 if there is no such file). */
    static int countKeys(Path authorizedKeys) throws IOException {
        return Files.exists(authorizedKeys) ? AuthorizedKeyEntry.readAuthorizedKeys(authorizedKeys).size() : 0;
    }

    /**
     * Writes {@code known_hosts} (the host key, for the alias {@value #ALIAS}) and {@code ssh_config} (where the
     * console listens; the client key, if there is one), both 0600, for {@code bin/client}.
     */
    void writeClientConfig(PublicKey hostKey, String host, int port, String user) throws IOException {
        replace(knownHosts(), ALIAS + " " + PublicKeyEntry.toString(hostKey) + "\n");
        StringBuilder config = new StringBuilder()
                .append("# Written by the Fractal server at each start of its SSH console, for bin/client\n")
                .append("# (ssh -F ").append(sshConfig()).append(' ').append(ALIAS).append("). Changes are lost.\n")
                .append("Host ").append(ALIAS).append('\n')
                .append("  HostName ").append(connectAddress(host)).append('\n')
                .append("  Port ").append(port).append('\n')
                .append("  User ").append(user).append('\n')
                .append("  HostKeyAlias ").append(ALIAS).append('\n')
                .append("  UserKnownHostsFile ").append(quoted(knownHosts())).append('\n')
                .append("  StrictHostKeyChecking yes\n")
                .append("  ConnectTimeout 10\n")
                .append("  LogLevel ERROR\n");
        if (Files.exists(clientKey())) {
            config.append("  IdentityFile ").append(quoted(clientKey())).append('\n')
                    .append("  IdentitiesOnly yes\n");
        }
        replace(sshConfig(), config.toString());
    }

    /** Removes what bin/client reads: the console is off. */
    void removeClientConfig() throws IOException {
        Files.deleteIfExists(sshConfig());
    }

    /** The address a client on this machine reaches a listener on {@code host} at. */
    static String connectAddress(String host) {
        try {
            InetAddress address = InetAddress.getByName(host);
            if (address.isAnyLocalAddress()) {
                return address.getAddress().length == 4 ? "127.0.0.1" : "::1";
            }
        } catch (IOException e) {
            // a name that does not resolve: as it is
        }
        return host;
    }

    private static String quoted(Path path) {
        return '"' + path.toString() + '"';
    }

    /** Replaces a file's content atomically, owner-only. */
    private void replace(Path file, String content) throws IOException {
        Path staging = file.resolveSibling(file.getFileName() + ".new");
        Files.deleteIfExists(staging);
        Files.writeString(createOwnerOnly(staging), content, StandardCharsets.UTF_8);
        Files.move(staging, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static Path createOwnerOnly(Path file) throws IOException {
        try {
            FileAttribute<Set<PosixFilePermission>> ownerOnly = PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE);
            return Files.createFile(file, ownerOnly);
        } catch (UnsupportedOperationException notPosix) {
            return Files.createFile(file);
        } catch (FileAlreadyExistsException e) {
            restrict(file, OWNER_ONLY_FILE);
            return file;
        }
    }

    private static void restrict(Path path, Set<PosixFilePermission> permissions) throws IOException {
        try {
            Files.setPosixFilePermissions(path, permissions);
        } catch (UnsupportedOperationException notPosix) {
            // Windows: the folder's ACL applies
        }
    }
}
