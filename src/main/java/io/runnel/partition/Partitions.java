package io.runnel.partition;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.Limits;
import io.runnel.config.TopicConfig;
import io.runnel.log.DynamicConfigStore;
import io.runnel.log.TopicStore;
import io.runnel.log.TopicStore.TopicRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The topics and partitions this broker holds: creates, loads and deletes them, keeps their metadata in the
 * {@link TopicStore}, and deploys one {@link PartitionVerticle} per partition. Safe to call from any thread; the
 * returned futures complete on the caller's context. Errors are Kafka's exceptions, so that the protocol layer maps
 * them to error codes with {@code Errors.forException}.
 */
public final class Partitions {
    private static final Logger LOG = LoggerFactory.getLogger(Partitions.class);

    /** A topic with its partitions, immutable; a configuration change replaces it. */
    public record TopicInfo(String name, Uuid topicId, TopicConfig config, List<PartitionHandle> partitions,
                            List<String> deploymentIds) {
    }

    private final Vertx vertx;
    private final Deployer deployer;
    private final BrokerConfig staticConfig;
    /** The static configuration with the dynamic broker overrides on top; replaced by {@link #alterBrokerConfig}. */
    private volatile BrokerConfig brokerConfig;
    private volatile DynamicConfigStore.Dynamic dynamic = DynamicConfigStore.Dynamic.empty();
    private final DynamicConfigStore dynamicStore;
    private final Path logDir;
    private final Time time;
    private final TopicStore store;
    private final Map<String, TopicInfo> topics = new ConcurrentHashMap<>();
    private final Set<String> busy = ConcurrentHashMap.newKeySet();
    /** Set when the broker starts to stop: from then on no topic is created, changed or deleted. */
    private volatile boolean closing;

    public Partitions(Vertx vertx, Deployer deployer, BrokerConfig brokerConfig, Time time) {
        this.vertx = vertx;
        this.deployer = deployer;
        this.staticConfig = brokerConfig;
        this.brokerConfig = brokerConfig;
        this.logDir = brokerConfig.logDir();
        this.time = time;
        this.store = new TopicStore(logDir);
        this.dynamicStore = new DynamicConfigStore(logDir);
    }

    /** Loads every stored topic and opens (recovering as needed) all its partitions. */
    public Future<Void> start() {
        return vertx.executeBlocking(() -> {
            PartitionDirs.deleteLeftovers(logDir);
            DynamicConfigStore.Dynamic d = dynamicStore.load();
            try {
                brokerConfig = staticConfig.withDynamic(d.clusterDefaults(), d.perBroker());
            } catch (ConfigException e) {
                throw new java.io.IOException(DynamicConfigStore.FILE + " holds a value that is not valid: " + e.getMessage(), e);
            }
            dynamic = d;
            return store.loadAll();
        }).compose(records -> {
            List<Future<TopicInfo>> all = new ArrayList<>();
            for (TopicRecord r : records) {
                TopicConfig config = TopicConfig.of(brokerConfig, r.configs());
                all.add(deploy(r, config).onSuccess(t -> topics.put(t.name(), t)));
            }
            return Future.all(all).mapEmpty();
        });
    }

