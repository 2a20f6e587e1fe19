package io.fractal.ssh.internal;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.spec.KeySpec;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * A password kept as a salted PBKDF2-HMAC-SHA256 hash, never as itself:
 * {@code $pbkdf2-sha256$<iterations>$<salt>$<hash>}, salt and hash in base64 without padding. Checking a password
 * takes as long whatever it is, and its comparison is constant-time.
 *
 * <p>{@link #main} is {@code bin/fractal hash-password}: it reads the password from the terminal (twice, not
 * echoed) or from standard input, never from its command line, and prints the line to put in
 * {@code password.hash}. It needs nothing but the JDK, so it runs from this bundle's jar outside the framework.
 */
final class PasswordHash {

    static final String SCHEME = "pbkdf2-sha256";
    /** OWASP's figure for PBKDF2-HMAC-SHA256 (2023); about a third of a second here. */
    static final int ITERATIONS = 600_000;
    private static final int MAX_ITERATIONS = 10_000_000;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;

    private final int iterations;
    private final byte[] salt;
    private final byte[] hash;

    private PasswordHash(int iterations, byte[] salt, byte[] hash) {
        this.iterations = iterations;
        this.salt = salt;
        this.hash = hash;
    }

    /** The hash of a new password, with a new random salt. */
    static String hash(char[] password, int iterations) {
        byte[] salt = new byte[SALT_BYTES];
        new SecureRandom().nextBytes(salt);
        Base64.Encoder b64 = Base64.getEncoder().withoutPadding();
        return "$" + SCHEME + "$" + iterations + "$" + b64.encodeToString(salt) + "$"
                + b64.encodeToString(derive(password, salt, iterations, HASH_BYTES));
    }

    /** Reads an encoded hash; an {@link IllegalArgumentException} says what is wrong with it. */
    static PasswordHash parse(String encoded) {
        String[] parts = encoded.strip().split("\\$", -1);
        if (parts.length != 5 || !parts[0].isEmpty() || !parts[1].equals(SCHEME)) {
            throw new IllegalArgumentException("not a $" + SCHEME + "$<iterations>$<salt>$<hash> line (make one with "
                    + "bin/fractal hash-password)");
        }
        int iterations;
        try {
            iterations = Integer.parseInt(parts[2]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("iterations '" + parts[2] + "' is not a number");
        }
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new IllegalArgumentException("iterations " + iterations + " is not within 1.." + MAX_ITERATIONS);
        }
        try {
            byte[] salt = Base64.getDecoder().decode(parts[3]);
            byte[] hash = Base64.getDecoder().decode(parts[4]);
            if (salt.length < 8 || hash.length < 16) {
                throw new IllegalArgumentException("salt or hash too short");
            }
            return new PasswordHash(iterations, salt, hash);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("salt or hash is not base64 of the right length: " + e.getMessage());
        }
    }

    /** Whether the password is the one hashed; as long for any password of the same length. */
    boolean matches(String password) {
        char[] chars = password.toCharArray();
        try {
            return MessageDigest.isEqual(hash, derive(chars, salt, iterations, hash.length));
        } finally {
            Arrays.fill(chars, '\0');
        }
    }

    private static byte[] derive(char[] password, byte[] salt, int iterations, int bytes) {
        KeySpec spec = new PBEKeySpec(password, salt, iterations, bytes * 8);
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is part of every Java 17", e);
        }
    }

    /** {@code bin/fractal hash-password}: prints the hash of a password read from the terminal or stdin. */
    public static void main(String[] args) throws IOException {
        char[] password;
        Console console = System.console();
        if (console != null) {
            password = console.readPassword("Password for the SSH console: ");
            char[] again = console.readPassword("The same again: ");
            if (password == null || again == null || !Arrays.equals(password, again)) {
                System.err.println("hash-password: the two passwords differ");
                System.exit(1);
                return;
            }
            Arrays.fill(again, '\0');
        } else {
            String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            password = line == null ? new char[0] : line.toCharArray();
        }
        if (password == null || password.length == 0) {
            System.err.println("hash-password: an empty password cannot log in");
            System.exit(1);
            return;
        }
        System.out.println(hash(password, ITERATIONS));
        Arrays.fill(password, '\0');
    }
}
