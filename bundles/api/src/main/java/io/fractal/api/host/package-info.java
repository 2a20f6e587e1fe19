/** Modelhosts: the workers that hold loaded models and run inference; each instance is a {@link io.fractal.api.host.ModelHost} service. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.2.0")
package io.fractal.api.host;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