    /**
     * Creates a topic.
     *
     * @param partitions the partition count, or -1 for {@code num.partitions}
     * @throws InvalidTopicException, TopicExistsException, InvalidPartitionsException, InvalidConfigurationException
     *         (as failed futures)
     */
    public Future<TopicInfo> createTopic(String name, int partitions, Map<String, String> configs) {
        if (closing) return shuttingDown();
        int count = partitions == -1 ? brokerConfig.get(BrokerConfig.NUM_PARTITIONS) : partitions;
        TopicConfig config;
        try {
            Topic.validate(name);
            if (count < 1 || count > Limits.PARTITIONS_PER_TOPIC_MAX) {
                throw new InvalidPartitionsException("Number of partitions must be between 1 and " + Limits.PARTITIONS_PER_TOPIC_MAX + ", got " + count);
            }
            config = TopicConfig.of(brokerConfig, configs);
        } catch (ConfigException e) {
            return Future.failedFuture(new InvalidConfigurationException(e.getMessage()));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        if (topics.containsKey(name) || !busy.add(name)) {
            return Future.failedFuture(new TopicExistsException("Topic '" + name + "' already exists."));
        }
        TopicRecord record = new TopicRecord(name, Uuid.randomUuid(), count, Map.copyOf(configs));
        return vertx.executeBlocking(() -> {
            store.save(record);
            return null;
        }).compose(v -> deploy(record, config)).andThen(ar -> {
            if (ar.succeeded()) {
                topics.put(name, ar.result());
                LOG.info("Created topic {} with {} partition(s)", name, count);
            }
            busy.remove(name);
        });
    }

    private Future<TopicInfo> deploy(TopicRecord r, TopicConfig config) {
        return deploy(r, config, 0).map(added -> new TopicInfo(r.name(), r.topicId(), config, added.partitions(), added.deploymentIds()));
    }

    /** Deploys partitions {@code from} .. {@code r.partitions() - 1}; the result lists only those. */
    private Future<TopicInfo> deploy(TopicRecord r, TopicConfig config, int from) {
        List<PartitionVerticle> verticles = new ArrayList<>();
        List<Future<String>> deployed = new ArrayList<>();
        for (int p = from; p < r.partitions(); p++) {
            TopicPartition tp = new TopicPartition(r.name(), p);
            PartitionVerticle v = new PartitionVerticle(tp, PartitionDirs.dirOf(logDir, tp), config.logConfig(), time,
                    brokerConfig.get(BrokerConfig.LOG_RETENTION_CHECK_INTERVAL_MS));
            verticles.add(v);
            deployed.add(deployer.deploy(v));
        }
        return Future.all(deployed).map(cf -> {
            List<PartitionHandle> handles = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < verticles.size(); i++) {
                handles.add(new PartitionHandle(verticles.get(i), verticles.get(i).openedLog()));
                ids.add(deployed.get(i).result());
            }
            return new TopicInfo(r.name(), r.topicId(), config, List.copyOf(handles), List.copyOf(ids));
        });
    }

    /** Raises a topic's partition count to {@code total} (CreatePartitions); existing partitions are untouched. */
    public Future<TopicInfo> createPartitions(String name, int total) {
        if (closing) return shuttingDown();
        TopicInfo t = topics.get(name);
        if (t == null) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        if (total <= t.partitions().size() || total > Limits.PARTITIONS_PER_TOPIC_MAX) {
            return Future.failedFuture(new InvalidPartitionsException("Topic '" + name + "' has " + t.partitions().size()
                    + " partitions; the new count must be larger and at most " + Limits.PARTITIONS_PER_TOPIC_MAX + ", got " + total));
        }
        if (!busy.add(name)) return Future.failedFuture(new org.apache.kafka.common.errors.ReassignmentInProgressException("Topic '" + name + "' is being changed."));
        TopicRecord record = new TopicRecord(name, t.topicId(), total, t.config().overrides());
        return vertx.executeBlocking(() -> {
            store.save(record);
            return null;
        }).compose(v -> deploy(record, t.config(), t.partitions().size())).map(added -> {
            List<PartitionHandle> handles = new ArrayList<>(t.partitions());
            handles.addAll(added.partitions());
            List<String> ids = new ArrayList<>(t.deploymentIds());
            ids.addAll(added.deploymentIds());
            TopicInfo grown = new TopicInfo(name, t.topicId(), t.config(), List.copyOf(handles), List.copyOf(ids));
            topics.put(name, grown);
            LOG.info("Topic {} now has {} partitions", name, total);
            return grown;
        }).andThen(ar -> busy.remove(name));
    }

    /** Replaces a topic's configuration overrides (validated like at creation) and applies them to every partition. */
    public Future<TopicInfo> alterTopicConfig(String name, Map<String, String> overrides) {
        if (closing) return shuttingDown();
        TopicInfo t = topics.get(name);
        if (t == null) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        TopicConfig config;
        try {
            config = TopicConfig.of(brokerConfig, overrides);
        } catch (ConfigException e) {
            return Future.failedFuture(new InvalidConfigurationException(e.getMessage()));
        }
        if (!busy.add(name)) return Future.failedFuture(new org.apache.kafka.common.errors.ReassignmentInProgressException("Topic '" + name + "' is being changed."));
        TopicRecord record = new TopicRecord(name, t.topicId(), t.partitions().size(), Map.copyOf(overrides));
        return vertx.executeBlocking(() -> {
            store.save(record);
            return null;
        }).compose(v -> Future.all(t.partitions().stream().map(h -> h.updateConfig(config.logConfig())).toList())).map(v -> {
            TopicInfo changed = new TopicInfo(name, t.topicId(), config, t.partitions(), t.deploymentIds());
            topics.put(name, changed);
            return changed;
        }).andThen(ar -> busy.remove(name));
    }

