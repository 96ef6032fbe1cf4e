package io.runnel.log;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Broker configuration changed while running (IncrementalAlterConfigs on a BROKER resource), kept in
 * {@code <log.dirs>/dynamic-config.properties} so that it survives restarts, as Kafka keeps it in its metadata log.
 * Format: Java properties, {@code version=0}, then {@code default.<key>=<value>} for cluster-wide defaults and
 * {@code broker.<key>=<value>} for this broker. Replaced atomically ({@link Checkpoints#writeAtomically}).
 */
public final class DynamicConfigStore {
    public static final String FILE = "dynamic-config.properties";
    private final Path file;

    public DynamicConfigStore(Path logDir) {
        this.file = logDir.resolve(FILE);
    }

    /** The two levels: cluster defaults and this broker's values. */
    public record Dynamic(Map<String, String> clusterDefaults, Map<String, String> perBroker) {
        public static Dynamic empty() {
            return new Dynamic(Map.of(), Map.of());
        }
    }

    /** Reads the file (empty when absent). Blocking. */
    public Dynamic load() throws IOException {
        if (!Files.exists(file)) return Dynamic.empty();
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        Map<String, String> defaults = new TreeMap<>();
        Map<String, String> broker = new TreeMap<>();
        for (String k : p.stringPropertyNames()) {
            if (k.startsWith("default.")) defaults.put(k.substring("default.".length()), p.getProperty(k));
            else if (k.startsWith("broker.")) broker.put(k.substring("broker.".length()), p.getProperty(k));
        }
        return new Dynamic(defaults, broker);
    }

    /** Replaces the file. Blocking. */
    public void save(Dynamic d) throws IOException {
        StringBuilder sb = new StringBuilder("# Runnel dynamic broker configuration; written by the broker (IncrementalAlterConfigs).\nversion=0\n");
        new TreeMap<>(d.clusterDefaults()).forEach((k, v) -> sb.append("default.").append(k).append('=').append(v).append('\n'));
        new TreeMap<>(d.perBroker()).forEach((k, v) -> sb.append("broker.").append(k).append('=').append(v).append('\n'));
        Checkpoints.writeAtomically(file, sb.toString().getBytes(StandardCharsets.UTF_8));
    }
}
