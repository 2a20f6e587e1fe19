package io.fractal.inferrer.internal;

import io.fractal.api.balancer.BalancerDTO;
import io.fractal.api.balancer.LoadBalancer;
import io.fractal.api.balancer.Strategy;
import io.fractal.api.host.EchoDTO;
import io.fractal.api.host.ModelHostDTO;
import io.fractal.api.host.ModelState;
import io.fractal.api.host.ModelStatusDTO;
import io.fractal.api.inference.DataType;
import io.fractal.api.inference.InferenceRequest;
import io.fractal.api.inference.InferenceResponse;
import io.fractal.api.inference.ModelNotFoundException;
import io.fractal.api.inference.ModelSignature;
import io.fractal.api.inference.Tensor;
import io.fractal.api.repository.ModelDTO;
import io.fractal.api.repository.ModelRepository;
import io.fractal.api.repository.ModelVersionDTO;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Version;

/** Stand-ins for the services the inferrer's resources use. */
final class Fakes {

    private Fakes() {
    }

    /** The configuration annotation as Declarative Services builds it: the given values, else the defaults. */
    static InferrerConfiguration config(Map<String, Object> values) {
        Map<String, Object> v = new HashMap<>(values);
        v.putIfAbsent("warmup_ms", 0L); // no requests to whatever listens on this machine's port 8001
        return (InferrerConfiguration) Proxy.newProxyInstance(InferrerConfiguration.class.getClassLoader(),
                new Class<?>[] {InferrerConfiguration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "annotationType" -> InferrerConfiguration.class;
                    case "toString" -> "InferrerConfiguration" + v;
                    case "hashCode" -> v.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> v.containsKey(method.getName()) ? v.get(method.getName()) : method.getDefaultValue();
                });
    }

