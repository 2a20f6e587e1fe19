/** Requests, responses, tensors and signatures: the data that crosses every Fractal service. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.4.0")
package io.fractal.api.inference;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
