package io.fractal.ssh.internal;

import java.security.PublicKey;
import java.util.logging.Logger;
import org.apache.sshd.server.auth.password.PasswordAuthenticator;
import org.apache.sshd.server.auth.pubkey.PublickeyAuthenticator;
import org.apache.sshd.server.session.ServerSession;

/**
 * Who may log in: the configured user, with a key of the authorized keys (re-read when the file changes) or, when
 * a password hash is configured, with that password. Any other user name is refused.
 */
final class Logins implements PublickeyAuthenticator, PasswordAuthenticator {

    private static final Logger LOG = Logger.getLogger(Logins.class.getName());

    private final String user;
    private final PublickeyAuthenticator keys;
    /** Null: no password login. */
    private final PasswordHash password;

    Logins(String user, PublickeyAuthenticator keys, PasswordHash password) {
        this.user = user;
        this.keys = keys;
        this.password = password;
    }

    @Override
    public boolean authenticate(String username, PublicKey key, ServerSession session) {
        return user.equals(username) && keys.authenticate(username, key, session);
    }

    @Override
    public boolean authenticate(String username, String given, ServerSession session) {
        // the hash is computed whatever the user name: the time does not tell a wrong name from a wrong password
        boolean matches = password != null && given != null && password.matches(given);
        boolean accepted = matches && user.equals(username);
        if (!accepted) {
            LOG.info(() -> "SSH console: password refused for '" + username + "' from " + session.getClientAddress());
        }
        return accepted;
    }
}
