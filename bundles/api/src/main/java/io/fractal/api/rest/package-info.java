/**
 * The REST whiteboard (how a bundle adds resources to the HTTP API) and the contract between the HTTP listener and
 * the application it serves, including whether a request's client is still there ({@link ClientConnection}).
 */
@Export(substitution = Substitution.CONSUMER)
@Version("1.3.0")
package io.fractal.api.rest;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
