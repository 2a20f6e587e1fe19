package io.fractal.rest.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Who may call the HTTP API: bearer tokens for management and, optionally, for inference and metadata. */
@ObjectClassDefinition(name = "Fractal API authentication", description = "Bearer tokens. Every call that changes "
        + "the server needs the management token; inference and metadata need the inference token when one is set; "
        + "health and the API's description are always open.")
@interface AuthConfiguration {

    String PID = "io.fractal.auth";

    @AttributeDefinition(description = "Require the management token for calls that change the server. Turning "
            + "this off lets anyone who can reach the port upload, delete and drain: only for a closed test bench.")
    boolean enabled() default true;

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "The management token. Empty: the one in "
            + "management.token.file, generated there on first start.")
    String management_token() default "";

    @AttributeDefinition(description = "Where the generated management token is kept (owner-only). Empty: "
            + "data/management.token under the server's home.")
    String management_token_file() default "";

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "A token for predictions and metadata. "
            + "Empty: those calls are open. The management token is accepted for them as well.")
    String inference_token() default "";
}
