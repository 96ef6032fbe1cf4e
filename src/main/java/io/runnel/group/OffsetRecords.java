package io.runnel.group;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;

/**
 * The records Runnel writes to {@code __consumer_offsets}, stored as ordinary v2 batches. Kafka's own schemas for
 * this topic live in its group-coordinator module, not in kafka-clients, so Runnel uses its own, documented here.
 * All integers big endian; a string is an int16 length (-1 for null) and UTF-8 bytes.
 *
 * <pre>
 * offset commit   key:   int16 type=1, string group, string topic, int32 partition
 *                 value: int16 version=0, int64 offset, int32 leaderEpoch, string metadata, int64 commitTimestamp
 * group metadata  key:   int16 type=2, string group                        (classic groups)
 *                 value: int16 version=1, string protocolType, int32 generation, string protocol, string leader,
 *                        int32 n, n x (string memberId, string instanceId, string clientId, string clientHost,
 *                        int32 rebalanceTimeoutMs, int32 sessionTimeoutMs, bytes metadata, bytes assignment)
 *                        where bytes is an int32 length and the bytes (version 0 had no members)
 * consumer group  key:   int16 type=3, string group                        (KIP-848 groups)
 *                 value: int16 version=0, int32 groupEpoch, int32 assignmentEpoch, string assignor
 * group member    key:   int16 type=4, string group, string memberId
 *                 value: int16 version=0, string instanceId, string rackId, string clientId, string clientHost,
 *                        int32 memberEpoch, int32 revocationEpoch, int32 rebalanceTimeoutMs, string serverAssignor,
 *                        int32 n, n x string subscribedTopic, then two partition lists (assigned, pending revocation),
 *                        each int32 n, n x (int64 topicId msb, int64 topicId lsb, int32 partition)
 * share group     key:   int16 type=6, string group                        (KIP-932 share groups)
 *                 value: int16 version=0, int32 groupEpoch, int32 assignmentEpoch
 * share member    key:   int16 type=7, string group, string memberId
 *                 value: int16 version=0, string rackId, string clientId, string clientHost, int32 memberEpoch,
 *                        int32 previousEpoch, int32 n, n x string subscribedTopic, then the assigned partitions as
 *                        int32 n, n x (int64 topicId msb, int64 topicId lsb, int32 partition)
 * </pre>
 * Type 5 is not used; a record of a type Runnel does not know is skipped.
 * A record with a null value (a tombstone) deletes what its key names. The latest record per key wins, which is
 * what compaction of this topic will keep.
 */
final class OffsetRecords {
    static final short OFFSET_COMMIT = 1;
    static final short GROUP_METADATA = 2;
    static final short CONSUMER_GROUP = 3;
    static final short CONSUMER_MEMBER = 4;
    static final short SHARE_GROUP = 6;
    static final short SHARE_MEMBER = 7;
    private static final short VALUE_VERSION = 0;

    private static final short GROUP_VALUE_VERSION = 1;

    private OffsetRecords() {
    }

    /** A committed offset. */
    record Committed(long offset, int leaderEpoch, String metadata, long commitTimestamp) {
    }

    /** The stored part of a classic group: its generation and its members with their subscription and assignment. */
    record GroupRecord(String protocolType, int generation, String protocol, String leader, List<MemberRecord> members) {
    }

    /** A classic group member as stored: its metadata for the group's protocol, and its assignment. */
    record MemberRecord(String memberId, String instanceId, String clientId, String clientHost, int rebalanceTimeoutMs, int sessionTimeoutMs,
                        byte[] metadata, byte[] assignment) {
    }

    /** One decoded record: which key, and the value (null for a tombstone). */
    record Entry(short type, String group, String topic, int partition, Committed committed, GroupRecord groupRecord, boolean tombstone,
                 ByteBuffer rawValue, String memberId) {
        Entry(short type, String group, String topic, int partition, Committed committed, GroupRecord groupRecord, boolean tombstone) {
            this(type, group, topic, partition, committed, groupRecord, tombstone, null, null);
        }
    }

    static byte[] consumerGroupKey(String group) {
        ByteBuffer b = ByteBuffer.allocate(2 + size(group));
        b.putShort(CONSUMER_GROUP);
        put(b, group);
        return b.array();
    }

    static byte[] consumerGroupValue(ConsumerGroup g) {
        ByteBuffer b = ByteBuffer.allocate(2 + 4 + 4 + size(g.assignor));
        b.putShort(VALUE_VERSION).putInt(g.groupEpoch).putInt(g.assignmentEpoch);
        put(b, g.assignor);
        return b.array();
    }

    static byte[] memberKey(String group, String memberId) {
        ByteBuffer b = ByteBuffer.allocate(2 + size(group) + size(memberId));
        b.putShort(CONSUMER_MEMBER);
        put(b, group);
        put(b, memberId);
        return b.array();
    }

