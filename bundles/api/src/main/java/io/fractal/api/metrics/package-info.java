/** The small metrics API producers record through; one bundle owns the registry and its exposition. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.1.0")
package io.fractal.api.metrics;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
