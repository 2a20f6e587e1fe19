package io.fractal.modelhost.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.api.host.ModelHostConfigDTO;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

class ModelHostAdminImplTest {

    private final List<Configuration> configurations = new ArrayList<>();
    private final ModelHostAdminImpl admin = new ModelHostAdminImpl(configAdmin());

    @Test
    void aConfigurationWithoutAnIdIsListedUnderTheIdItsHostTakes() {
        add("io.fractal.modelhost~zeta", Map.of("id", "zeta", "workers", 4));
        add("io.fractal.modelhost~alpha", Map.of("workers", "2")); // a .cfg without id
        add("io.fractal.modelhost~blank", Map.of("id", " "));
        add("io.fractal.modelhost~new", null); // created, not yet updated
        List<ModelHostConfigDTO> listed = admin.list();
        assertEquals(List.of("alpha", "blank", "new", "zeta"), listed.stream().map(d -> d.id).toList());
        assertEquals(2, listed.get(0).workers);
        assertEquals(4, listed.get(3).workers);
    }

    @Test
    void aHostWithoutAnIdIsFoundByTheIdItTakes() {
        add("io.fractal.modelhost~alpha", Map.of("workers", 2));
        assertTrue(admin.remove("alpha"));
        assertFalse(admin.remove("beta"));
    }

    @Test
    void theIdOfAConfigurationIsTheLastPartOfItsPid() {
        assertEquals("mh3", ModelHostAdminImpl.idOf("io.fractal.modelhost~mh3"));
        assertEquals("4f1c", ModelHostAdminImpl.idOf("io.fractal.modelhost.4f1c"));
    }

    private void add(String pid, Map<String, Object> properties) {
        Hashtable<String, Object> p = properties == null ? null : new Hashtable<>(properties);
        configurations.add((Configuration) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {Configuration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getPid" -> pid;
                    case "getProperties" -> p == null ? null : (Dictionary<String, Object>) new Hashtable<>(p);
                    case "delete" -> {
                        configurations.remove(proxy);
                        yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "Configuration[" + pid + "]";
                    default -> throw new UnsupportedOperationException(method.getName());
                }));
    }

    private ConfigurationAdmin configAdmin() {
        return (ConfigurationAdmin) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ConfigurationAdmin.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "listConfigurations" -> configurations.isEmpty() ? null
                            : configurations.toArray(new Configuration[0]);
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "ConfigurationAdmin";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
