/** The REST whiteboard (how a bundle adds resources to the HTTP API) and the contract between the HTTP listener and the application it serves. */
@Export
@Version("1.2.0")
package io.fractal.api.rest;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
