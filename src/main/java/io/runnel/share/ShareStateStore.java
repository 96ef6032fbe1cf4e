package io.runnel.share;

import io.runnel.config.Limits;
import io.runnel.partition.Acks;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.OnContext;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where share-partitions' delivery state is kept: {@code __share_group_state}, compacted and replicated, one
 * {@link ShareSnapshot} record per share-partition (group, topic id, partition) in the partition Kafka's
 * {@code ShareCoordinatorService.partitionFor} picks ({@code abs(hash("group:topicId:partition")) % partitions}).
 *
 * <p>Two roles, as Kafka's share coordinator and its persister:
 * <ul>
 *   <li>The coordinator ({@link #serve}): for the state partitions this broker leads, the latest snapshot of every key
 *       (read once per leadership, by a replay of the partition) and Kafka's rules for the five share state operations
 *       ({@link Op}): a read with a newer leader epoch stores that epoch, so that the previous leader of the data
 *       partition is fenced (FENCED_LEADER_EPOCH); a write from an older state epoch is refused (FENCED_STATE_EPOCH: the
 *       group's offsets were altered meanwhile); a write is merged with what is stored ({@link ShareSnapshot#merge});
 *       initializing (AlterShareGroupOffsets) replaces the state with a new state epoch. Changes apply to the
 *       in-memory copy at once and are appended with acks=all; an append that fails drops the copy, which the next
 *       operation reads again from the log.</li>
 *   <li>The persister ({@link #call}): an operation goes to the broker leading its state partition, this one or
 *       another through {@link Remote} (Kafka's Read/Write/Initialize/Delete/ReadShareGroupStateSummary between
 *       brokers), and is tried again, at most {@link Limits#SHARE_STATE_ATTEMPTS} times with growing pauses, while the
 *       coordinator is moving or unreachable.</li>
 * </ul>
 *
 * <p>Threads: all state belongs to one context (the {@link SharePartitionManager}'s); {@link #serve} hops there,
 * reads and appends hop to the partitions.
 */
public final class ShareStateStore {
    private static final Logger LOG = LoggerFactory.getLogger(ShareStateStore.class);
    static final String TOPIC = InternalTopics.SHARE_GROUP_STATE;

    /** A share state operation on one share-partition (Kafka's inter-broker share state APIs, one partition each). */
    public sealed interface Op {
        ShareSnapshot.Key key();
    }

    /** ReadShareGroupState: the state, for the data partition's leader at {@code leaderEpoch}. */
    public record Read(ShareSnapshot.Key key, int leaderEpoch) implements Op {
    }

    /** ReadShareGroupStateSummary: the state's start offset and epochs, for admin calls. */
    public record Summary(ShareSnapshot.Key key) implements Op {
    }

    /** WriteShareGroupState: {@code state}'s batches, start offset and epochs (its snapshot epoch and timestamps unused). */
    public record Write(ShareSnapshot.Key key, ShareSnapshot state) implements Op {
    }

    /** InitializeShareGroupState: the state starts again at {@code startOffset} with {@code stateEpoch}. */
    public record Initialize(ShareSnapshot.Key key, int stateEpoch, long startOffset) implements Op {
    }

    /** DeleteShareGroupState. */
    public record Delete(ShareSnapshot.Key key) implements Op {
    }

    /** A coordinator's answer: an error, or for reads the state (null when none is stored). */
    public record Answer(Errors error, ShareSnapshot state) {
        public static final Answer DONE = new Answer(Errors.NONE, null);

        public static Answer of(Errors error) {
            return new Answer(error, null);
        }
    }

    /** How this broker asks the share coordinator on another broker (one request per group and operation kind). */
    public interface Remote {
        Future<Answer> send(int node, Op op);
    }

    /** A state partition's keys as loaded at one leader epoch of it. */
    private record Loaded(int leaderEpoch, Future<Map<ShareSnapshot.Key, ShareSnapshot>> states) {
    }

    private final Vertx vertx;
    private final Context context;
    private final TopicRegistry topics;
    private final TopicAdmin admin;
    private final int nodeId;
    private final StateTopic settings;
    private final Remote remote;
    private Future<LocalTopic> topic;
    private final Map<Integer, Loaded> loaded = new HashMap<>();

    /**
     * How {@code __share_group_state} is made: Kafka's {@code share.coordinator.state.topic.num.partitions},
     * {@code .replication.factor}, {@code .min.isr} and {@code .segment.bytes}.
     */
    public record StateTopic(int partitions, int replicationFactor, int minIsr, int segmentBytes) {
    }

    ShareStateStore(Vertx vertx, Context context, TopicRegistry topics, TopicAdmin admin, int nodeId, StateTopic settings, Remote remote) {
        this.vertx = vertx;
        this.context = context;
        this.topics = topics;
        this.admin = admin;
        this.nodeId = nodeId;
        this.settings = settings;
        this.remote = remote;
    }

    int partitionFor(ShareSnapshot.Key key) {
        return Utils.abs(key.coordinatorKey().hashCode()) % settings.partitions();
    }

    // ---- the persister ----

    /** Runs {@code op} at the coordinator of its key, here or on another broker, trying again while it moves. */
    Future<Answer> call(Op op) {
        return attempt(op, 1);
    }

    private Future<Answer> attempt(Op op, int n) {
        boolean noTopic = topics.topic(TOPIC).isEmpty() && (topic == null || topic.failed());
        // Nothing was ever stored: no need to create the topic to say so.
        if (noTopic && (op instanceof Summary || op instanceof Delete)) return Future.succeededFuture(Answer.DONE);
        return topic().compose(t -> {
            int leader = t.leader(partitionFor(op.key()));
            if (leader == nodeId) return here(op);
            if (leader < 0 || remote == null) return Future.succeededFuture(Answer.of(Errors.COORDINATOR_NOT_AVAILABLE));
            return remote.send(leader, op);
        }).recover(e -> Future.succeededFuture(Answer.of(Errors.forException(e)))).compose(a -> {
            if (!retriable(a.error()) || n >= Limits.SHARE_STATE_ATTEMPTS) return Future.succeededFuture(a);
            Promise<Answer> later = Promise.promise();
            vertx.setTimer(Limits.SHARE_STATE_RETRY_BACKOFF_MS << (n - 1), id -> attempt(op, n + 1).onComplete(later));
            return later.future();
        });
    }

    /** Errors of a coordinator moving or out of reach (Kafka's persister retries the same ones). */
    private static boolean retriable(Errors e) {
        return switch (e) {
            case NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, NETWORK_EXCEPTION, REQUEST_TIMED_OUT,
                 NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND -> true;
            default -> false;
        };
    }

    /**
     * The stored states of {@code groupId} on any partition of any topic (a summary: start offset and epochs, no
     * batches), asked of each key's coordinator; fails when one cannot be asked.
     */
    Future<Map<ShareSnapshot.Key, ShareSnapshot>> statesOf(String groupId) {
        List<ShareSnapshot.Key> keys = new ArrayList<>();
        List<Future<Answer>> all = new ArrayList<>();
        for (LocalTopic t : topics.topics()) {
            if (t.name().equals(TOPIC)) continue;
            for (int p = 0; p < t.partitions().size(); p++) {
                ShareSnapshot.Key key = new ShareSnapshot.Key(groupId, t.topicId(), p);
                keys.add(key);
                all.add(call(new Summary(key)));
            }
        }
        return Future.all(all).compose(cf -> {
            Map<ShareSnapshot.Key, ShareSnapshot> out = new HashMap<>();
            for (int i = 0; i < keys.size(); i++) {
                Answer a = all.get(i).result();
                if (a.error() != Errors.NONE) {
                    return Future.failedFuture(a.error().exception("The share state of group " + groupId + " cannot be read: " + a.error().message()));
                }
                if (a.state() != null) out.put(keys.get(i), a.state());
            }
            return Future.succeededFuture(out);
        });
    }

    // ---- the coordinator ----

    /** Runs {@code op} as the coordinator of its key (NOT_COORDINATOR when this broker does not lead its state partition). */
    public Future<Answer> serve(Op op) {
        return OnContext.deliver(OnContext.compose(context, () -> here(op)));
    }

    private Future<Answer> here(Op op) {
        int p = partitionFor(op.key());
        return topic().compose(t -> {
            PartitionHandle h = t.local(p);
            if (h == null || !h.isLeader()) return Future.succeededFuture(Answer.of(Errors.NOT_COORDINATOR));
            return index(p, h).compose(m -> apply(op, p, h, m));
        });
    }

    private Future<Answer> apply(Op op, int p, PartitionHandle h, Map<ShareSnapshot.Key, ShareSnapshot> m) {
        ShareSnapshot.Key key = op.key();
        ShareSnapshot s = m.get(key);
        long now = System.currentTimeMillis();
        if (op instanceof Summary) return Future.succeededFuture(new Answer(Errors.NONE, s));
        if (op instanceof Read r) {
            if (s == null) return Future.succeededFuture(Answer.DONE);
            if (r.leaderEpoch() < s.leaderEpoch()) return Future.succeededFuture(Answer.of(Errors.FENCED_LEADER_EPOCH));
            if (r.leaderEpoch() == s.leaderEpoch()) return Future.succeededFuture(new Answer(Errors.NONE, s));
            // A new leader of the data partition: store its epoch, so the previous leader's writes are refused.
            ShareSnapshot moved = new ShareSnapshot(s.snapshotEpoch() + 1, s.stateEpoch(), r.leaderEpoch(), s.startOffset(),
                    s.deliveryCompleteCount(), s.createTimestamp(), now, s.batches());
            return store(p, h, m, key, moved).map(a -> a.error() == Errors.NONE ? new Answer(Errors.NONE, moved) : a);
        }
        if (op instanceof Write w) {
            ShareSnapshot in = w.state();
            if (s != null && in.stateEpoch() < s.stateEpoch()) return Future.succeededFuture(Answer.of(Errors.FENCED_STATE_EPOCH));
            if (s != null && in.leaderEpoch() < s.leaderEpoch()) return Future.succeededFuture(Answer.of(Errors.FENCED_LEADER_EPOCH));
            ShareSnapshot next;
            if (s == null) {
                next = new ShareSnapshot(0, in.stateEpoch(), in.leaderEpoch(), in.startOffset(), in.deliveryCompleteCount(), now, now,
                        ShareSnapshot.merge(List.of(), in.batches(), in.startOffset()));
            } else {
                long start = in.startOffset() < 0 ? s.startOffset() : in.startOffset();
                next = new ShareSnapshot(s.snapshotEpoch() + 1, Math.max(s.stateEpoch(), in.stateEpoch()), in.leaderEpoch(), start,
                        in.deliveryCompleteCount(), s.createTimestamp(), now, ShareSnapshot.merge(s.batches(), in.batches(), start));
            }
            return store(p, h, m, key, next);
        }
        if (op instanceof Initialize i) {
            if (s != null && i.stateEpoch() <= s.stateEpoch()) return Future.succeededFuture(Answer.of(Errors.FENCED_STATE_EPOCH));
            return store(p, h, m, key, new ShareSnapshot(s == null ? 0 : s.snapshotEpoch() + 1, i.stateEpoch(), -1, i.startOffset(), 0,
                    now, now, List.of()));
        }
        // Delete
        return s == null ? Future.succeededFuture(Answer.DONE) : store(p, h, m, key, null);
    }

    /** Makes {@code value} (null: none) {@code key}'s state here at once and appends it (a tombstone for null), acks=all. */
    private Future<Answer> store(int p, PartitionHandle h, Map<ShareSnapshot.Key, ShareSnapshot> m, ShareSnapshot.Key key, ShareSnapshot value) {
        if (value == null) m.remove(key);
        else m.put(key, value);
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(256 + (value == null ? 0 : value.batches().size() * 24)),
                RecordBatch.MAGIC_VALUE_V2, Compression.NONE, TimestampType.CREATE_TIME, 0L);
        b.append(value == null ? System.currentTimeMillis() : value.writeTimestamp(), ShareSnapshot.encodeKey(key),
                value == null ? null : value.encodeValue());
        // acks=all with the topic's min.insync.replicas, as a producer's acks=all (Kafka's share coordinator writes so):
        // with fewer in-sync replicas the write fails, and the share-partition's client is told so.
        return h.append(b.build().buffer(), Acks.all(minInsyncReplicas(), Limits.OFFSET_COMMIT_TIMEOUT_MS)).map(info -> Answer.DONE).recover(e -> {
            // The copy here may now hold what the log does not: read it again from the log next time.
            loaded.remove(p);
            LOG.debug("Appending the share state of {} to {}-{} failed: {}", key, TOPIC, p, e.toString());
            return Future.succeededFuture(Answer.of(Errors.forException(e)));
        });
    }

    private int minInsyncReplicas() {
        return topics.topic(TOPIC).map(t -> t.config().minInsyncReplicas()).orElse(1);
    }

    private Future<LocalTopic> topic() {
        Optional<LocalTopic> existing = topics.topic(TOPIC);
        if (existing.isPresent()) return Future.succeededFuture(existing.get());
        if (topic == null || topic.failed()) {
            // Compacted and replicated as Kafka's: share.coordinator.state.topic.replication.factor (fewer brokers, fewer)
            // and min.insync.replicas from share.coordinator.state.topic.min.isr, capped by the replicas it gets.
            int rf = admin.clustered() ? settings.replicationFactor() : 1;
            topic = admin.createTopic(TOPIC, settings.partitions(), rf, Map.of("cleanup.policy", "compact",
                            "segment.bytes", Integer.toString(settings.segmentBytes()), "min.insync.replicas", Integer.toString(Math.min(settings.minIsr(), rf))))
                    .recover(e -> e instanceof TopicExistsException && topics.topic(TOPIC).isPresent()
                            ? Future.succeededFuture(topics.topic(TOPIC).get())
                            : Future.failedFuture(new CoordinatorNotAvailableException("The share state topic is being created")));
        }
        return topic;
    }

    /** The latest snapshot of every key of state partition {@code partition}, read once per leader epoch of it. */
    private Future<Map<ShareSnapshot.Key, ShareSnapshot>> index(int partition, PartitionHandle h) {
        int epoch = h.placement().leaderEpoch();
        Loaded l = loaded.get(partition);
        if (l != null && l.leaderEpoch() == epoch && !l.states().failed()) return l.states();
        Map<ShareSnapshot.Key, ShareSnapshot> m = new HashMap<>();
        Future<Map<ShareSnapshot.Key, ShareSnapshot>> f = h.replay(h.logStartOffset(), Limits.GROUP_LOAD_READ_BYTES, batch -> {
            for (Record r : batch) {
                if (!r.hasKey() || !ShareSnapshot.isSnapshotKey(r.key())) continue;
                ShareSnapshot.Key key = ShareSnapshot.decodeKey(r.key());
                if (key == null) continue;
                if (!r.hasValue()) {
                    m.remove(key);
                    continue;
                }
                try {
                    m.put(key, ShareSnapshot.decodeValue(r.value()));
                } catch (IllegalArgumentException e) {
                    LOG.warn("Skipping an unreadable share state record of {} at offset {}: {}", key, r.offset(), e.getMessage());
                }
            }
        }).map(v -> m);
        loaded.put(partition, new Loaded(epoch, f));
        return f;
    }
}
