package io.fractal.modelhost.internal;

import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.repository.ModelArtifact;

/** A model version on this host: its state and the generation that serves it. */
final class HostedModel {

    final ModelArtifact artifact;
    private volatile ModelState state = ModelState.WAITING_FOR_ENGINE;
    private volatile String reason;
    private volatile Generation current;

    HostedModel(ModelArtifact artifact) {
        this.artifact = artifact;
    }

    String key() {
        return key(artifact.name(), artifact.version());
    }

    static String key(String model, int version) {
        return model + ":" + version;
    }

    ModelState state() {
        return state;
    }

    Generation current() {
        return current;
    }

    /** Starts a load if the model waits for its engine; false if it is loading, loaded or draining already. */
    synchronized boolean startLoading() {
        if (state != ModelState.WAITING_FOR_ENGINE) {
            return false;
        }
        state = ModelState.LOADING;
        reason = null;
        return true;
    }

    synchronized void ready(Generation generation) {
        current = generation;
        state = ModelState.READY;
        reason = null;
    }

    synchronized void failed(String why) {
        state = ModelState.FAILED;
        reason = why;
    }

    /** Takes the current generation out of service; returns it (to wait for its close), or null. */
    synchronized Generation retire(ModelState newState) {
        state = newState;
        Generation g = current;
        current = null;
        if (g != null) {
            g.retire();
        }
        return g;
    }

    /** A use of the serving generation, or null if it is not READY; release the generation when done. */
    Generation acquire() {
        Generation g = current;
        if (g == null || state != ModelState.READY || !g.acquire()) {
            return null;
        }
        return g;
    }

    ModelStatusDTO toDTO() {
        ModelStatusDTO dto = new ModelStatusDTO();
        dto.model = artifact.name();
        dto.version = artifact.version();
        dto.state = state;
        dto.reason = reason;
        dto.engine = artifact.engine();
        Generation g = current;
        dto.signature = g == null ? null : g.model.signature();
        return dto;
    }
}
