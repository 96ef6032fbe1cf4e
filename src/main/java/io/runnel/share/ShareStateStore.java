package io.runnel.share;

import io.runnel.config.Limits;
import io.runnel.partition.Acks;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Future;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where share-partitions' delivery state is kept: {@code __share_group_state}, compacted and replicated as Kafka's
 * share coordinator keeps it, one {@link ShareSnapshot} record per share-partition (group, topic id, partition) in the
 * partition Kafka's {@code ShareCoordinatorService.partitionFor} picks ({@code abs(hash("group:topicId:partition")) %
 * partitions}). The latest snapshot of every key of a state partition is read once, when this broker first needs it
 * (a replay of the partition), and kept up to date with each write.
 *
 * <p>A state partition this broker does not lead (in a cluster) cannot be written here yet: the share-partition's
 * state then lives in memory only, and {@link #durable} says so.
 *
 * <p>Threads: one caller context (the {@link SharePartitionManager}'s); reads and appends hop to the partitions.
 */
final class ShareStateStore {
    private static final Logger LOG = LoggerFactory.getLogger(ShareStateStore.class);
    static final String TOPIC = InternalTopics.SHARE_GROUP_STATE;

    private final TopicRegistry topics;
    private final TopicAdmin admin;
    private final int partitions;
    private final int segmentBytes;
    private Future<LocalTopic> topic;
    /** Per state partition, the latest snapshot of each key (loaded once). */
    private final Map<Integer, Future<Map<ShareSnapshot.Key, ShareSnapshot>>> loaded = new HashMap<>();
    private boolean warnedRemote;

    ShareStateStore(TopicRegistry topics, TopicAdmin admin, int partitions, int segmentBytes) {
        this.topics = topics;
        this.admin = admin;
        this.partitions = partitions;
        this.segmentBytes = segmentBytes;
    }

    int partitionFor(ShareSnapshot.Key key) {
        return Utils.abs(key.coordinatorKey().hashCode()) % partitions;
    }

    /** The stored snapshot of {@code key}: empty when there is none; null inside when it cannot be read here. */
    Future<Optional<ShareSnapshot>> read(ShareSnapshot.Key key) {
        return local(key).compose(h -> h == null ? Future.succeededFuture(Optional.<ShareSnapshot>empty())
                : index(partitionFor(key), h).map(m -> Optional.ofNullable(m.get(key))));
    }

    /** Whether {@code key}'s state is written to a partition this broker leads. */
    Future<Boolean> durable(ShareSnapshot.Key key) {
        return local(key).map(h -> h != null);
    }

    /** Stores {@code snapshot} as {@code key}'s state (acks=all); completes at once when the state cannot be stored here. */
    Future<Void> write(ShareSnapshot.Key key, ShareSnapshot snapshot) {
        return local(key).compose(h -> {
            if (h == null) return Future.succeededFuture();
            int p = partitionFor(key);
            return index(p, h).compose(m -> {
                MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(256 + snapshot.batches().size() * 24), RecordBatch.MAGIC_VALUE_V2,
                        Compression.NONE, TimestampType.CREATE_TIME, 0L);
                b.append(snapshot.writeTimestamp(), ShareSnapshot.encodeKey(key), snapshot.encodeValue());
                return h.append(b.build().buffer(), Acks.all(1, Limits.OFFSET_COMMIT_TIMEOUT_MS)).map(info -> {
                    m.put(key, snapshot);
                    return (Void) null;
                });
            });
        });
    }

    /** Deletes {@code key}'s state (a tombstone); completes at once when it cannot be stored here. */
    Future<Void> delete(ShareSnapshot.Key key) {
        return local(key).compose(h -> {
            if (h == null) return Future.succeededFuture();
            return index(partitionFor(key), h).compose(m -> {
                MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(256), RecordBatch.MAGIC_VALUE_V2, Compression.NONE,
                        TimestampType.CREATE_TIME, 0L);
                b.append(System.currentTimeMillis(), ShareSnapshot.encodeKey(key), null);
                return h.append(b.build().buffer(), Acks.all(1, Limits.OFFSET_COMMIT_TIMEOUT_MS)).map(info -> {
                    m.remove(key);
                    return (Void) null;
                });
            });
        });
    }

    /** The stored states of {@code groupId} in the state partitions this broker leads. */
    Future<Map<ShareSnapshot.Key, ShareSnapshot>> statesOf(String groupId) {
        Optional<LocalTopic> t = topics.topic(TOPIC);
        if (t.isEmpty()) return Future.succeededFuture(Map.of());
        List<Future<Map<ShareSnapshot.Key, ShareSnapshot>>> all = new ArrayList<>();
        for (int p = 0; p < t.get().partitions().size(); p++) {
            PartitionHandle h = t.get().local(p);
            if (h != null && h.isLeader()) all.add(index(p, h));
        }
        return Future.all(all).map(cf -> {
            Map<ShareSnapshot.Key, ShareSnapshot> out = new HashMap<>();
            for (Future<Map<ShareSnapshot.Key, ShareSnapshot>> f : all) f.result().forEach((k, v) -> {
                if (k.groupId().equals(groupId)) out.put(k, v);
            });
            return out;
        });
    }

    /** The state partition's handle when this broker leads it, else null (the topic is created on first use). */
    private Future<PartitionHandle> local(ShareSnapshot.Key key) {
        return topic().map(t -> {
            PartitionHandle h = t.local(partitionFor(key));
            if (h != null && h.isLeader()) return h;
            if (!warnedRemote) {
                warnedRemote = true;
                LOG.warn("A share-partition's state belongs to a {} partition another broker leads: it is kept in memory only on this broker", TOPIC);
            }
            return null;
        });
    }

    private Future<LocalTopic> topic() {
        Optional<LocalTopic> existing = topics.topic(TOPIC);
        if (existing.isPresent()) return Future.succeededFuture(existing.get());
        if (topic == null || topic.failed()) {
            // Compacted and replicated as Kafka's (share.coordinator.state.topic.replication.factor 3; fewer brokers, fewer).
            topic = admin.createTopic(TOPIC, partitions, admin.clustered() ? 3 : 1,
                            Map.of("cleanup.policy", "compact", "segment.bytes", Integer.toString(segmentBytes)))
                    .recover(e -> e instanceof TopicExistsException && topics.topic(TOPIC).isPresent()
                            ? Future.succeededFuture(topics.topic(TOPIC).get())
                            : Future.failedFuture(new CoordinatorNotAvailableException("The share state topic is being created")));
        }
        return topic;
    }

    private Future<Map<ShareSnapshot.Key, ShareSnapshot>> index(int partition, PartitionHandle h) {
        Future<Map<ShareSnapshot.Key, ShareSnapshot>> f = loaded.get(partition);
        if (f != null && !f.failed()) return f;
        Map<ShareSnapshot.Key, ShareSnapshot> m = new HashMap<>();
        f = h.replay(h.logStartOffset(), Limits.GROUP_LOAD_READ_BYTES, batch -> {
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
        loaded.put(partition, f);
        return f;
    }
}
