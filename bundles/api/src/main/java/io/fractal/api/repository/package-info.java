/** The model repository: models, their versions on disk, and the deployed-model whiteboard modelhosts follow. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.4.0")
package io.fractal.api.repository;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
