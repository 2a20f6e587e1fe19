/** What every bundle's threads need so that an update of one bundle leaves no other revision behind. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.0.0")
package io.fractal.api.concurrent;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
