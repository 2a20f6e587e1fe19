package io.fractal.shell.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal remote shell", description = "The listener bin/client connects to.")
@interface RemoteShellConfiguration {

    String PID = "io.fractal.shell";

    @AttributeDefinition(description = "Address to listen on. Anything but loopback requires a password.")
    String host() default "127.0.0.1";

    @AttributeDefinition(description = "TCP port; 0 or less: no remote shell.")
    int port() default 8101;

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "Password clients must give "
            + "(bin/client -p, or FRACTAL_PASSWORD); required when host is not a loopback address.")
    String password() default "";
}