    /** A bundle context as far as the resources use it: the bundle's version. */
    static BundleContext context() {
        Bundle bundle = (Bundle) Proxy.newProxyInstance(Fakes.class.getClassLoader(), new Class<?>[] {Bundle.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "getVersion" -> new Version(1, 2, 3);
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return (BundleContext) Proxy.newProxyInstance(Fakes.class.getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getBundle" -> bundle;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** A repository of models in memory, each with versions 1..n and a default. */
    static final class Repository implements ModelRepository {

        volatile boolean settled = true;

        @Override
        public boolean settled() {
            return settled;
        }

        final Map<String, ModelDTO> models = new ConcurrentHashMap<>();
        final AtomicInteger calls = new AtomicInteger();
        volatile RuntimeException failure;

        Repository with(String name, int versions, int defaultVersion) {
            ModelDTO m = new ModelDTO();
            m.name = name;
            m.defaultVersion = defaultVersion;
            m.versions = new ArrayList<>();
            for (int v = 1; v <= versions; v++) {
                m.versions.add(version(name, v));
            }
            models.put(name, m);
            return this;
        }

        static ModelVersionDTO version(String name, int v) {
            ModelVersionDTO dto = new ModelVersionDTO();
            dto.name = name;
            dto.version = v;
            dto.engine = "PyTorch";
            dto.sha256 = name + "-sha-" + v;
            dto.signature = ModelSignature.UNKNOWN;
            return dto;
        }

        void setDefault(String name, int version) {
            models.get(name).defaultVersion = version;
        }

        private void check() {
            calls.incrementAndGet();
            RuntimeException f = failure;
            if (f != null) {
                throw f;
            }
        }

        @Override
        public List<ModelDTO> models() {
            check();
            return new ArrayList<>(new TreeMap<>(models).values());
        }

        @Override
        public ModelDTO model(String name) {
            check();
            ModelDTO m = models.get(name);
            if (m == null) {
                throw new ModelNotFoundException("model '" + name + "' not found");
            }
            return m;
        }

        @Override
        public ModelVersionDTO resolve(String name, Integer version) {
            ModelDTO m = model(name);
            int v = version == null ? m.defaultVersion : version;
            return m.versions.stream().filter(x -> x.version == v).findFirst()
                    .orElseThrow(() -> new ModelNotFoundException("model '" + name + "' has no version " + v));
        }

        @Override
        public ModelVersionDTO deploy(String name, String fileName, InputStream data, InputStream metadata,
                String engine, String description, boolean makeDefault) {
            throw new UnsupportedOperationException();
        }

        /** The signatures it was told to keep, as {@code name:version}. */
        final List<String> learned = new CopyOnWriteArrayList<>();

        @Override
        public void learnSignature(String name, int version, ModelSignature signature) {
            check();
            learned.add(name + ":" + version);
            ModelDTO m = models.get(name);
            if (m != null) {
                m.versions.stream().filter(v -> v.version == version && v.learned == null).forEach(v -> v.learned =
                        signature.withOrigin(ModelSignature.FIRST_CALL));
            }
        }

        @Override
        public void setDefaultVersion(String name, int version) {
            check();
            setDefault(name, version);
        }

        @Override
        public void setDescription(String name, Integer version, String description) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void delete(String name, Integer version) {
            check();
            models.remove(name);
        }

        @Override
        public InputStream open(String name, Integer version) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String fileName(String name, Integer version) {
            throw new UnsupportedOperationException();
        }

        @Override
        public ModelVersionDTO deployFrom(String source, String name, String fileName, InputStream model,
                InputStream metadata) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int undeploySource(String source) {
            throw new UnsupportedOperationException();
        }
    }

    /** A balancer whose modelhost answers each request with one output, [version, first input value]. */
    static final class Balancer implements LoadBalancer {
        final String name;
        final List<InferenceRequest> requests = new CopyOnWriteArrayList<>();
        final List<CompletableFuture<InferenceResponse>> answers = new CopyOnWriteArrayList<>();
        volatile Function<InferenceRequest, CompletableFuture<InferenceResponse>> behaviour = this::answer;
        volatile ModelSignature signature;

        Balancer(String name) {
            this.name = name;
        }

        /** A balancer that takes requests and never answers them. */
        static Balancer silent(String name) {
            Balancer b = new Balancer(name);
            b.behaviour = r -> new CompletableFuture<>();
            return b;
        }

        CompletableFuture<InferenceResponse> answer(InferenceRequest r) {
            float first = r.inputs().isEmpty() ? 0 : (float) r.inputs().get(0).getDouble(0);
            Tensor out = Tensor.of("output", DataType.FP32, new long[] {1, 2}, new float[] {r.version(), first});
            return CompletableFuture.completedFuture(new InferenceResponse(r.id(), r.model(), r.version(),
                    List.of(out), name, 0, 0));
        }

        @Override
        public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
            requests.add(request);
            CompletableFuture<InferenceResponse> f = behaviour.apply(request);
            answers.add(f);
            return f;
        }

        @Override
        public CompletableFuture<EchoDTO> echo(Object payload) {
            EchoDTO dto = new EchoDTO();
            dto.data = payload;
            dto.modelhost = name;
            dto.worker = "w0";
            return CompletableFuture.completedFuture(dto);
        }

        @Override
        public Map<String, ModelStatusDTO> status(String model, int version) {
            ModelStatusDTO s = new ModelStatusDTO();
            s.model = model;
            s.version = version;
            s.state = ModelState.READY;
            s.signature = signature;
            return Map.of(name + "-host", s);
        }

        @Override
        public List<ModelHostDTO> modelHosts() {
            return List.of();
        }

        @Override
        public BalancerDTO describe() {
            BalancerDTO dto = new BalancerDTO();
            dto.strategy = Strategy.LEAST_OUTSTANDING;
            dto.modelhosts = List.of();
            return dto;
        }

        @Override
        public void setStrategy(Strategy strategy) {
        }
    }
}
