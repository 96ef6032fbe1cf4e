package io.runnel.partition;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.DynamicBrokerConfig;
import io.runnel.config.Limits;
import io.runnel.config.TopicConfig;
import io.runnel.log.value.TopicRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.errors.ReassignmentInProgressException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Topic administration as Kafka's Admin APIs ask for it: create, delete, grow and reconfigure topics, elect leaders,
 * reassign partitions, and apply changed broker defaults to the topics. Each request is validated here; a broker
 * alone then carries it out itself, a broker in a cluster hands it to the controller ({@link TopicAuthority}) and
 * completes once the controller's image with the change has reached it. Errors are Kafka's exceptions, so that the
 * protocol layer maps them with {@code Errors.forException}. Safe from any thread.
 */
public final class TopicAdmin {
    private static final Logger LOG = LoggerFactory.getLogger(TopicAdmin.class);

    private final Vertx vertx;
    private final TopicRegistry topics;
    private final LocalReplicas replicas;
    private final DynamicBrokerConfig brokerConfig;
    private final int nodeId;
    /** Topics with a change under way on a broker alone (one at a time per topic). */
    private final Set<String> busy = ConcurrentHashMap.newKeySet();
    /** Set when the broker starts to stop: from then on no topic is created, changed or deleted. */
    private volatile boolean closing;
    /** The controller, when this broker is part of a cluster; null when it runs alone. */
    private volatile TopicAuthority authority;

    public TopicAdmin(Vertx vertx, TopicRegistry topics, LocalReplicas replicas, DynamicBrokerConfig brokerConfig) {
        this.vertx = vertx;
        this.topics = topics;
        this.replicas = replicas;
        this.brokerConfig = brokerConfig;
        this.nodeId = topics.nodeId();
    }

    /** Opens the topics found on disk at start ({@link LocalReplicas#loadStored}) and registers them. */
    public Future<Void> openStored(List<LocalReplicas.Stored> stored) {
        List<Future<LocalTopic>> all = new ArrayList<>();
        for (LocalReplicas.Stored s : stored) {
            TopicRecord r = s.record();
            all.add(open(r, TopicConfig.of(brokerConfig.current(), r.configs()), s.held()).onSuccess(topics::put));
        }
        return Future.all(all).mapEmpty();
    }

    /** Hands topic decisions to the controller from now on (cluster mode). */
    public void useAuthority(TopicAuthority authority) {
        this.authority = authority;
    }

    /** Whether topic decisions go to a cluster's controller (false for a broker alone). */
    public boolean clustered() {
        return authority != null;
    }

    /** Creates a topic with default.replication.factor replicas per partition; see the four-argument form. */
    public Future<LocalTopic> createTopic(String name, int partitions, Map<String, String> configs) {
        return createTopic(name, partitions, -1, configs);
    }

