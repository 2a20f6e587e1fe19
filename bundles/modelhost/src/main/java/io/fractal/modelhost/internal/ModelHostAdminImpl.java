package io.fractal.modelhost.internal;

import io.fractal.api.host.ModelHost;
import io.fractal.api.host.ModelHostAdmin;
import io.fractal.api.host.ModelHostConfigDTO;
import io.fractal.api.inference.ConflictException;
import io.fractal.api.inference.InvalidInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * Creates and removes modelhost instances as Config Admin factory configurations of
 * {@value ModelHostConfiguration#FACTORY_PID}: the same thing a {@code .cfg} file in {@code deploy/} makes, so
 * all three ways (file, shell, REST) give the same instances. Config Admin keeps them over restarts.
 */
@Component(service = ModelHostAdmin.class)
public class ModelHostAdminImpl implements ModelHostAdmin {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    private final ConfigurationAdmin configAdmin;
    private final Map<String, ModelHostImpl> live = new ConcurrentHashMap<>();

    @Activate
    public ModelHostAdminImpl(@Reference ConfigurationAdmin configAdmin) {
        this.configAdmin = configAdmin;
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindModelHost(ModelHost host) {
        if (host instanceof ModelHostImpl local) {
            live.put(local.id(), local);
        }
    }

    void unbindModelHost(ModelHost host) {
        live.remove(host.id(), host);
    }

    @Override
    public List<ModelHostConfigDTO> list() {
        List<ModelHostConfigDTO> out = new ArrayList<>();
        for (Configuration c : configurations()) {
            Dictionary<String, Object> p = c.getProperties();
            ModelHostConfigDTO dto = p == null ? new ModelHostConfigDTO() : toDTO(p);
            if (dto.id == null || dto.id.isBlank()) {
                dto.id = idOf(c.getPid()); // a .cfg without 'id': the instance takes its configuration's name
            }
            out.add(dto);
        }
        out.sort(Comparator.comparing((ModelHostConfigDTO d) -> d.id, Comparator.nullsLast(Comparator.naturalOrder())));
        return out;
    }

    /** Where FileInstall notes the .cfg file a configuration came from (a file: URI). */
    static final String FILEINSTALL_FILENAME = "felix.fileinstall.filename";

    /** The most modelhosts the API creates on one server. */
    static final int MAX_HOSTS = 32;

    @Override
    public ModelHostConfigDTO create(ModelHostConfigDTO config) {
        if (config == null || config.id == null || !ID.matcher(config.id).matches()) {
            throw new InvalidInputException("invalid modelhost id '" + (config == null ? null : config.id)
                    + "': 1 to 64 letters, digits, '-' or '_'");
        }
        if (config.workers != null && (config.workers < 1 || config.workers > 256)) {
            throw new InvalidInputException("'workers' must be between 1 and 256");
        }
        if (config.queueCapacity != null && (config.queueCapacity < 1 || config.queueCapacity > 1_000_000)) {
            throw new InvalidInputException("'queue_capacity' must be between 1 and 1000000");
        }
        synchronized (this) {
            if (find(config.id) != null || live.containsKey(config.id)) {
                throw new ConflictException("modelhost '" + config.id + "' already exists");
            }
            if (live.size() >= MAX_HOSTS) {
                // each modelhost loads its own copy of every model it serves: bounded, so one call cannot exhaust memory
                throw new ConflictException("this server already runs " + live.size() + " modelhosts, the most the "
                        + "API creates (" + MAX_HOSTS + "); remove one first, or add it as a .cfg in deploy/");
            }
            Hashtable<String, Object> props = new Hashtable<>();
            props.put("id", config.id);
            if (config.workers != null) {
                props.put("workers", config.workers);
            }
            if (config.queueCapacity != null) {
                props.put("queue.capacity", config.queueCapacity);
            }
            if (config.models != null) {
                props.put("models", config.models);
            }
            try {
                configAdmin.getFactoryConfiguration(ModelHostConfiguration.FACTORY_PID, config.id, "?").update(props);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot save the modelhost configuration", e);
            }
            return toDTO(props);
        }
    }

    @Override
    public boolean remove(String id) {
        Configuration c = find(id);
        if (c == null) {
            return false;
        }
        Dictionary<String, Object> props = c.getProperties();
        Object file = props == null ? null : props.get(FILEINSTALL_FILENAME);
        try {
            c.delete();
            if (file != null) {
                // defined by a .cfg in deploy/: the file goes too, or the modelhost would come back with it at start
                java.nio.file.Files.deleteIfExists(java.nio.file.Path.of(java.net.URI.create(String.valueOf(file))));
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new UncheckedIOException("cannot delete the modelhost configuration", e instanceof IOException io
                    ? io : new IOException(e.getMessage(), e));
        }
        return true;
    }

    @Override
    public boolean drain(String id) {
        ModelHostImpl host = live.get(id);
        if (host == null) {
            return false;
        }
        host.drain();
        return true;
    }

    @Override
    public boolean resume(String id) {
        ModelHostImpl host = live.get(id);
        if (host == null) {
            return false;
        }
        host.resume();
        return true;
    }

    /** The id a modelhost without a configured one takes, as {@link ModelHostImpl} does: the PID's last part. */
    static String idOf(String pid) {
        if (pid == null) {
            return null;
        }
        int sep = Math.max(pid.lastIndexOf('~'), pid.lastIndexOf('.'));
        return sep >= 0 ? pid.substring(sep + 1) : pid;
    }

    private Configuration find(String id) {
        for (Configuration c : configurations()) {
            Dictionary<String, Object> p = c.getProperties();
            if (p != null && id.equals(String.valueOf(p.get("id")))) {
                return c;
            }
            boolean noId = p != null && (p.get("id") == null || String.valueOf(p.get("id")).isBlank());
            if (noId && id.equals(idOf(c.getPid()))) {
                return c;
            }
        }
        return null;
    }

    private Configuration[] configurations() {
        try {
            Configuration[] cs = configAdmin.listConfigurations("(service.factoryPid="
                    + ModelHostConfiguration.FACTORY_PID + ")");
            return cs == null ? new Configuration[0] : cs;
        } catch (IOException | InvalidSyntaxException e) {
            throw new IllegalStateException("cannot list the modelhost configurations: " + e.getMessage(), e);
        }
    }

    private static ModelHostConfigDTO toDTO(Dictionary<String, Object> p) {
        ModelHostConfigDTO dto = new ModelHostConfigDTO();
        dto.id = p.get("id") == null ? null : String.valueOf(p.get("id"));
        dto.workers = integer(p.get("workers"));
        dto.queueCapacity = integer(p.get("queue.capacity"));
        dto.models = p.get("models") == null ? null : String.valueOf(p.get("models"));
        return dto;
    }

    private static Integer integer(Object v) {
        if (v == null) {
            return null;
        }
        return v instanceof Number n ? n.intValue() : Integer.valueOf(String.valueOf(v).trim());
    }
}
