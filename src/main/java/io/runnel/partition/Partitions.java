package io.runnel.partition;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.Limits;
import io.runnel.config.TopicConfig;
import io.runnel.log.DynamicConfigStore;
import io.runnel.log.TopicStore;
import io.runnel.log.TopicStore.TopicRecord;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.ReassignmentInProgressException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;
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

    /**
     * A topic with its partitions, immutable; a change replaces it. {@code partitions} has one entry per partition:
     * the handle of this broker's replica, or null for a partition this broker does not hold (in a cluster);
     * {@code deploymentIds} likewise. {@code placements} says where each partition lives and who leads it.
     */
    public record TopicInfo(String name, Uuid topicId, TopicConfig config, List<PartitionHandle> partitions,
                            List<String> deploymentIds, List<Placement> placements) {
        public TopicInfo {
            partitions = Collections.unmodifiableList(new ArrayList<>(partitions));
            deploymentIds = Collections.unmodifiableList(new ArrayList<>(deploymentIds));
            placements = List.copyOf(placements);
        }

        /** This broker's replica of partition {@code p}, or null when it holds none (or there is no such partition). */
        public PartitionHandle local(int p) {
            return p >= 0 && p < partitions.size() ? partitions.get(p) : null;
        }

        /** The handles of this broker's replicas. */
        public List<PartitionHandle> localPartitions() {
            return partitions.stream().filter(Objects::nonNull).toList();
        }

        TopicInfo with(TopicConfig c, List<Placement> pl) {
            return new TopicInfo(name, topicId, c, partitions, deploymentIds, pl);
        }
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
    private final int nodeId;
    /** The controller, when this broker is part of a cluster; null when it runs alone. */
    private volatile TopicAuthority authority;
    /** Cluster images are applied one after another, in order. */
    private Future<Void> applying = Future.succeededFuture();
    /** Callers waiting for a cluster image in which their change is visible. */
    private final List<Waiter> waiters = new CopyOnWriteArrayList<>();

    private record Waiter(String topic, Predicate<TopicInfo> done, Promise<TopicInfo> promise) {
    }

    public Partitions(Vertx vertx, Deployer deployer, BrokerConfig brokerConfig, Time time) {
        this.nodeId = brokerConfig.nodeId();
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
                throw new IOException(DynamicConfigStore.FILE + " holds a value that is not valid: " + e.getMessage(), e);
            }
            dynamic = d;
            List<TopicRecord> records = store.loadAll();
            // In a cluster this broker holds some partitions of a topic: those whose directory is here (and their
            // last placement, kept on disk). Where the others live, and who leads, comes with the controller's
            // metadata. Read here, on the worker: these are file-system calls.
            Map<String, List<Placement>> held = new HashMap<>();
            if (!staticConfig.clusterMembers().isEmpty()) {
                for (TopicRecord r : records) {
                    List<Placement> here = new ArrayList<>();
                    Placement[] kept = new Placement[r.partitions()];
                    for (int p = 0; p < r.partitions(); p++) {
                        Path dir = PartitionDirs.dirOf(logDir, new TopicPartition(r.name(), p));
                        boolean present = Files.isDirectory(dir);
                        here.add(present ? Placement.alone(nodeId) : new Placement(List.of(), -1, 0, List.of()));
                        if (present) kept[p] = PlacementFile.read(dir).orElse(null);
                    }
                    held.put(r.name(), here);
                    persistedPlacements.put(r.name(), kept);
                }
            }
            return Map.entry(records, held);
        }).compose(loaded -> {
            List<Future<TopicInfo>> all = new ArrayList<>();
            for (TopicRecord r : loaded.getKey()) {
                TopicConfig config = TopicConfig.of(brokerConfig, r.configs());
                List<Placement> held = loaded.getValue().get(r.name());
                Future<TopicInfo> deployed = held == null ? deploy(r, config) : deploy(r, config, 0, held);
                all.add(deployed.onSuccess(t -> topics.put(t.name(), t)));
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
        return createTopic(name, partitions, -1, configs);
    }

    /** Creates a topic with {@code replicationFactor} replicas per partition (-1: default.replication.factor). */
    public Future<TopicInfo> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs) {
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
        int rf = replicationFactor == -1 ? brokerConfig.get(BrokerConfig.DEFAULT_REPLICATION_FACTOR) : replicationFactor;
        if (topics.containsKey(name)) return Future.failedFuture(new TopicExistsException("Topic '" + name + "' already exists."));
        TopicAuthority a = authority;
        if (a != null) {
            return a.createTopic(name, count, rf, Map.copyOf(configs)).compose(v -> awaitTopic(name, t -> t != null));
        }
        if (rf != 1) {
            return Future.failedFuture(new InvalidReplicationFactorException(
                    "Replication factor " + rf + " is larger than the 1 broker available"));
        }
        if (!busy.add(name)) {
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
        List<Placement> alone = Collections.nCopies(r.partitions(), Placement.alone(nodeId));
        return deploy(r, config, 0, alone).map(added -> new TopicInfo(r.name(), r.topicId(), config, added.partitions(), added.deploymentIds(), alone));
    }

    /**
     * Deploys this broker's replicas among partitions {@code from} .. {@code r.partitions() - 1} (those whose
     * placement lists this broker); the result lists only those partitions, with null for the ones held elsewhere.
     */
    private Future<TopicInfo> deploy(TopicRecord r, TopicConfig config, int from, List<Placement> placements) {
        List<PartitionVerticle> verticles = new ArrayList<>();
        List<Future<String>> deployed = new ArrayList<>();
        for (int p = from; p < r.partitions(); p++) {
            if (!placements.get(p).replicas().contains(nodeId)) {
                verticles.add(null);
                deployed.add(Future.succeededFuture(null));
                continue;
            }
            TopicPartition tp = new TopicPartition(r.name(), p);
            PartitionVerticle v = newReplica(tp, config, placements.get(p));
            verticles.add(v);
            deployed.add(deployer.deploy(v));
        }
        return Future.all(deployed).map(cf -> {
            List<PartitionHandle> handles = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < verticles.size(); i++) {
                handles.add(verticles.get(i) == null ? null : new PartitionHandle(verticles.get(i), verticles.get(i).openedLog()));
                ids.add(deployed.get(i).result());
            }
            return new TopicInfo(r.name(), r.topicId(), config, handles, ids, placements.subList(from, r.partitions()));
        });
    }

    private PartitionVerticle newReplica(TopicPartition tp, TopicConfig config, Placement placement) {
        PartitionVerticle.Settings settings = new PartitionVerticle.Settings(nodeId, brokerConfig.get(BrokerConfig.LOG_RETENTION_CHECK_INTERVAL_MS),
                brokerConfig.get(BrokerConfig.LOG_SEGMENT_DELETE_DELAY_MS), brokerConfig.get(BrokerConfig.REPLICA_LAG_TIME_MAX_MS));
        return new PartitionVerticle(tp, PartitionDirs.dirOf(logDir, tp), config.logConfig(), time, settings, placement);
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
            topics.forEach((name, t) -> wanted.put(name, IntStream.range(0, t.partitions().size()).boxed().toList()));
        } else {
            wanted.putAll(partitions);
        }
        wanted.forEach((name, ps) -> {
            TopicInfo t = topics.get(name);
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
        TopicInfo t = topics.get(topic);
        if (t == null || partition < 0 || partition >= t.partitions().size()) {
            return Future.failedFuture(new UnknownTopicOrPartitionException(topic + "-" + partition + " does not exist"));
        }
        if (replicas == null) {
            return Future.failedFuture(new NoReassignmentInProgressException("No reassignment of " + topic + "-" + partition));
        }
        if (!replicas.equals(List.of(nodeId))) {
            return Future.failedFuture(new InvalidReplicaAssignmentException("Replicas " + replicas
                    + " are not live brokers; the only one is " + nodeId));
        }
        return Future.succeededFuture();
    }

    /** The running reassignments (none on a broker alone). */
    public Map<TopicPartition, ClusterTopic.Reassignment> reassignments() {
        TopicAuthority a = authority;
        return a == null ? Map.of() : a.reassignments();
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
        TopicAuthority a = authority;
        if (a != null) return a.createPartitions(name, total).compose(v -> awaitTopic(name, x -> x != null && x.partitions().size() >= total));
        if (!busy.add(name)) return Future.failedFuture(new ReassignmentInProgressException("Topic '" + name + "' is being changed."));
        TopicRecord record = new TopicRecord(name, t.topicId(), total, t.config().overrides());
        List<Placement> alone = Collections.nCopies(total, Placement.alone(nodeId));
        return vertx.executeBlocking(() -> {
            store.save(record);
            return null;
        }).compose(v -> deploy(record, t.config(), t.partitions().size(), alone)).map(added -> {
            TopicInfo grown = grow(t, added, alone);
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
        TopicAuthority a = authority;
        if (a != null) {
            Map<String, String> wanted = Map.copyOf(overrides);
            return a.alterTopicConfig(name, wanted).compose(v -> awaitTopic(name, x -> x != null && x.config().overrides().equals(wanted)));
        }
        if (!busy.add(name)) return Future.failedFuture(new ReassignmentInProgressException("Topic '" + name + "' is being changed."));
        TopicRecord record = new TopicRecord(name, t.topicId(), t.partitions().size(), Map.copyOf(overrides));
        return vertx.executeBlocking(() -> {
            store.save(record);
            return null;
        }).compose(v -> Future.all(t.localPartitions().stream().map(h -> h.updateConfig(config.logConfig())).toList())).map(v -> {
            TopicInfo changed = t.with(config, t.placements());
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
                topics.put(t.name(), t.with(config, t.placements()));
                for (PartitionHandle h : t.localPartitions()) applied.add(h.updateConfig(config.logConfig()));
            }
            LOG.info("Dynamic broker configuration is now {} (cluster defaults) and {} (this broker)", d.clusterDefaults(), d.perBroker());
            return Future.all(applied).<Void>mapEmpty();
        });
    }

    /** Deletes a topic: its metadata first, then every partition's files. */
    public Future<Void> deleteTopic(String name) {
        if (closing) return shuttingDown();
        TopicInfo t = topics.get(name);
        TopicAuthority a = authority;
        if (a != null) {
            if (t == null) return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
            return a.deleteTopic(name).compose(v -> awaitTopic(name, x -> x == null)).mapEmpty();
        }
        if (t == null || !busy.add(name)) {
            return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist."));
        }
        return removeLocally(t).andThen(ar -> busy.remove(name));
    }

    /** Forgets a topic and deletes this broker's replicas of it (metadata first, then the files). */
    private Future<Void> removeLocally(TopicInfo t) {
        String name = t.name();
        topics.remove(name);
        return vertx.executeBlocking(() -> {
            store.delete(name);
            return null;
        }).compose(v -> {
            List<Future<Void>> undeployed = new ArrayList<>();
            for (int i = 0; i < t.partitions().size(); i++) {
                if (t.partitions().get(i) == null) continue;
                t.partitions().get(i).markForDeletion();
                undeployed.add(deployer.undeploy(t.deploymentIds().get(i)));
            }
            return Future.all(undeployed).<Void>mapEmpty();
        }).andThen(ar -> {
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

    /** This broker's replica of a partition, if it holds one. */
    public Optional<PartitionHandle> partition(String topic, int partition) {
        TopicInfo t = topics.get(topic);
        return t == null ? Optional.empty() : Optional.ofNullable(t.local(partition));
    }

    /**
     * Why this broker cannot serve a partition it does not hold: NOT_LEADER_OR_FOLLOWER when the partition exists
     * in the cluster (the client refreshes its metadata and finds the leader), UNKNOWN_TOPIC_OR_PARTITION otherwise.
     */
    public ApiException notHere(String topic, int partition) {
        TopicInfo t = topics.get(topic);
        if (t != null && partition >= 0 && partition < t.partitions().size()) {
            return new NotLeaderOrFollowerException("Partition " + topic + "-" + partition
                    + " is led by broker " + t.placements().get(partition).leader() + ", not by broker " + nodeId);
        }
        return new UnknownTopicOrPartitionException("This server does not host this topic-partition.");
    }

    /**
     * Kafka's check of a client's current leader epoch (KIP-320): -1 skips it; an epoch older than the partition's is
     * FENCED_LEADER_EPOCH (the client's metadata is stale), a newer one UNKNOWN_LEADER_EPOCH (this broker's is).
     */
    public Errors checkLeaderEpoch(String topic, int partition, int clientEpoch) {
        TopicInfo t = topics.get(topic);
        if (clientEpoch < 0 || t == null || partition < 0 || partition >= t.placements().size()) return Errors.NONE;
        int current = t.placements().get(partition).leaderEpoch();
        if (clientEpoch < current) return Errors.FENCED_LEADER_EPOCH;
        if (clientEpoch > current) return Errors.UNKNOWN_LEADER_EPOCH;
        return Errors.NONE;
    }

    // ---- the cluster ----

    /** Hands topic decisions to the controller from now on (cluster mode). */
    public void useAuthority(TopicAuthority authority) {
        this.authority = authority;
        topics.values().forEach(this::connect);
    }

    /** Whether topic decisions go to a cluster's controller (false for a broker alone). */
    public boolean clustered() {
        return authority != null;
    }

    /** This broker's node id. */
    public int nodeId() {
        return nodeId;
    }

    /**
     * Applies a cluster image: creates the topics this broker did not know (and opens its replicas of them), grows
     * partition counts, takes new configs and placements, and deletes the topics whose ids are in {@code deleted}.
     * A topic held here and not yet in the image is kept: the controller learns of it when this broker registers.
     * Images are applied in the order they arrive, one at a time.
     */
    public synchronized Future<Void> applyCluster(Map<String, ClusterTopic> image, Set<Uuid> deleted) {
        applying = applying.transform(x -> watched(applyNow(image, deleted), image.size())).andThen(ar -> {
            if (ar.failed()) LOG.warn("Applying the cluster metadata failed", ar.cause());
            for (Waiter w : waiters) {
                TopicInfo t = topics.get(w.topic());
                if (w.done().test(t) && w.promise().tryComplete(t)) waiters.remove(w);
            }
        });
        return applying;
    }

    /**
     * Warns while an image takes longer than {@link Limits#IMAGE_APPLY_WARN_MS} to apply: images apply one at a time,
     * so one that hangs (a replica that does not open or close) keeps every later change, and with it this broker's
     * metadata answers, from taking effect.
     */
    private Future<Void> watched(Future<Void> apply, int topicCount) {
        if (apply.isComplete()) return apply;
        long started = System.nanoTime();
        long timer = vertx.setPeriodic(Limits.IMAGE_APPLY_WARN_MS, id -> LOG.warn("Applying the cluster metadata ({} topic(s)) has taken {} ms so far; "
                + "later metadata waits for it", topicCount, (System.nanoTime() - started) / 1_000_000));
        return apply.andThen(x -> vertx.cancelTimer(timer));
    }

    private Future<Void> applyNow(Map<String, ClusterTopic> image, Set<Uuid> deleted) {
        if (closing) return Future.succeededFuture();
        LOG.debug("Applying cluster metadata of {} topic(s)", image.size());
        List<Future<?>> all = new ArrayList<>();
        for (TopicInfo t : topics.values()) {
            if (deleted.contains(t.topicId()) && !image.containsKey(t.name())) all.add(removeLocally(t));
        }
        for (ClusterTopic ct : image.values()) {
            TopicRecord r = ct.record();
            TopicInfo known = topics.get(r.name());
            TopicConfig config;
            try {
                config = TopicConfig.of(brokerConfig, r.configs());
            } catch (ConfigException e) {
                LOG.warn("Topic {} has an invalid config in the cluster metadata: {}", r.name(), e.getMessage());
                continue;
            }
            if (known != null && !known.topicId().equals(r.topicId())) {
                all.add(removeLocally(known).compose(v -> create(r, config, ct.placements())));
            } else if (known == null) {
                all.add(create(r, config, ct.placements()));
            } else {
                all.add(update(known, r, config, ct.placements(), removable(ct)));
            }
        }
        return Future.join(all).mapEmpty();
    }

    private Future<Void> create(TopicRecord r, TopicConfig config, List<Placement> placements) {
        return vertx.executeBlocking(() -> {
            store.save(r);
            return null;
        }).compose(v -> deploy(r, config, 0, placements)).map(t -> {
            connect(t);
            topics.put(r.name(), t);
            topicListeners.forEach(l -> l.accept(t));
            return null;
        });
    }

    /**
     * The partitions whose local copy this broker may delete: those it was being added to or removed from by a
     * reassignment that has now ended (completed or cancelled). Nothing else deletes a replica: after a
     * whole-cluster restart the controller rebuilds the metadata from the brokers' reports, and a placement that
     * leaves this broker out may only be incomplete (a copy reassigned away while this broker was down stays, unused).
     */
    private Set<Integer> removable(ClusterTopic ct) {
        Map<Integer, ClusterTopic.Reassignment> before = seenReassignments.getOrDefault(ct.record().name(), Map.of());
        seenReassignments.put(ct.record().name(), ct.reassignments());
        Set<Integer> out = new HashSet<>();
        before.forEach((p, ra) -> {
            if (!ct.reassignments().containsKey(p) && (ra.adding().contains(nodeId) || ra.removing().contains(nodeId))) out.add(p);
        });
        return out;
    }

    /** The placements kept on disk by this broker's replicas, read at start (for the report to the controller). */
    private final Map<String, Placement[]> persistedPlacements = new ConcurrentHashMap<>();

    /**
     * The placement this broker last had from the controller for {@code topic}-{@code partition}, as kept on disk
     * when it started (replicas, ISR and leader epoch; the leader unknown), if any.
     */
    public Optional<Placement> persistedPlacement(String topic, int partition) {
        Placement[] kept = persistedPlacements.get(topic);
        return kept == null || partition < 0 || partition >= kept.length ? Optional.empty() : Optional.ofNullable(kept[partition]);
    }

    /** Running reassignments per topic in the last image applied, to tell when one ends ({@link #removable}). */
    private final Map<String, Map<Integer, ClusterTopic.Reassignment>> seenReassignments = new ConcurrentHashMap<>();

    private Future<Void> update(TopicInfo known, TopicRecord r, TopicConfig config, List<Placement> placements, Set<Integer> removable) {
        Future<TopicInfo> grown = Future.succeededFuture(known);
        if (r.partitions() > known.partitions().size()) {
            grown = vertx.executeBlocking(() -> {
                store.save(r);
                return null;
            }).compose(v -> deploy(r, config, known.partitions().size(), placements)).map(added -> {
                connect(added);
                return grow(known, added, placements);
            });
        } else if (!known.config().overrides().equals(r.configs())) {
            grown = vertx.executeBlocking(() -> {
                store.save(r);
                return null;
            }).compose(v -> Future.all(known.localPartitions().stream().map(h -> h.updateConfig(config.logConfig())).toList())).map(v -> known);
        }
        return grown.compose(t -> {
            List<Future<Void>> roles = new ArrayList<>();
            int n = Math.min(t.partitions().size(), placements.size());
            PartitionHandle[] handles = t.partitions().toArray(PartitionHandle[]::new);
            boolean[] opened = {false};
            String[] ids = t.deploymentIds().toArray(String[]::new);
            for (int p = 0; p < n; p++) {
                PartitionHandle h = handles[p];
                Placement pl = placements.get(p);
                boolean mine = pl.replicas().contains(nodeId);
                int at = p;
                if (h == null && mine) {
                    // A reassignment made this broker a replica: it opens the partition and starts following.
                    TopicPartition tp = new TopicPartition(r.name(), p);
                    PartitionVerticle v = newReplica(tp, config, pl);
                    roles.add(deployer.deploy(v).map(id -> {
                        handles[at] = new PartitionHandle(v, v.openedLog());
                        ids[at] = id;
                        opened[0] = true;
                        LOG.info("Broker {} is now a replica of {}", nodeId, tp);
                        return null;
                    }));
                } else if (h != null && !mine && removable.contains(p)) {
                    // Reassigned away (or an addition cancelled): the replica and its files go.
                    h.markForDeletion();
                    roles.add(deployer.undeploy(ids[at]).map(v -> {
                        handles[at] = null;
                        ids[at] = null;
                        LOG.info("Broker {} is no longer a replica of {}-{}; its copy is deleted", nodeId, r.name(), at);
                        return null;
                    }));
                } else if (h != null && !h.placement().equals(pl)) {
                    roles.add(h.applyPlacement(pl));
                }
            }
            return Future.join(roles).transform(x -> {
                if (x.failed()) LOG.warn("Changing the replicas of topic {} failed", r.name(), x.cause());
                TopicInfo next = new TopicInfo(t.name(), t.topicId(), config, Arrays.asList(handles), Arrays.asList(ids), placements);
                topics.put(r.name(), next);
                if (opened[0]) connect(next); // the new replicas' ISR proposals go to the controller too
                topicListeners.forEach(l -> l.accept(next));
                return Future.<Void>succeededFuture();
            });
        });
    }

    private final List<Consumer<TopicInfo>> topicListeners = new CopyOnWriteArrayList<>();

    /** Calls {@code listener} after each cluster image changed a topic (its placements: who leads what). */
    public void onTopicChange(Consumer<TopicInfo> listener) {
        topicListeners.add(listener);
    }

    /** In a cluster, a leader's ISR changes go to the controller. */
    private void connect(TopicInfo t) {
        TopicAuthority a = authority;
        if (a == null) return;
        for (int p = 0; p < t.partitions().size(); p++) {
            PartitionHandle h = t.partitions().get(p);
            if (h == null) continue;
            int partition = p;
            h.useIsrProposals(isr -> a.alterIsr(t.name(), partition, h.placement().leaderEpoch(), isr)
                    .onFailure(e -> LOG.info("ISR change of {}-{} to {} was not taken: {}", t.name(), partition, isr, e.getMessage())));
        }
    }

    private static TopicInfo grow(TopicInfo t, TopicInfo added, List<Placement> placements) {
        List<PartitionHandle> handles = new ArrayList<>(t.partitions());
        handles.addAll(added.partitions());
        List<String> ids = new ArrayList<>(t.deploymentIds());
        ids.addAll(added.deploymentIds());
        return new TopicInfo(t.name(), t.topicId(), t.config(), handles, ids, placements);
    }

    /** Completes with the topic once {@code done} holds for this broker's view of it (the controller's change arrived). */
    private Future<TopicInfo> awaitTopic(String name, Predicate<TopicInfo> done) {
        Promise<TopicInfo> p = Promise.promise();
        Waiter w = new Waiter(name, done, p);
        waiters.add(w);
        if (done.test(topics.get(name)) && p.tryComplete(topics.get(name))) waiters.remove(w);
        long timer = vertx.setTimer(Limits.CLUSTER_CHANGE_TIMEOUT_MS, x -> {
            waiters.remove(w);
            p.tryFail(new TimeoutException("The controller's change of topic '" + name
                    + "' did not reach broker " + nodeId + " within " + Limits.CLUSTER_CHANGE_TIMEOUT_MS + " ms"));
        });
        return p.future().andThen(x -> vertx.cancelTimer(timer));
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
            for (String id : t.deploymentIds()) if (id != null) undeployed.add(deployer.undeploy(id));
        }
        topics.clear();
        return Future.all(undeployed).mapEmpty();
    }
}
