package io.fractal.ssh.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal SSH console", description = "The Gogo shell over SSH: "
        + "ssh -p 8101 admin@127.0.0.1, and bin/client. Logins with the keys of an authorized_keys file and/or a "
        + "hashed password; with neither, no login is possible.")
@interface SshConsoleConfiguration {

    String PID = "io.fractal.ssh";

    @AttributeDefinition(description = "Address to listen on: 127.0.0.1 (this machine only), an interface's address, "
            + "or 0.0.0.0 for every interface.")
    String host() default "127.0.0.1";

    @AttributeDefinition(description = "TCP port; 0: no SSH console.")
    int port() default 8101;

    @AttributeDefinition(description = "The user name to log in with (the only one).")
    String user() default "admin";

    @AttributeDefinition(description = "An OpenSSH authorized_keys file: its keys may log in. Read again when it "
            + "changes. Empty: data/ssh/authorized_keys under the server's home.")
    String authorized_keys() default "";

    @AttributeDefinition(description = "A password that may log in as well, as its PBKDF2 hash: the line that "
            + "'bin/fractal hash-password' prints. Empty: no password login.")
    String password_hash() default "";

    @AttributeDefinition(description = "On the first start, generate a key pair for the operator "
            + "(data/ssh/client_key, owner-only) and add its public key to the authorized_keys file, so that bin/client "
            + "logs in out of the box for the user who owns the installation.")
    boolean client_key() default true;

    @AttributeDefinition(description = "Seconds after which an idle session is closed.")
    int idle_timeout() default 1800;
}
