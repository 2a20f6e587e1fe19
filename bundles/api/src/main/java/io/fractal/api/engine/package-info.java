/** The engine service an engine bundle provides: it turns a model file into a {@link io.fractal.api.engine.LoadedModel}. */
@Export(substitution = Substitution.CONSUMER)
@Version("1.0.0")
package io.fractal.api.engine;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.bundle.Export.Substitution;
import org.osgi.annotation.versioning.Version;
