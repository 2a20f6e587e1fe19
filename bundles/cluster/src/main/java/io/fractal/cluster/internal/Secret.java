package io.fractal.cluster.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/** The shared secret of the HTTP calls between nodes; empty means none is configured, and every call is refused. */
record Secret(String value) {

    /** From {@code secret}, else the first line of {@code secret.file} (relative to {@code home}). */
    static Secret of(String secret, String file, Path home) throws IOException {
        if (secret != null && !secret.isBlank()) {
            return new Secret(secret.strip());
        }
        if (file != null && !file.isBlank()) {
            Path p = home.resolve(file.strip());
            String text = Files.readString(p, StandardCharsets.UTF_8).strip();
            int nl = text.indexOf('\n');
            return new Secret(nl < 0 ? text : text.substring(0, nl).strip());
        }
        return new Secret("");
    }

    boolean configured() {
        return !value.isEmpty();
    }

    /** Whether {@code presented} is the secret, compared in constant time; never with no secret configured. */
    boolean matches(String presented) {
        if (!configured() || presented == null) {
            return false;
        }
        return MessageDigest.isEqual(value.getBytes(StandardCharsets.UTF_8),
                presented.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return configured() ? "Secret[set]" : "Secret[none]";
    }
}
