package io.fractal.api.rest;

/**
 * A bundle adds to the HTTP API by registering its Jakarta REST resource (a class annotated with
 * {@code @Path}) or provider as a service of any type with the property {@link #RESOURCE}{@code =true}, e.g.
 * {@code @Component(service = Object.class, property = RestWhiteboard.RESOURCE + "=true")}. The REST server adds
 * it within a moment and drops it when the service goes. Responses are written as JSON with snake_case property
 * names; a resource reports errors by throwing the exceptions of {@code io.fractal.api.inference}, which the server
 * maps to statuses and {@code {"error": "..."}} bodies.
 */
public final class RestWhiteboard {

    /** Service property marking a REST resource or provider. */
    public static final String RESOURCE = "fractal.rest.resource";

    /** The filter the REST server tracks. */
    public static final String FILTER = "(" + RESOURCE + "=true)";

    private RestWhiteboard() {
    }
}
