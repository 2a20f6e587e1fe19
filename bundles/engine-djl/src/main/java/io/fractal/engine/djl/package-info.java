/**
 * The base for engine bundles built on DJL: loading a model under the right class loader, calling it from
 * several threads at once (the model's block, one manager per call), and the conversion between Fractal tensors
 * and DJL arrays. Engine bundles extend
 * {@link io.fractal.engine.djl.DjlEngine}.
 */
@Export
@Version("1.1.0")
package io.fractal.engine.djl;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
