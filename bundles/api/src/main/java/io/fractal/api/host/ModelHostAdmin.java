package io.fractal.api.host;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** Creates and removes modelhost instances while the server runs (backed by Config Admin). */
@ProviderType
public interface ModelHostAdmin {

    /** The configured instances. */
    List<ModelHostConfigDTO> list();

    /**
     * Creates an instance; it registers as a {@link ModelHost} within a moment.
     *
     * @throws io.fractal.api.inference.ConflictException if the id is taken
     * @throws io.fractal.api.inference.InvalidInputException for a bad id or setting
     */
    ModelHostConfigDTO create(ModelHostConfigDTO config);

    /**
     * Removes an instance: it stops taking requests, finishes those queued and in flight, then goes.
     *
     * @return false if there was no such instance
     */
    boolean remove(String id);

    /**
     * Stops an instance taking new requests; it finishes those queued and running and then idles, listed as
     * DRAINING, until it is removed or resumed.
     *
     * @return false if there is no such live instance
     */
    boolean drain(String id);

    /** Lets a drained instance take requests again; false if there is no such live instance. */
    boolean resume(String id);
}
