package io.runnel.log;

import java.nio.ByteBuffer;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.Records;

/**
 * Reads the fixed-width header of a Kafka v2 record batch (magic 2) where it lies in a buffer, without decoding the
 * records. The storage engine scans headers to find batch boundaries, offsets and timestamps in segment files; the
 * full batch (CRC, records) is only ever handled through kafka-clients' {@code DefaultRecordBatch}.
 *
 * <pre>
 * offset width field
 *  0      8    baseOffset            (rewritten by the broker; outside the CRC)
 *  8      4    batchLength           (bytes after this field)
 * 12      4    partitionLeaderEpoch  (rewritten by the broker; outside the CRC)
 * 16      1    magic = 2
 * 17      4    crc (CRC-32C of attributes .. end)
 * 21      2    attributes
 * 23      4    lastOffsetDelta
 * 27      8    baseTimestamp
 * 35      8    maxTimestamp
 * 43      8    producerId
 * 51      2    producerEpoch
 * 53      4    baseSequence
 * 57      4    recordsCount
 * 61           records...
 * </pre>
 */
public final class BatchHeader {
    /** Bytes of the header, before the first record: {@code DefaultRecordBatch.RECORD_BATCH_OVERHEAD}. */
    public static final int SIZE = DefaultRecordBatch.RECORD_BATCH_OVERHEAD;
    /** Bytes before the length field counts: baseOffset and batchLength ({@code Records.LOG_OVERHEAD}). */
    public static final int LOG_OVERHEAD = Records.LOG_OVERHEAD;
    static final int LENGTH_OFFSET = Records.SIZE_OFFSET;
    static final int MAGIC_OFFSET = Records.MAGIC_OFFSET;
    static final int LAST_OFFSET_DELTA_OFFSET = DefaultRecordBatch.LAST_OFFSET_DELTA_OFFSET;
    static final int MAX_TIMESTAMP_OFFSET = 35;
    /** Kafka v2: base offset (8) and batch length (4) come first, then the partition leader epoch. */
    static final int PARTITION_LEADER_EPOCH_OFFSET = 12;
    static final int RECORDS_COUNT_OFFSET = DefaultRecordBatch.RECORDS_COUNT_OFFSET;
    static final int ATTRIBUTES_OFFSET = 21;
    static final short TRANSACTIONAL_FLAG = 0x10;
    static final short CONTROL_FLAG = 0x20;

    private BatchHeader() {
    }

    /** The partition leader epoch the leader stamped on the batch (outside the CRC), or -1. */
    public static int partitionLeaderEpoch(ByteBuffer b, int at) {
        return b.getInt(at + PARTITION_LEADER_EPOCH_OFFSET);
    }

    public static long baseOffset(ByteBuffer b, int at) {
        return b.getLong(at);
    }

    /** The whole batch's size in bytes, header included. */
    public static int batchSize(ByteBuffer b, int at) {
        return b.getInt(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    }

    public static byte magic(ByteBuffer b, int at) {
        return b.get(at + MAGIC_OFFSET);
    }

    public static long lastOffset(ByteBuffer b, int at) {
        return baseOffset(b, at) + b.getInt(at + LAST_OFFSET_DELTA_OFFSET);
    }

    public static long maxTimestamp(ByteBuffer b, int at) {
        return b.getLong(at + MAX_TIMESTAMP_OFFSET);
    }

    public static long producerId(ByteBuffer b, int at) {
        return b.getLong(at + 43);
    }

    public static short producerEpoch(ByteBuffer b, int at) {
        return b.getShort(at + 51);
    }

    public static int baseSequence(ByteBuffer b, int at) {
        return b.getInt(at + 53);
    }

    /** The batch's last sequence number, wrapping at Integer.MAX_VALUE as Kafka's DefaultRecordBatch.lastSequence. */
    public static int lastSequence(ByteBuffer b, int at) {
        int base = baseSequence(b, at);
        if (base < 0) return base;
        long last = (long) base + b.getInt(at + LAST_OFFSET_DELTA_OFFSET);
        return (int) (last > Integer.MAX_VALUE ? last - Integer.MAX_VALUE - 1 : last);
    }

    /** Whether the batch is part of a transaction (attributes bit 4). */
    public static boolean isTransactional(ByteBuffer b, int at) {
        return (b.getShort(at + ATTRIBUTES_OFFSET) & TRANSACTIONAL_FLAG) != 0;
    }

    /** Whether the batch holds control records (attributes bit 5): an end-transaction marker, as Runnel writes them. */
    public static boolean isControl(ByteBuffer b, int at) {
        return (b.getShort(at + ATTRIBUTES_OFFSET) & CONTROL_FLAG) != 0;
    }

    public static int recordsCount(ByteBuffer b, int at) {
        return b.getInt(at + RECORDS_COUNT_OFFSET);
    }

    /**
     * Whether the header at {@code at} is plausible for a batch that must fit in {@code available} bytes: magic 2, a
     * length that covers at least the header and fits, a non-negative offset delta. It does not check the CRC.
     */
    public static boolean plausible(ByteBuffer b, int at, long available) {
        if (available < SIZE) return false;
        int size = batchSize(b, at);
        return magic(b, at) == RecordBatch.MAGIC_VALUE_V2 && size >= SIZE && size <= available
                && b.getInt(at + LAST_OFFSET_DELTA_OFFSET) >= 0 && baseOffset(b, at) >= 0;
    }
}
