package io.fractal.balancer.internal;

import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.CapacityExceededException;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A modelhost for the balancer's tests: it holds every model in one settable state and answers as told (by
 * default at once, with its id).
 */
class FakeHost implements ModelHost {

    final String id;
    final AtomicInteger calls = new AtomicInteger();
    volatile ModelState state = ModelState.READY;
    volatile String reason;
    volatile int outstanding;
    volatile int capacity = 1;
    volatile boolean accepting = true;
    volatile Function<InferenceRequest, CompletableFuture<InferenceResponse>> behaviour = this::answer;

    FakeHost(String id) {
        this.id = id;
    }

    /** A host that answers. */
    static FakeHost answering(String id) {
        return new FakeHost(id);
    }

    /** A host whose requests fail after they ran. */
    static FakeHost failing(String id) {
        FakeHost h = new FakeHost(id);
        h.failWith(new RuntimeException("engine crashed on " + id));
        return h;
    }

    /** A host whose queue is full: it refuses every request before any work. */
    static FakeHost full(String id) {
        FakeHost h = new FakeHost(id);
        h.failWith(new CapacityExceededException("modelhost " + id + " queue is full", 1));
        return h;
    }

    /** A host whose model is still loading. */
    static FakeHost loading(String id) {
        FakeHost h = new FakeHost(id);
        h.state = ModelState.LOADING;
        return h;
    }

    void failWith(RuntimeException e) {
        behaviour = r -> CompletableFuture.failedFuture(e);
    }

    void answerNormally() {
        behaviour = this::answer;
    }

    private CompletableFuture<InferenceResponse> answer(InferenceRequest r) {
        return CompletableFuture.completedFuture(new InferenceResponse(r.id(), r.model(), r.version(), List.of(), id,
                0, 0));
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
        calls.incrementAndGet();
        return behaviour.apply(request);
    }

    @Override
    public CompletableFuture<EchoDTO> echo(Object payload) {
        calls.incrementAndGet();
        EchoDTO dto = new EchoDTO();
        dto.data = payload;
        dto.modelhost = id;
        dto.worker = "w0";
        return CompletableFuture.completedFuture(dto);
    }

    @Override
    public ModelState state(String model, int version) {
        return state;
    }

    @Override
    public ModelStatusDTO status(String model, int version) {
        ModelState s = state;
        if (s == null) {
            return null;
        }
        ModelStatusDTO dto = new ModelStatusDTO();
        dto.model = model;
        dto.version = version;
        dto.state = s;
        dto.reason = reason;
        return dto;
    }

    @Override
    public int outstanding() {
        return outstanding;
    }

    @Override
    public boolean accepting() {
        return accepting;
    }

    @Override
    public ModelHostDTO describe() {
        ModelHostDTO dto = new ModelHostDTO();
        dto.id = id;
        dto.state = accepting ? "RUNNING" : "DRAINING";
        return dto;
    }

    @Override
    public String toString() {
        return id;
    }

    @Override
    public int capacity() {
        return capacity;
    }
}
