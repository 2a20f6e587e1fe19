/** The load balancer that spreads requests over the live modelhosts. */
@Export
@Version("1.0.0")
package io.fractal.api.balancer;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
