package io.runnel.group;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * The records Runnel writes to {@code __consumer_offsets}, stored as ordinary v2 batches. Kafka's own schemas for
 * this topic live in its group-coordinator module, not in kafka-clients, so Runnel uses its own, documented here.
 * All integers big endian; a string is an int16 length (-1 for null) and UTF-8 bytes.
 *
 * <pre>
 * offset commit   key:   int16 type=1, string group, string topic, int32 partition
 *                 value: int16 version=0, int64 offset, int32 leaderEpoch, string metadata, int64 commitTimestamp
 * group metadata  key:   int16 type=2, string group
 *                 value: int16 version=0, string protocolType, int32 generation, string protocol, string leader
 * </pre>
 * A record with a null value (a tombstone) deletes what its key names. The latest record per key wins, which is
 * what compaction of this topic will keep.
 */
final class OffsetRecords {
    static final short OFFSET_COMMIT = 1;
    static final short GROUP_METADATA = 2;
    private static final short VALUE_VERSION = 0;

    private OffsetRecords() {
    }

    /** A committed offset. */
    record Committed(long offset, int leaderEpoch, String metadata, long commitTimestamp) {
    }

    /** The stored part of a classic group: what survives a restart (members do not; they rejoin). */
    record GroupRecord(String protocolType, int generation, String protocol, String leader) {
    }

    /** One decoded record: which key, and the value (null for a tombstone). */
    record Entry(short type, String group, String topic, int partition, Committed committed, GroupRecord groupRecord, boolean tombstone) {
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
        ByteBuffer b = ByteBuffer.allocate(2 + size(g.protocolType()) + 4 + size(g.protocol()) + size(g.leader()));
        b.putShort(VALUE_VERSION);
        put(b, g.protocolType());
        b.putInt(g.generation());
        put(b, g.protocol());
        put(b, g.leader());
        return b.array();
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
            v.getShort();
            GroupRecord g = new GroupRecord(get(v), v.getInt(), get(v), get(v));
            return new Entry(type, group, null, -1, null, g, false);
        }
        return null;
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
