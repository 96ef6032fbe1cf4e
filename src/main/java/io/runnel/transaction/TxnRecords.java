package io.runnel.transaction;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;

/**
 * The records Runnel writes to {@code __transaction_state}, as ordinary v2 batches, one per transactional id (Kafka's
 * schemas for this topic live in its transaction-coordinator module, not in kafka-clients, so Runnel uses its own).
 * All integers big endian; a string is an int16 length and UTF-8 bytes.
 *
 * <pre>
 * key:   int16 version=0, string transactionalId
 * value: int16 version=1, int64 producerId, int64 lastProducerId, int16 producerEpoch, int16 lastProducerEpoch,
 *        int32 timeoutMs, int8 state (TxnState id), int64 txnStartTimestamp, int64 lastUpdateTimestamp,
 *        int32 n, n x (string topic, int32 partition), int8 clientTransactionVersion, int64 nextProducerId
 * </pre>
 * A version 0 value (written before transactions version 2) lacks the last two fields: version 1, no next producer id.
 * A null value (a tombstone) removes the id (it expired). The latest record per key wins, which is what compaction of
 * this topic keeps.
 */
final class TxnRecords {
    private static final short KEY_VERSION = 0;
    private static final short VALUE_VERSION = 1;

    private TxnRecords() {
    }

    /** One decoded record: the id and its metadata, or null metadata for a tombstone. */
    record Entry(String transactionalId, TxnMetadata metadata) {
    }

    static byte[] key(String transactionalId) {
        byte[] id = transactionalId.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + id.length).putShort(KEY_VERSION).putShort((short) id.length).put(id).array();
    }

    static byte[] value(TxnMetadata m) {
        int size = 2 + 8 + 8 + 2 + 2 + 4 + 1 + 8 + 8 + 4 + 1 + 8;
        for (TopicPartition tp : m.partitions()) size += 2 + tp.topic().getBytes(StandardCharsets.UTF_8).length + 4;
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putShort(VALUE_VERSION).putLong(m.producerId()).putLong(m.lastProducerId()).putShort(m.producerEpoch()).putShort(m.lastProducerEpoch())
                .putInt(m.timeoutMs()).put(m.state().id()).putLong(m.txnStartTimestamp()).putLong(m.lastUpdateTimestamp()).putInt(m.partitions().size());
        for (TopicPartition tp : m.partitions()) {
            byte[] t = tp.topic().getBytes(StandardCharsets.UTF_8);
            b.putShort((short) t.length).put(t).putInt(tp.partition());
        }
        b.put(m.clientTransactionVersion()).putLong(m.nextProducerId());
        return b.array();
    }

    /** A batch of one record per metadata (a null value for {@code tombstone}). */
    static ByteBuffer batch(List<TxnMetadata> changed, long now) {
        SimpleRecord[] records = changed.stream().map(m -> new SimpleRecord(now, key(m.transactionalId()),
                m.state() == TxnState.DEAD ? null : value(m))).toArray(SimpleRecord[]::new);
        return MemoryRecords.withRecords(Compression.NONE, records).buffer();
    }

    /** The record decoded, or null when it is not one of Runnel's (an unknown version). */
    static Entry decode(Record r) {
        if (!r.hasKey()) return null;
        ByteBuffer k = r.key().duplicate();
        if (k.getShort() != KEY_VERSION) return null;
        String id = string(k);
        if (!r.hasValue()) return new Entry(id, null);
        ByteBuffer v = r.value().duplicate();
        short version = v.getShort();
        if (version > VALUE_VERSION) return null;
        long pid = v.getLong();
        long lastPid = v.getLong();
        short epoch = v.getShort();
        short lastEpoch = v.getShort();
        int timeout = v.getInt();
        TxnState state = TxnState.fromId(v.get());
        long start = v.getLong();
        long update = v.getLong();
        int n = v.getInt();
        Set<TopicPartition> partitions = new LinkedHashSet<>();
        for (int i = 0; i < n; i++) partitions.add(new TopicPartition(string(v), v.getInt()));
        byte clientVersion = version >= 1 ? v.get() : TxnMetadata.TV_1;
        long nextPid = version >= 1 ? v.getLong() : RecordBatch.NO_PRODUCER_ID;
        return new Entry(id, new TxnMetadata(id, pid, lastPid, epoch, lastEpoch, timeout, state, partitions, start, update, clientVersion, nextPid));
    }

    private static String string(ByteBuffer b) {
        byte[] bytes = new byte[b.getShort()];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
