/**
 * What every bundle's threads need so that an update of one bundle leaves no other revision behind
 * ({@link IsolatedThreads}), and how a thread that serves many clients tells the code it calls that others wait for
 * it ({@link ThreadBacklog}).
 */
@Export(substitution = Substitution.CONSUMER)
@Version("1.1.0")
package io.fractal.api.concurrent;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
