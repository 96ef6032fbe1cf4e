package io.runnel.testkit;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;

/** Builds and decodes Kafka v2 batches with kafka-clients, the way a producer and a consumer would. */
public final class Batches {
    private Batches() {
    }

    /** One record as a test sees it. */
    public record Rec(long offset, long timestamp, String key, String value, String headerValue) {
    }

    /** A batch of {@code count} records, all at {@code timestamp}, values {@code prefix-i}, offsets from 0. */
    public static ByteBuffer batch(int count, long timestamp, String prefix) {
        return batch(count, timestamp, prefix, Compression.NONE);
    }

    public static ByteBuffer batch(int count, long timestamp, String prefix, Compression compression) {
        SimpleRecord[] records = new SimpleRecord[count];
        for (int i = 0; i < count; i++) {
            Header[] headers = {new RecordHeader("h", (prefix + "-h" + i).getBytes(StandardCharsets.UTF_8))};
            records[i] = new SimpleRecord(timestamp, ("k" + i).getBytes(StandardCharsets.UTF_8),
                    (prefix + "-" + i).getBytes(StandardCharsets.UTF_8), headers);
        }
        return MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 0L, compression, TimestampType.CREATE_TIME, records).buffer();
    }

    /** A batch of records with the given timestamps and values of {@code valueBytes} bytes. */
    /** A leader's batch as a follower receives it: {@code count} records from offset {@code base}, stamped with {@code epoch}. */
    public static ByteBuffer leaderBatch(long base, int count, int epoch, long timestamp, String prefix) {
        ByteBuffer b = batch(count, timestamp, prefix);
        MutableRecordBatch batch = MemoryRecords.readableRecords(b.duplicate()).batches().iterator().next();
        batch.setLastOffset(base + count - 1);
        batch.setPartitionLeaderEpoch(epoch);
        return b;
    }

    public static ByteBuffer batch(long[] timestamps, int valueBytes) {
        SimpleRecord[] records = new SimpleRecord[timestamps.length];
        for (int i = 0; i < timestamps.length; i++) {
            byte[] value = new byte[valueBytes];
            Arrays.fill(value, (byte) ('a' + i % 26));
            records[i] = new SimpleRecord(timestamps[i], null, value);
        }
        return MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 0L, Compression.NONE, TimestampType.CREATE_TIME, records).buffer();
    }

    /** Decodes every record of {@code bytes}; fails the test if a batch's CRC does not match. */
    public static List<Rec> decode(ByteBuffer bytes) {
        List<Rec> out = new ArrayList<>();
        for (RecordBatch b : MemoryRecords.readableRecords(bytes.duplicate()).batches()) {
            b.ensureValid();
            for (Record r : b) {
                String header = r.headers().length == 0 ? null : new String(r.headers()[0].value(), StandardCharsets.UTF_8);
                out.add(new Rec(r.offset(), r.timestamp(), str(r.key()), str(r.value()), header));
            }
        }
        return out;
    }

    /** The batches' (base offset, last offset) pairs. */
    public static List<long[]> batchOffsets(ByteBuffer bytes) {
        List<long[]> out = new ArrayList<>();
        for (RecordBatch b : MemoryRecords.readableRecords(bytes.duplicate()).batches()) out.add(new long[] {b.baseOffset(), b.lastOffset()});
        return out;
    }

    private static String str(ByteBuffer b) {
        if (b == null) return null;
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return new String(a, StandardCharsets.UTF_8);
    }
}