    static byte[] memberValue(ConsumerGroup.Member m) {
        int size = 2 + size(m.instanceId) + size(m.rackId) + size(m.clientId) + size(m.clientHost) + 12 + size(m.serverAssignor) + 4
                + 8 + 20 * (m.assigned.size() + m.pendingRevocation.size());
        for (String t : m.subscribedTopics) size += size(t);
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putShort(VALUE_VERSION);
        put(b, m.instanceId);
        put(b, m.rackId);
        put(b, m.clientId);
        put(b, m.clientHost);
        b.putInt(m.memberEpoch).putInt(m.revocationEpoch).putInt(m.rebalanceTimeoutMs);
        put(b, m.serverAssignor);
        putTopics(b, m.subscribedTopics);
        putPartitions(b, m.assigned);
        putPartitions(b, m.pendingRevocation);
        return b.array();
    }

    /** Fills a member from its stored value. */
    static void readMember(ByteBuffer v, ConsumerGroup.Member m) {
        v.getShort();
        m.instanceId = get(v);
        m.rackId = get(v);
        m.clientId = get(v);
        m.clientHost = get(v);
        m.memberEpoch = v.getInt();
        m.revocationEpoch = v.getInt();
        m.rebalanceTimeoutMs = v.getInt();
        m.serverAssignor = get(v);
        m.subscribedTopics = getTopics(v);
        getPartitions(v, m.assigned);
        getPartitions(v, m.pendingRevocation);
    }

    static byte[] shareGroupKey(String group) {
        ByteBuffer b = ByteBuffer.allocate(2 + size(group));
        b.putShort(SHARE_GROUP);
        put(b, group);
        return b.array();
    }

    static byte[] shareGroupValue(ShareGroupShard.ShareGroup g) {
        return ByteBuffer.allocate(2 + 8).putShort(VALUE_VERSION).putInt(g.groupEpoch).putInt(g.assignmentEpoch).array();
    }

    static void readShareGroup(ByteBuffer v, ShareGroupShard.ShareGroup g) {
        v.getShort();
        g.groupEpoch = v.getInt();
        g.assignmentEpoch = v.getInt();
    }

    static byte[] shareMemberKey(String group, String memberId) {
        ByteBuffer b = ByteBuffer.allocate(2 + size(group) + size(memberId));
        b.putShort(SHARE_MEMBER);
        put(b, group);
        put(b, memberId);
        return b.array();
    }

    static byte[] shareMemberValue(ShareGroupShard.Member m) {
        int size = 2 + size(m.rackId) + size(m.clientId) + size(m.clientHost) + 8 + 4 + 4 + 20 * m.assigned.size();
        for (String t : m.subscribedTopics) size += size(t);
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putShort(VALUE_VERSION);
        put(b, m.rackId);
        put(b, m.clientId);
        put(b, m.clientHost);
        b.putInt(m.memberEpoch).putInt(m.previousEpoch);
        putTopics(b, m.subscribedTopics);
        putPartitions(b, m.assigned);
        return b.array();
    }

    static void readShareMember(ByteBuffer v, ShareGroupShard.Member m) {
        v.getShort();
        m.rackId = get(v);
        m.clientId = get(v);
        m.clientHost = get(v);
        m.memberEpoch = v.getInt();
        m.previousEpoch = v.getInt();
        m.subscribedTopics = getTopics(v);
        Set<ConsumerGroup.TopicIdPartition> assigned = new java.util.HashSet<>();
        getPartitions(v, assigned);
        m.assigned = Set.copyOf(assigned);
    }

    /** Fills a group's epochs and assignor from its stored value. */
    static void readConsumerGroup(ByteBuffer v, ConsumerGroup g) {
        v.getShort();
        g.groupEpoch = v.getInt();
        g.assignmentEpoch = v.getInt();
        g.assignor = get(v);
    }

    static byte[] offsetKey(String group, String topic, int partition) {
        ByteBuffer b = ByteBuffer.allocate(2 + size(group) + size(topic) + 4);
        b.putShort(OFFSET_COMMIT);
        put(b, group);
        put(b, topic);
        return b.putInt(partition).array();
    }

    static byte[] offsetValue(Committed c) {
        ByteBuffer b = ByteBuffer.allocate(2 + 8 + 4 + size(c.metadata()) + 8);
        b.putShort(VALUE_VERSION).putLong(c.offset()).putInt(c.leaderEpoch());
        put(b, c.metadata());
        return b.putLong(c.commitTimestamp()).array();
    }

    static byte[] groupKey(String group) {
        ByteBuffer b = ByteBuffer.allocate(2 + size(group));
        b.putShort(GROUP_METADATA);
        put(b, group);
        return b.array();
    }

    static byte[] groupValue(GroupRecord g) {
        int size = 2 + size(g.protocolType()) + 4 + size(g.protocol()) + size(g.leader()) + 4;
        for (MemberRecord m : g.members()) {
            size += size(m.memberId()) + size(m.instanceId()) + size(m.clientId()) + size(m.clientHost()) + 8 + 8 + m.metadata().length
                    + m.assignment().length;
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putShort(GROUP_VALUE_VERSION);
        put(b, g.protocolType());
        b.putInt(g.generation());
        put(b, g.protocol());
        put(b, g.leader());
        b.putInt(g.members().size());
        for (MemberRecord m : g.members()) {
            put(b, m.memberId());
            put(b, m.instanceId());
            put(b, m.clientId());
            put(b, m.clientHost());
            b.putInt(m.rebalanceTimeoutMs()).putInt(m.sessionTimeoutMs());
            b.putInt(m.metadata().length).put(m.metadata());
            b.putInt(m.assignment().length).put(m.assignment());
        }
        return b.array();
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.getInt()];
        b.get(out);
        return out;
    }

