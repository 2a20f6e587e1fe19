/** The REST whiteboard: how a bundle adds resources to the server's HTTP API. */
@Export
@Version("1.0.0")
package io.fractal.api.rest;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