    /** The effective broker configuration: static keys plus the dynamic overrides. */
    public BrokerConfig brokerConfig() {
        return brokerConfig;
    }

    /** One level of the dynamic overrides as stored: the cluster-wide defaults, or this broker's values. */
    public Map<String, String> dynamicConfig(boolean clusterDefaults) {
        return clusterDefaults ? dynamic.clusterDefaults() : dynamic.perBroker();
    }

    /**
     * Replaces one level of the dynamic broker configuration (the cluster-wide defaults, or this broker's values),
     * persists it, and applies the new defaults to every topic's partitions that do not override them.
     */
    public Future<Void> alterBrokerConfig(boolean clusterDefaults, Map<String, String> values) {
        if (closing) return shuttingDown();
        DynamicConfigStore.Dynamic d = clusterDefaults ? new DynamicConfigStore.Dynamic(Map.copyOf(values), dynamic.perBroker())
                : new DynamicConfigStore.Dynamic(dynamic.clusterDefaults(), Map.copyOf(values));
        BrokerConfig next;
        try {
            next = staticConfig.withDynamic(d.clusterDefaults(), d.perBroker());
        } catch (ConfigException e) {
            return Future.failedFuture(new InvalidConfigurationException(e.getMessage()));
        }
        return vertx.executeBlocking(() -> {
            dynamicStore.save(d);
            return null;
        }).compose(v -> {
            dynamic = d;
            brokerConfig = next;
            List<Future<Void>> applied = new ArrayList<>();
            for (TopicInfo t : topics.values()) {
                TopicConfig config = TopicConfig.of(next, t.config().overrides());
                topics.put(t.name(), new TopicInfo(t.name(), t.topicId(), config, t.partitions(), t.deploymentIds()));
                for (PartitionHandle h : t.partitions()) applied.add(h.updateConfig(config.logConfig()));
            }
            LOG.info("Dynamic broker configuration is now {} (cluster defaults) and {} (this broker)", d.clusterDefaults(), d.perBroker());
            return Future.all(applied).<Void>mapEmpty();
        });
    }

    /** Deletes a topic: its metadata first, then every partition's files. */
    public Future<Void> deleteTopic(String name) {
        if (closing) return shuttingDown();
        TopicInfo t = topics.get(name);
        if (t == null || !busy.add(name)) {
            return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        }
        topics.remove(name);
        return vertx.executeBlocking(() -> {
            store.delete(name);
            return null;
        }).compose(v -> {
            List<Future<Void>> undeployed = new ArrayList<>();
            for (int i = 0; i < t.partitions().size(); i++) {
                t.partitions().get(i).markForDeletion();
                undeployed.add(deployer.undeploy(t.deploymentIds().get(i)));
            }
            return Future.all(undeployed).<Void>mapEmpty();
        }).andThen(ar -> {
            busy.remove(name);
            if (ar.succeeded()) LOG.info("Deleted topic {}", name);
        });
    }

    public Optional<TopicInfo> topic(String name) {
        return Optional.ofNullable(topics.get(name));
    }

    public Optional<TopicInfo> topicById(Uuid id) {
        for (TopicInfo t : topics.values()) if (t.topicId().equals(id)) return Optional.of(t);
        return Optional.empty();
    }

    public Collection<TopicInfo> topics() {
        return List.copyOf(topics.values());
    }

    public Optional<PartitionHandle> partition(String topic, int partition) {
        TopicInfo t = topics.get(topic);
        if (t == null || partition < 0 || partition >= t.partitions().size()) return Optional.empty();
        return Optional.of(t.partitions().get(partition));
    }

    /**
     * Refuses every later create, change and delete of a topic. The broker calls this first when it stops, before
     * the endpoints close, so that a request still in flight cannot create a topic while the partitions are being
     * closed (a Metadata request with auto-creation once re-created a closing topic with one partition).
     */
    public void beginShutdown() {
        closing = true;
    }

    /** Whether {@link #beginShutdown()} was called. */
    public boolean closing() {
        return closing;
    }

    private static <T> Future<T> shuttingDown() {
        return Future.failedFuture(new BrokerNotAvailableException("The broker is shutting down"));
    }

    /** Flushes and closes every partition (graceful shutdown). */
    public Future<Void> stop() {
        closing = true;
        List<Future<Void>> undeployed = new ArrayList<>();
        for (TopicInfo t : topics.values()) {
            for (String id : t.deploymentIds()) undeployed.add(deployer.undeploy(id));
        }
        topics.clear();
        return Future.all(undeployed).mapEmpty();
    }
}
