package io.runnel.group;

import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.group.OffsetRecords.Committed;
import io.runnel.partition.Deployer;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LeaderShards;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.OnContext;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.runnel.partition.TxnVerification;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.message.ConsumerGroupDescribeResponseData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.message.ShareGroupDescribeResponseData;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ShareGroupHeartbeatResponseData;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.message.SyncGroupResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The group coordinator of this broker: consumer groups and their committed offsets, kept in the internal topic
 * {@code __consumer_offsets}. A group belongs to the partition {@code abs(hash(groupId)) % partitions}, as in Kafka,
 * and each partition has a {@link GroupShard} on its own event loop. The topic is created when the first group
 * appears (FindCoordinator), or loaded at start when it exists.
 */
public final class GroupCoordinator {
    public static final String OFFSETS_TOPIC = InternalTopics.CONSUMER_OFFSETS;
    private static final Logger LOG = LoggerFactory.getLogger(GroupCoordinator.class);

    private final Vertx vertx;
    private final TopicRegistry topics;
    private final TopicAdmin admin;
    private final GroupSettings settings;
    private final Time time;
    private final LeaderShards<GroupShard> shards;
    private Future<Void> ready;
    private long retentionTimer = -1;
    /** Groups' configuration overrides, which every broker holds. */
    private final GroupConfigStore configs;

    /** Topics as the consumer protocol sees them, straight from the broker's topic registry. */
    private final TopicLookup topicLookup = new TopicLookup() {
        @Override
        public Optional<ConsumerGroup.TopicMeta> byName(String name) {
            return topics.topic(name).map(GroupCoordinator::meta);
        }

        @Override
        public Optional<ConsumerGroup.TopicMeta> byId(Uuid id) {
            return topics.topicById(id).map(GroupCoordinator::meta);
        }
    };

    public GroupCoordinator(Vertx vertx, Deployer deployer, TopicRegistry topics, TopicAdmin admin, BrokerConfig config, Time time,
                            GroupConfigStore configs) {
        this.vertx = vertx;
        this.configs = configs;
        this.topics = topics;
        this.admin = admin;
        this.settings = GroupSettings.from(config);
        this.time = time;
        this.shards = new LeaderShards<>(vertx, deployer, OFFSETS_TOPIC, handle -> new GroupShard(handle, settings, time, topicLookup, configs::overrides));
    }

    /** Loads the groups when {@code __consumer_offsets} exists already; otherwise it is created on first use. */
    public synchronized Future<Void> start() {
        if (topics.topic(OFFSETS_TOPIC).isPresent()) return ensureReady();
        return Future.succeededFuture();
    }

    /**
     * Creates {@code __consumer_offsets} if needed and deploys the shards, once; completes on the caller's context
     * (the start is one future for all callers, and belongs to the context of whoever asked first).
     */
    public Future<Void> ensureReady() {
        return OnContext.deliver(started());
    }

    private synchronized Future<Void> started() {
        if (ready != null) return ready;
        // Compacted, as Kafka's: only the latest record per key stays (offsets.topic.segment.bytes is 100 MiB there too).
        // Replicated three ways in a cluster (Kafka's offsets.topic.replication.factor; fewer when fewer brokers live).
        ready = admin.createTopic(OFFSETS_TOPIC, settings.offsetsPartitions(), admin.clustered() ? 3 : 1,
                        Map.of("cleanup.policy", "compact", "segment.bytes", Integer.toString(settings.offsetsSegmentBytes())))
                .recover(e -> e instanceof TopicExistsException && topics.topic(OFFSETS_TOPIC).isPresent()
                        ? Future.succeededFuture(topics.topic(OFFSETS_TOPIC).get())
                        : Future.failedFuture(e instanceof TopicExistsException // created by another broker, not here yet: retry
                        ? new CoordinatorNotAvailableException("The group coordinator is starting") : e))
                .compose(this::deployShards)
                .onFailure(e -> {
                    synchronized (this) {
                        ready = null;
                    }
                    LOG.error("The group coordinator could not start", e);
                });
        return ready;
    }

    private static ConsumerGroup.TopicMeta meta(LocalTopic t) {
        return new ConsumerGroup.TopicMeta(t.topicId(), t.name(), t.partitions().size());
    }

    /**
     * Runs a shard for each {@code __consumer_offsets} partition this broker leads (all of them on a broker alone).
     * In a cluster the set follows leadership: when this broker takes over a partition, its shard starts and rebuilds
     * the groups from the log (replicated, so it holds every acknowledged commit); when it stops leading, the shard
     * stops and clients find the new coordinator (NOT_COORDINATOR, then FindCoordinator).
     */
    private Future<Void> deployShards(LocalTopic topic) {
        return shards.follow(topic, topics).map(v -> {
            retentionTimer = vertx.setPeriodic(Limits.OFFSETS_RETENTION_CHECK_INTERVAL_MS, id -> shards.all()
                    .forEach(s -> onShard(s, GroupShard::expireOffsets)));
            return null;
        });
    }

