/** The load balancer that spreads requests over the live modelhosts. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.0.0")
package io.fractal.api.balancer;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