    /**
     * Creates a topic with {@code replicationFactor} replicas per partition (-1: default.replication.factor).
     *
     * @param partitions the partition count, or -1 for {@code num.partitions}
     * @return the topic once this broker has it; fails with InvalidTopicException, TopicExistsException,
     *         InvalidPartitionsException, InvalidConfigurationException, InvalidReplicationFactorException...
     */
    public Future<LocalTopic> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs) {
        if (closing) return shuttingDown();
        BrokerConfig defaults = brokerConfig.current();
        int count = partitions == -1 ? defaults.get(BrokerConfig.NUM_PARTITIONS) : partitions;
        TopicConfig config;
        try {
            Topic.validate(name);
            if (count < 1 || count > Limits.PARTITIONS_PER_TOPIC_MAX) {
                throw new InvalidPartitionsException("Number of partitions must be between 1 and " + Limits.PARTITIONS_PER_TOPIC_MAX + ", got " + count);
            }
            config = TopicConfig.of(defaults, configs);
        } catch (ConfigException e) {
            return Future.failedFuture(new InvalidConfigurationException(e.getMessage()));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        int rf = replicationFactor == -1 ? defaults.get(BrokerConfig.DEFAULT_REPLICATION_FACTOR) : replicationFactor;
        if (topics.topic(name).isPresent()) return Future.failedFuture(new TopicExistsException("Topic '" + name + "' already exists."));
        TopicAuthority a = authority;
        if (a != null) {
            return a.createTopic(name, count, rf, Map.copyOf(configs)).compose(v -> topics.awaitTopic(name, t -> t != null));
        }
        if (rf != 1) {
            return Future.failedFuture(new InvalidReplicationFactorException("Replication factor " + rf + " is larger than the 1 broker available"));
        }
        if (!busy.add(name)) return Future.failedFuture(new TopicExistsException("Topic '" + name + "' already exists."));
        TopicRecord record = new TopicRecord(name, Uuid.randomUuid(), count, Map.copyOf(configs));
        return replicas.save(record).compose(v -> open(record, config, Collections.nCopies(count, Placement.alone(nodeId)))).andThen(ar -> {
            if (ar.succeeded()) {
                topics.put(ar.result());
                LOG.info("Created topic {} with {} partition(s)", name, count);
            }
            busy.remove(name);
        });
    }

    /**
     * Creates a topic in a cluster with the replicas given per partition (Kafka's manual assignment; the controller
     * checks the brokers). Returns the topic once this broker has it.
     */
    public Future<LocalTopic> createTopic(String name, List<List<Integer>> assignment, Map<String, String> configs) {
        if (closing) return shuttingDown();
        TopicAuthority a = authority;
        if (a == null) return Future.failedFuture(new IllegalStateException("A manual assignment is placed by a cluster's controller"));
        try {
            Topic.validate(name);
            if (assignment.isEmpty() || assignment.size() > Limits.PARTITIONS_PER_TOPIC_MAX) {
                throw new InvalidPartitionsException("Number of partitions must be between 1 and " + Limits.PARTITIONS_PER_TOPIC_MAX + ", got "
                        + assignment.size());
            }
            TopicConfig.of(brokerConfig.current(), configs);
        } catch (ConfigException e) {
            return Future.failedFuture(new InvalidConfigurationException(e.getMessage()));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        if (topics.topic(name).isPresent()) return Future.failedFuture(new TopicExistsException("Topic '" + name + "' already exists."));
        return a.createTopic(name, assignment, Map.copyOf(configs)).compose(v -> topics.awaitTopic(name, t -> t != null));
    }

    /** Opens this broker's replicas of a topic placed as {@code placements}. */
    private Future<LocalTopic> open(TopicRecord r, TopicConfig config, List<Placement> placements) {
        return replicas.open(r, config, 0, placements)
                .map(o -> new LocalTopic(new TopicMetadata(r, placements), config, o.handles(), o.deploymentIds()));
    }

    /** Raises a topic's partition count to {@code total} (CreatePartitions); existing partitions are untouched. */
    public Future<LocalTopic> createPartitions(String name, int total) {
        if (closing) return shuttingDown();
        LocalTopic t = topics.topic(name).orElse(null);
        if (t == null) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        if (total <= t.partitions().size() || total > Limits.PARTITIONS_PER_TOPIC_MAX) {
            return Future.failedFuture(new InvalidPartitionsException("Topic '" + name + "' has " + t.partitions().size()
                    + " partitions; the new count must be larger and at most " + Limits.PARTITIONS_PER_TOPIC_MAX + ", got " + total));
        }
        TopicAuthority a = authority;
        if (a != null) return a.createPartitions(name, total).compose(v -> topics.awaitTopic(name, x -> x != null && x.partitions().size() >= total));
        if (!busy.add(name)) return Future.failedFuture(new ReassignmentInProgressException("Topic '" + name + "' is being changed."));
        TopicRecord record = new TopicRecord(name, t.topicId(), total, t.config().overrides());
        List<Placement> alone = Collections.nCopies(total, Placement.alone(nodeId));
        return replicas.save(record).compose(v -> replicas.open(record, t.config(), t.partitions().size(), alone)).map(added -> {
            List<PartitionHandle> handles = new ArrayList<>(t.partitions());
            handles.addAll(added.handles());
            List<String> ids = new ArrayList<>(t.deploymentIds());
            ids.addAll(added.deploymentIds());
            LocalTopic grown = new LocalTopic(t.metadata().withRecord(record, alone), t.config(), handles, ids);
            topics.put(grown);
            LOG.info("Topic {} now has {} partitions", name, total);
            return grown;
        }).andThen(ar -> busy.remove(name));
    }

    /** Replaces a topic's configuration overrides (validated like at creation) and applies them to every partition. */
    public Future<LocalTopic> alterTopicConfig(String name, Map<String, String> overrides) {
        if (closing) return shuttingDown();
        LocalTopic t = topics.topic(name).orElse(null);
        if (t == null) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        TopicConfig config;
        try {
            config = TopicConfig.of(brokerConfig.current(), overrides);
        } catch (ConfigException e) {
            return Future.failedFuture(new InvalidConfigurationException(e.getMessage()));
        }
        TopicAuthority a = authority;
        if (a != null) {
            Map<String, String> wanted = Map.copyOf(overrides);
            return a.alterTopicConfig(name, wanted).compose(v -> topics.awaitTopic(name, x -> x != null && x.config().overrides().equals(wanted)));
        }
        if (!busy.add(name)) return Future.failedFuture(new ReassignmentInProgressException("Topic '" + name + "' is being changed."));
        TopicRecord record = new TopicRecord(name, t.topicId(), t.partitions().size(), Map.copyOf(overrides));
        return replicas.save(record).compose(v -> Future.all(t.localPartitions().stream().map(h -> h.updateConfig(config.logConfig())).toList())).map(v -> {
            LocalTopic changed = t.withConfig(t.metadata().withRecord(record, t.placements()), config);
            topics.put(changed);
            return changed;
        }).andThen(ar -> busy.remove(name));
    }

    /**
     * Replaces one level of the dynamic broker configuration (the cluster-wide defaults, or this broker's values),
     * stores it, and applies the new defaults to every topic's partitions that do not override them.
     */
    public Future<Void> alterBrokerConfig(boolean clusterDefaults, Map<String, String> values) {
        if (closing) return shuttingDown();
        return vertx.executeBlocking(() -> brokerConfig.alter(clusterDefaults, values)).recover(e -> Future.failedFuture(
                e instanceof ConfigException ? new InvalidConfigurationException(e.getMessage()) : e)).compose(next -> {
            List<Future<Void>> applied = new ArrayList<>();
            for (LocalTopic t : topics.topics()) {
                TopicConfig config = TopicConfig.of(next, t.config().overrides());
                topics.put(t.withConfig(t.metadata(), config));
                for (PartitionHandle h : t.localPartitions()) applied.add(h.updateConfig(config.logConfig()));
            }
            LOG.info("Dynamic broker configuration is now {} (cluster defaults) and {} (this broker)", brokerConfig.overrides(true),
                    brokerConfig.overrides(false));
            return Future.all(applied).<Void>mapEmpty();
        });
    }

    /** Deletes a topic: its metadata first, then every partition's files. */
    public Future<Void> deleteTopic(String name) {
        if (closing) return shuttingDown();
        LocalTopic t = topics.topic(name).orElse(null);
        TopicAuthority a = authority;
        if (a != null) {
            if (t == null) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
            return a.deleteTopic(name).compose(v -> topics.awaitTopic(name, x -> x == null)).mapEmpty();
        }
        if (t == null || !busy.add(name)) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        topics.remove(name);
        return replicas.deleteTopic(t).andThen(ar -> busy.remove(name));
    }

    /**
     * Kafka's ElectLeaders for {@code partitions} ({@code topic -> partitions}, null for all): the controller elects in
     * a cluster; a broker alone leads every partition already, so each existing one is ELECTION_NOT_NEEDED.
     */
    public Future<Map<TopicPartition, ApiError>> electLeaders(boolean unclean, Map<String, List<Integer>> partitions) {
        TopicAuthority a = authority;
        if (a != null) return a.electLeaders(unclean, partitions);
        Map<TopicPartition, ApiError> out = new LinkedHashMap<>();
        Map<String, List<Integer>> wanted = new LinkedHashMap<>();
        if (partitions == null) {
            topics.topics().forEach(t -> wanted.put(t.name(), IntStream.range(0, t.partitions().size()).boxed().toList()));
        } else {
            wanted.putAll(partitions);
        }
        wanted.forEach((name, ps) -> {
            LocalTopic t = topics.topic(name).orElse(null);
            for (int p : ps) {
                boolean exists = t != null && p >= 0 && p < t.partitions().size();
                out.put(new TopicPartition(name, p), exists
                        ? new ApiError(Errors.ELECTION_NOT_NEEDED, "Broker " + nodeId + " already leads the partition")
                        : new ApiError(Errors.UNKNOWN_TOPIC_OR_PARTITION, name + "-" + p + " does not exist"));
            }
        });
        return Future.succeededFuture(out);
    }

    /**
     * Kafka's AlterPartitionReassignments for one partition ({@code replicas} null cancels): the controller runs it in
     * a cluster; a broker alone has nowhere to move a partition, so only a no-op to itself is accepted.
     */
    public Future<Void> reassign(String topic, int partition, List<Integer> replicas, boolean allowReplicationFactorChange) {
        TopicAuthority a = authority;
        if (a != null) return a.reassign(topic, partition, replicas, allowReplicationFactorChange);
        LocalTopic t = topics.topic(topic).orElse(null);
        if (t == null || partition < 0 || partition >= t.partitions().size()) {
            return Future.failedFuture(new UnknownTopicOrPartitionException(topic + "-" + partition + " does not exist"));
        }
        if (replicas == null) return Future.failedFuture(new NoReassignmentInProgressException("No reassignment of " + topic + "-" + partition));
        if (!replicas.equals(List.of(nodeId))) {
            return Future.failedFuture(new InvalidReplicaAssignmentException("Replicas " + replicas + " are not live brokers; the only one is " + nodeId));
        }
        return Future.succeededFuture();
    }

    /** The running reassignments, as this broker's copy of the metadata has them (none on a broker alone). */
    public Map<TopicPartition, TopicMetadata.Reassignment> reassignments() {
        Map<TopicPartition, TopicMetadata.Reassignment> out = new LinkedHashMap<>();
        for (LocalTopic t : topics.topics()) t.metadata().reassignments().forEach((p, r) -> out.put(new TopicPartition(t.name(), p), r));
        return out;
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
}
