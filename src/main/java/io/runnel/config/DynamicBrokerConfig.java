package io.runnel.config;

import io.runnel.log.DynamicConfigStore.Dynamic;
import io.runnel.log.DynamicConfigStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The broker's configuration in effect: the static keys with the dynamic overrides on top, in two levels (the
 * cluster-wide defaults and this broker's own values) that IncrementalAlterConfigs changes while the broker runs and
 * that {@code log.dirs/dynamic-config.properties} keeps ({@link DynamicConfigStore}). It validates and stores a
 * change; applying the new defaults to the topics is {@code partition.TopicAdmin}'s job. Reads are safe from any
 * thread; {@link #load} and {@link #alter} block on file I/O (call them on a worker).
 */
public final class DynamicBrokerConfig {
    private final BrokerConfig staticConfig;
    private final DynamicConfigStore store;
    private volatile Dynamic dynamic = Dynamic.empty();
    private volatile BrokerConfig current;

    public DynamicBrokerConfig(BrokerConfig staticConfig, Path logDir) {
        this.staticConfig = staticConfig;
        this.current = staticConfig;
        this.store = new DynamicConfigStore(logDir);
    }

    /** Reads the stored overrides (at start). Blocking; fails when the file holds a value that is not valid. */
    public void load() throws IOException {
        Dynamic d = store.load();
        try {
            current = staticConfig.withDynamic(d.clusterDefaults(), d.perBroker());
        } catch (ConfigException e) {
            throw new IOException(DynamicConfigStore.FILE + " holds a value that is not valid: " + e.getMessage(), e);
        }
        dynamic = d;
    }

    /** The static configuration, as the command line, environment and file gave it. */
    public BrokerConfig staticConfig() {
        return staticConfig;
    }

    /** The configuration in effect: static keys plus the dynamic overrides. */
    public BrokerConfig current() {
        return current;
    }

    /** One level of the overrides as stored: the cluster-wide defaults, or this broker's values. */
    public Map<String, String> overrides(boolean clusterDefaults) {
        Dynamic d = dynamic;
        return clusterDefaults ? d.clusterDefaults() : d.perBroker();
    }

    /**
     * The configuration that replacing one level with {@code values} would give, without changing anything.
     *
     * @throws ConfigException when a key is not dynamic or a value is not valid
     */
    public BrokerConfig validate(boolean clusterDefaults, Map<String, String> values) {
        Dynamic d = with(clusterDefaults, values);
        return staticConfig.withDynamic(d.clusterDefaults(), d.perBroker());
    }

    /**
     * Replaces one level of the overrides with {@code values}: validates, stores, then takes effect. Returns the new
     * configuration in effect. Blocking (the file is written and fsynced).
     *
     * @throws ConfigException when a key is not dynamic or a value is not valid (nothing changes)
     */
    public synchronized BrokerConfig alter(boolean clusterDefaults, Map<String, String> values) throws IOException {
        Dynamic d = with(clusterDefaults, values);
        BrokerConfig next = staticConfig.withDynamic(d.clusterDefaults(), d.perBroker());
        store.save(d);
        dynamic = d;
        current = next;
        return next;
    }

    private Dynamic with(boolean clusterDefaults, Map<String, String> values) {
        Dynamic d = dynamic;
        return clusterDefaults ? new Dynamic(Map.copyOf(values), d.perBroker()) : new Dynamic(d.clusterDefaults(), Map.copyOf(values));
    }
}