    public static boolean isInternal(String topic) {
        return OFFSETS_TOPIC.equals(topic);
    }

    /** The {@code __consumer_offsets} partition of {@code groupId} (AddOffsetsToTxn adds it to a transaction). */
    public int partitionFor(String groupId) {
        return Utils.abs(groupId.hashCode()) % settings.offsetsPartitions();
    }

    /** Runs {@code call} on the shard of {@code groupId}, creating the coordinator's topic first if needed. */
    <T> Future<T> onGroup(String groupId, Function<GroupShard, Future<T>> call) {
        return OnContext.deliver(ensureReady().compose(v -> {
            return shards.serving(partitionFor(groupId), "group " + groupId).compose(shard -> onShard(shard, call));
        }));
    }

    /**
     * The broker that coordinates {@code groupId}: the leader of its {@code __consumer_offsets} partition (this
     * broker when the topic does not exist yet: the first FindCoordinator creates it), or -1 while that partition
     * has no leader.
     */
    public int coordinatorNode(String groupId) {
        return LeaderShards.coordinatorNode(topics, OFFSETS_TOPIC, partitionFor(groupId));
    }

    private static <T> Future<T> onShard(GroupShard shard, Function<GroupShard, Future<T>> call) {
        return OnContext.compose(shard.context(), () -> call.apply(shard));
    }

    /**
     * Whether no group can exist yet: {@code __consumer_offsets} was never created. Reading groups (listing,
     * describing, fetching offsets, the metrics' lag) does not create it, as Kafka's ListGroups and DescribeGroups do
     * not; the first FindCoordinator, join or commit does.
     */
    private boolean noGroupsYet() {
        synchronized (this) {
            if (ready != null) return false;
        }
        return topics.topic(OFFSETS_TOPIC).isEmpty();
    }

    /** {@link #onGroup} for a read: {@code none} without creating the coordinator's topic when no group exists. */
    private <T> Future<T> readGroup(String groupId, Function<GroupShard, Future<T>> call, T none) {
        return noGroupsYet() ? Future.succeededFuture(none) : onGroup(groupId, call);
    }

    /** Runs {@code call} on every shard and gathers the results in shard order (none while no group exists). */
    <T> Future<List<T>> onAllShards(Function<GroupShard, Future<T>> call) {
        if (noGroupsYet()) return Future.succeededFuture(List.of());
        return OnContext.deliver(ensureReady().compose(v -> {
            List<Future<T>> all = new ArrayList<>();
            for (GroupShard s : shards.all()) all.add(onShard(s, call));
            return Future.all(all).map(cf -> all.stream().map(Future::result).toList());
        }));
    }

    public int offsetMetadataMaxBytes() {
        return settings.offsetMetadataMaxBytes();
    }

    // ---- the classic protocol ----

    public Future<JoinGroupResponseData> joinGroup(JoinGroupRequestData req, short version, String clientId, String clientHost) {
        return onGroup(req.groupId(), s -> s.join(req, version, clientId, clientHost));
    }

    public Future<SyncGroupResponseData> syncGroup(SyncGroupRequestData req) {
        return onGroup(req.groupId(), s -> s.sync(req));
    }

    public Future<Errors> heartbeat(String groupId, String memberId, int generation) {
        return onGroup(groupId, s -> Future.succeededFuture(s.heartbeat(groupId, memberId, generation)));
    }

    public Future<Errors> leaveGroup(String groupId, String memberId, String groupInstanceId) {
        return onGroup(groupId, s -> Future.succeededFuture(s.leave(groupId, memberId, groupInstanceId)));
    }

    // ---- the consumer protocol (KIP-848) ----

    public Future<ConsumerGroupHeartbeatResponseData> consumerGroupHeartbeat(
            ConsumerGroupHeartbeatRequestData req, String clientId, String clientHost) {
        return onGroup(req.groupId(), s -> s.consumerHeartbeat(req, clientId, clientHost));
    }

    public Future<ConsumerGroupDescribeResponseData.DescribedGroup> consumerGroupDescribe(String groupId) {
        return readGroup(groupId, s -> Future.succeededFuture(s.consumerGroupDescribe(groupId)), ConsumerProtocolShard.notFound(groupId));
    }

    // ---- share groups (KIP-932) ----

    public Future<ShareGroupHeartbeatResponseData> shareGroupHeartbeat(ShareGroupHeartbeatRequestData req, String clientId, String clientHost) {
        return onGroup(req.groupId(), s -> s.shareHeartbeat(req, clientId, clientHost));
    }

    public Future<ShareGroupDescribeResponseData.DescribedGroup> shareGroupDescribe(String groupId) {
        return readGroup(groupId, s -> Future.succeededFuture(s.shareGroupDescribe(groupId)),
                new ShareGroupDescribeResponseData.DescribedGroup().setGroupId(groupId).setErrorCode(Errors.GROUP_ID_NOT_FOUND.code())
                        .setErrorMessage("Group " + groupId + " not found."));
    }