    /** One key/value pair to write; a null value is a tombstone. */
    record KeyValue(byte[] key, byte[] value) {
    }

    /** A v2 batch (offsets assigned by the log) holding {@code records}. */
    static ByteBuffer batch(List<KeyValue> records, long nowMs) {
        int size = 64;
        for (KeyValue kv : records) size += kv.key().length + (kv.value() == null ? 0 : kv.value().length) + 32;
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(size), RecordBatch.MAGIC_VALUE_V2, Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
        for (KeyValue kv : records) b.append(nowMs, kv.key(), kv.value());
        return b.build().buffer();
    }

    /**
     * A transactional batch of {@code producerId} and {@code epoch} holding {@code records} (TxnOffsetCommit): a
     * coordinator's write in the producer's transaction, which its markers end. Its sequence number is 0, as Kafka's,
     * and not checked ({@code PartitionHandle#appendForCoordinator}).
     */
    static ByteBuffer transactionalBatch(List<KeyValue> records, long nowMs, long producerId, short epoch) {
        SimpleRecord[] simple = records.stream().map(kv -> new SimpleRecord(nowMs, kv.key(), kv.value())).toArray(SimpleRecord[]::new);
        return MemoryRecords.withTransactionalRecords(Compression.NONE, producerId, epoch, 0, simple).buffer();
    }

    /** Decodes one record of the topic; returns null for a record of a type Runnel does not know (skipped). */
    static Entry decode(Record r) {
        ByteBuffer k = r.key();
        if (k == null || k.remaining() < 2) return null;
        short type = k.getShort();
        ByteBuffer v = r.value();
        if (type == OFFSET_COMMIT) {
            String group = get(k);
            String topic = get(k);
            int partition = k.getInt();
            if (v == null) return new Entry(type, group, topic, partition, null, null, true);
            v.getShort();
            Committed c = new Committed(v.getLong(), v.getInt(), get(v), v.getLong());
            return new Entry(type, group, topic, partition, c, null, false);
        }
        if (type == GROUP_METADATA) {
            String group = get(k);
            if (v == null) return new Entry(type, group, null, -1, null, null, true);
            short version = v.getShort();
            String protocolType = get(v);
            int generation = v.getInt();
            String protocol = get(v);
            String leader = get(v);
            List<MemberRecord> members = new ArrayList<>();
            if (version >= 1) {
                int n = v.getInt();
                for (int i = 0; i < n; i++) {
                    members.add(new MemberRecord(get(v), get(v), get(v), get(v), v.getInt(), v.getInt(), bytes(v), bytes(v)));
                }
            }
            return new Entry(type, group, null, -1, null, new GroupRecord(protocolType, generation, protocol, leader, members), false);
        }
        if (type == CONSUMER_GROUP || type == SHARE_GROUP) {
            String group = get(k);
            return new Entry(type, group, null, -1, null, null, v == null, v, null);
        }
        if (type == CONSUMER_MEMBER || type == SHARE_MEMBER) {
            String group = get(k);
            String member = get(k);
            return new Entry(type, group, null, -1, null, null, v == null, v, member);
        }
        return null;
    }

    /** A member's subscribed topics: their count, then each name. */
    private static void putTopics(ByteBuffer b, List<String> topics) {
        b.putInt(topics.size());
        for (String t : topics) put(b, t);
    }

    private static List<String> getTopics(ByteBuffer v) {
        int n = v.getInt();
        List<String> topics = new ArrayList<>(n);
        for (int i = 0; i < n; i++) topics.add(get(v));
        return List.copyOf(topics);
    }

    /** A set of partitions: the count, then each topic id (two longs) and partition, 20 bytes apiece. */
    private static void putPartitions(ByteBuffer b, Set<ConsumerGroup.TopicIdPartition> partitions) {
        b.putInt(partitions.size());
        for (ConsumerGroup.TopicIdPartition tp : partitions) {
            b.putLong(tp.topicId().getMostSignificantBits()).putLong(tp.topicId().getLeastSignificantBits()).putInt(tp.partition());
        }
    }

    private static void getPartitions(ByteBuffer v, Set<ConsumerGroup.TopicIdPartition> into) {
        int k = v.getInt();
        for (int i = 0; i < k; i++) into.add(new ConsumerGroup.TopicIdPartition(new Uuid(v.getLong(), v.getLong()), v.getInt()));
    }

    private static int size(String s) {
        return 2 + (s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length);
    }

    private static void put(ByteBuffer b, String s) {
        if (s == null) {
            b.putShort((short) -1);
            return;
        }
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putShort((short) bytes.length).put(bytes);
    }

    private static String get(ByteBuffer b) {
        short n = b.getShort();
        if (n < 0) return null;
        byte[] bytes = new byte[n];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
