package io.runnel.http;

import io.runnel.metrics.BrokerMetrics;
import io.runnel.log.value.ReadResult;
import io.runnel.partition.CommittedRead;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Locale;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * Reads records of one partition as JSON for the REST API and the WebSocket gateway: whole batches from the log
 * (at most {@code maxBytes}, at least one batch), decoded, records before the asked offset and control batches
 * skipped, stopping at {@code maxRecords} or when the next record would pass {@code byteLimit}. A read_committed
 * reader reads below the last stable offset and skips the batches of aborted transactions, as Kafka's consumer does.
 * A record of a transaction carries {@code "transaction"}: {@code "committed"}, or, for a read_uncommitted reader,
 * {@code "open"} (not decided yet) or {@code "aborted"}.
 */
final class PartitionReader {
    private PartitionReader() {
    }

    /** Records read, the offset to read next, and the bytes (record sizes) they take. */
    record Chunk(JsonArray records, long nextOffset, long bytes, long logEndOffset) {
    }

    /**
     * @param byteLimit the most record bytes to return (a credit), or {@code Long.MAX_VALUE}; the first record is
     *                  returned only if it fits
     */
    static Future<Chunk> read(PartitionHandle h, long offset, int maxBytes, long maxRecords, long byteLimit, boolean base64, boolean committed,
                              BrokerMetrics metrics) {
        int partition = h.topicPartition().partition();
        Future<CommittedRead> read = committed ? h.readCommitted(offset, maxBytes, true) : h.readWithTransactions(offset, maxBytes, true);
        return read.map(cr -> {
            ReadResult rr = cr.read();
            JsonArray out = new JsonArray();
            long next = offset;
            long bytes = 0;
            done:
            for (RecordBatch batch : MemoryRecords.readableRecords(rr.records()).batches()) {
                CommittedRead.TxnState txn = cr.state(batch.producerId(), batch.baseOffset(), batch.isTransactional());
                if (batch.isControlBatch() || committed && txn == CommittedRead.TxnState.ABORTED) {
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
            if (!out.isEmpty()) metrics.recordsOut(h.topicPartition().topic(), out.size(), bytes);
            return new Chunk(out, next, bytes, rr.logEndOffset());
        });
    }
}