    /** See GroupShard#shareOffsetsCheck; fails with NOT_COORDINATOR when another broker coordinates the group. */
    public Future<Errors> shareOffsetsCheck(String groupId, ShareOffsetsOp op) {
        return onGroup(groupId, s -> s.shareOffsetsCheck(groupId, op));
    }

    /**
     * A group's configuration: every key with its value (IncrementalAlterConfigs overrides, else the broker's). Any
     * broker knows it (the overrides are cluster metadata, as in Kafka).
     */
    public Map<String, String> groupConfig(String groupId) {
        return GroupConfig.effective(configs.overrides(groupId), settings);
    }

    /** A group's configuration overrides. */
    public Map<String, String> groupConfigOverrides(String groupId) {
        return configs.overrides(groupId);
    }

    /**
     * Makes {@code change} of a group's configuration overrides its overrides, each checked first
     * (InvalidConfigurationException), atomically with other brokers' changes; on a worker.
     */
    public Future<Void> alterGroupConfig(String groupId, UnaryOperator<Map<String, String>> change) {
        return OnContext.deliver(vertx.executeBlocking(() -> {
            configs.change(groupId, current -> {
                Map<String, String> next = change.apply(current);
                next.forEach(GroupConfig::validate);
                GroupConfig.validateTogether(GroupConfig.effective(next, settings));
                return next;
            });
            return null;
        }, false));
    }

    // ---- offsets ----

    /** A commit of one group: the member check, then the offsets that passed their own checks. */
    public Future<Errors> commitOffsets(String groupId, int generation, String memberId, Map<TopicPartition, CommittedOffset> commits) {
        return onGroup(groupId, s -> {
            Errors e = s.validateCommit(groupId, generation, memberId);
            if (e != Errors.NONE) return Future.succeededFuture(e);
            return s.commit(groupId, stored(commits)).map(v -> Errors.NONE);
        });
    }

    /**
     * A commit inside a producer's transaction (TxnOffsetCommit): the member check as for any commit (skipped for a
     * producer without group membership, generation -1), then the offsets, which take effect with the transaction's
     * COMMIT marker on the group's partition; {@code verification} is the transaction check's guard on that partition
     * (see {@link TxnVerification}).
     */
    public Future<Errors> commitOffsetsInTransaction(String groupId, long producerId, short producerEpoch, int generation, String memberId,
                                                     Map<TopicPartition, CommittedOffset> commits, TxnVerification verification) {
        return onGroup(groupId, s -> {
            Errors e = s.validateCommit(groupId, generation, memberId);
            if (e != Errors.NONE) return Future.succeededFuture(e);
            return s.commitInTransaction(groupId, producerId, producerEpoch, stored(commits), verification).map(v -> Errors.NONE);
        });
    }

    /** The offsets as stored, stamped with the time of the commit. */
    private Map<TopicPartition, Committed> stored(Map<TopicPartition, CommittedOffset> commits) {
        Map<TopicPartition, Committed> stored = new LinkedHashMap<>();
        long now = time.milliseconds();
        commits.forEach((tp, c) -> stored.put(tp, new Committed(c.offset(), c.leaderEpoch(), c.metadata(), now)));
        return stored;
    }

    /** The group's partitions whose offsets were committed in a transaction that has not ended yet. */
    public Future<Set<TopicPartition>> unstableOffsets(String groupId) {
        return readGroup(groupId, s -> Future.succeededFuture(s.unstableOffsets(groupId)), Set.of());
    }

    /** The group's committed offsets (all of them). */
    public Future<Map<TopicPartition, CommittedOffset>> fetchOffsets(String groupId) {
        return readGroup(groupId, s -> {
            Map<TopicPartition, CommittedOffset> out = new LinkedHashMap<>();
            s.committed(groupId).forEach((tp, c) -> out.put(tp, new CommittedOffset(c.offset(), c.leaderEpoch(), c.metadata())));
            return Future.succeededFuture(out);
        }, Map.of());
    }

    /** Removes expired offsets of groups without members now (also done every 10 minutes). */
    public Future<Void> expireOffsets() {
        return onAllShards(GroupShard::expireOffsets).mapEmpty();
    }

    // ---- administration ----

    public Future<List<GroupOverview>> listGroups() {
        return onAllShards(s -> Future.succeededFuture(s.list())).map(lists -> lists.stream().flatMap(List::stream).toList());
    }

    /** The group's description, or null when it does not exist. */
    public Future<GroupDescription> describeGroup(String groupId) {
        return readGroup(groupId, s -> Future.succeededFuture(s.describe(groupId)), null);
    }

    public Future<Errors> deleteGroup(String groupId) {
        return onGroup(groupId, s -> s.deleteGroup(groupId));
    }

    public Future<Map<TopicPartition, Errors>> deleteOffsets(String groupId, List<TopicPartition> partitions) {
        return onGroup(groupId, s -> s.deleteOffsetsOf(groupId, partitions));
    }

    public Future<Void> stop() {
        if (retentionTimer >= 0) vertx.cancelTimer(retentionTimer);
        return shards.stop();
    }
}
