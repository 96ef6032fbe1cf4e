package io.runnel.http;

import io.runnel.cluster.BrokerLinks;
import io.runnel.log.value.ReadResult;
import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.CommittedRead;
import io.runnel.partition.CommittedRead.TxnState;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * Reads records of one partition as JSON for the REST API and the WebSocket gateway: whole batches from the log
 * (at most {@code maxBytes}, at least one batch), decoded, records before the asked offset and control batches
 * skipped, stopping at {@code maxRecords} or when the next record would pass {@code byteLimit}. A read_committed
 * reader reads below the last stable offset and skips the batches of aborted transactions, as Kafka's consumer does.
 * A record of a transaction carries {@code "transaction"}: {@code "committed"}, or, for a read_uncommitted reader,
 * {@code "open"} (not decided yet) or {@code "aborted"}. The records come from this broker's log, or from the
 * partition's leader elsewhere ({@link #decodeFetched}), decoded here the same way.
 */
final class PartitionReader {
    private PartitionReader() {
    }

    /** Records read, the offset to read next, and the bytes (record sizes) they take. */
    record Chunk(JsonArray records, long nextOffset, long bytes, long logEndOffset) {
    }

    /** The fate of a transactional batch's records, or null for a batch outside transactions. */
    interface TxnStates {
        TxnState state(RecordBatch batch);
    }

    /**
     * @param byteLimit the most record bytes to return (a credit), or {@code Long.MAX_VALUE}; the first record is
     *                  returned only if it fits
     */
    static Future<Chunk> read(PartitionHandle h, long offset, int maxBytes, long maxRecords, long byteLimit, boolean base64, boolean committed,
                              BrokerMetrics metrics) {
        Future<CommittedRead> read = committed ? h.readCommitted(offset, maxBytes, true) : h.readWithTransactions(offset, maxBytes, true);
        return read.map(cr -> {
            ReadResult rr = cr.read();
            Chunk c = decode(h.topicPartition().partition(), MemoryRecords.readableRecords(rr.records()).batches(), offset, maxRecords, byteLimit,
                    base64, committed, b -> cr.state(b.producerId(), b.baseOffset(), b.isTransactional()), rr.logEndOffset());
            if (!c.records().isEmpty()) metrics.recordsOut(h.topicPartition().topic(), c.records().size(), c.bytes());
            return c;
        });
    }

    /**
     * Decodes what partition {@code partition}'s leader at another broker answered ({@link BrokerLinks}) as
     * {@link #read} decodes a local read. The logEndOffset of the chunk is the leader's readable end: its last stable
     * offset for a read_committed reader, else its high watermark. The records are counted out at the leader.
     */
    static Chunk decodeFetched(int partition, BrokerLinks.Fetched f, long offset, long maxRecords, long byteLimit, boolean base64, boolean committed) {
        return decode(partition, f.records().batches(), offset, maxRecords, byteLimit, base64, committed, fetchedStates(f),
                committed ? f.lastStableOffset() : f.highWatermark());
    }

    private static Chunk decode(int partition, Iterable<? extends RecordBatch> batches, long offset, long maxRecords, long byteLimit, boolean base64,
                                boolean committed, TxnStates states, long logEndOffset) {
        JsonArray out = new JsonArray();
        long next = offset;
        long bytes = 0;
        done:
        for (RecordBatch batch : batches) {
            TxnState txn = states.state(batch);
            if (batch.isControlBatch() || committed && txn == TxnState.ABORTED) {
                next = Math.max(next, batch.nextOffset());
                continue;
            }
            for (Record r : batch) {
                if (r.offset() < offset) continue;
                if (out.size() >= maxRecords || bytes + r.sizeInBytes() > byteLimit) break done;
                JsonObject json = RecordJson.toJson(partition, batch, r, base64);
                if (txn != null) json.put("transaction", txn.name().toLowerCase(Locale.ROOT));
                out.add(json);
                bytes += r.sizeInBytes();
                next = r.offset() + 1;
            }
            if (out.size() < maxRecords) next = Math.max(next, batch.nextOffset()); // compacted gaps
        }
        return new Chunk(out, next, bytes, logEndOffset);
    }

    /**
     * The fate of the transactions of a fetched chunk, as Kafka's consumer works it out, from the leader's list of
     * aborted transactions (producer id and first offset) and the commit and abort markers in the chunk itself: a
     * batch whose producer's next marker in the chunk is an abort, or that an aborted transaction covers, is aborted;
     * one whose next marker is a commit is committed; one without a marker in the chunk is open when it is at or past
     * the leader's last stable offset (read_committed readers cannot see it yet) and committed below it.
     */
    static TxnStates fetchedStates(BrokerLinks.Fetched f) {
        Map<Long, List<long[]>> markers = new HashMap<>(); // producer id -> [offset, 1 commit / 0 abort], in offset order
        for (RecordBatch b : f.records().batches()) {
            if (!b.isControlBatch()) continue;
            for (Record r : b) {
                ControlRecordType type = ControlRecordType.parse(r.key());
                if (type == ControlRecordType.COMMIT || type == ControlRecordType.ABORT) {
                    markers.computeIfAbsent(b.producerId(), x -> new ArrayList<>()).add(new long[] {r.offset(), type == ControlRecordType.COMMIT ? 1 : 0});
                }
            }
        }
        Map<Long, List<Long>> aborted = new HashMap<>();
        for (FetchResponseData.AbortedTransaction t : f.aborted()) aborted.computeIfAbsent(t.producerId(), x -> new ArrayList<>()).add(t.firstOffset());
        return b -> {
            if (!b.isTransactional() || b.isControlBatch()) return null;
            long pid = b.producerId();
            long base = b.baseOffset();
            long previousMarker = -1;
            for (long[] m : markers.getOrDefault(pid, List.of())) {
                if (m[0] > base) return m[1] == 1 ? TxnState.COMMITTED : TxnState.ABORTED;
                previousMarker = m[0];
            }
            // An aborted transaction of this producer that started at or before the batch and after its last marker.
            for (long first : aborted.getOrDefault(pid, List.of())) if (first <= base && first > previousMarker) return TxnState.ABORTED;
            return base >= f.lastStableOffset() ? TxnState.OPEN : TxnState.COMMITTED;
        };
    }
}
