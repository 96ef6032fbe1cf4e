package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.cluster.BrokerLinks;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.FetchResponseData.AbortedTransaction;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.junit.jupiter.api.Test;

/**
 * Records read at another broker (a Fetch answer) are decoded as a local read: the fate of each transaction from the
 * leader's aborted list, the markers in the answer and its last stable offset, as Kafka's consumer works it out.
 */
class PartitionReaderTest {

    private static MemoryRecords txn(long offset, long pid, String... values) {
        SimpleRecord[] records = new SimpleRecord[values.length];
        for (int i = 0; i < values.length; i++) records[i] = new SimpleRecord(0L, null, values[i].getBytes(StandardCharsets.UTF_8));
        return MemoryRecords.withTransactionalRecords(offset, Compression.NONE, pid, (short) 0, 0, 0, records);
    }

    private static MemoryRecords marker(long offset, long pid, ControlRecordType type) {
        return MemoryRecords.withEndTransactionMarker(offset, 0L, 0, pid, (short) 0, new EndTransactionMarker(type, 0));
    }

    private static MemoryRecords concat(MemoryRecords... parts) {
        int size = 0;
        for (MemoryRecords m : parts) size += m.sizeInBytes();
        ByteBuffer b = ByteBuffer.allocate(size);
        for (MemoryRecords m : parts) b.put(m.buffer().duplicate());
        b.flip();
        return MemoryRecords.readableRecords(b);
    }

    /**
     * Offsets 0-1 producer 1 committed by the marker at 2; 3 producer 2 (no marker in view, below the last stable
     * offset: committed); 4 producer 3, aborted per the leader's list; 5 producer 2 again, after its commit at 6;
     * 7 producer 4 at the last stable offset without a marker: open.
     */
    private static BrokerLinks.Fetched fetched() {
        MemoryRecords records = concat(txn(0, 1, "a", "b"), marker(2, 1, ControlRecordType.COMMIT), txn(3, 2, "c"), txn(4, 3, "d"),
                txn(5, 2, "e"), marker(6, 2, ControlRecordType.COMMIT), txn(7, 4, "f"));
        return new BrokerLinks.Fetched(Errors.NONE, records, 8, 7, 0, List.of(new AbortedTransaction().setProducerId(3).setFirstOffset(4)));
    }

    /** The same log read read_committed: the leader answers below its last stable offset only. */
    private static BrokerLinks.Fetched fetchedCommitted() {
        MemoryRecords records = concat(txn(0, 1, "a", "b"), marker(2, 1, ControlRecordType.COMMIT), txn(3, 2, "c"), txn(4, 3, "d"),
                txn(5, 2, "e"), marker(6, 2, ControlRecordType.COMMIT));
        return new BrokerLinks.Fetched(Errors.NONE, records, 8, 7, 0, List.of(new AbortedTransaction().setProducerId(3).setFirstOffset(4)));
    }

    @Test
    void readUncommittedMarksEachRecordWithItsTransactionsFate() {
        PartitionReader.Chunk c = PartitionReader.decodeFetched(0, fetched(), 0, 100, Long.MAX_VALUE, false, false);
        assertThat(c.records().stream().map(o -> ((JsonObject) o).getString("value") + ":" + ((JsonObject) o).getString("transaction")).toList())
                .containsExactly("a:committed", "b:committed", "c:committed", "d:aborted", "e:committed", "f:open");
        assertThat(c.nextOffset()).isEqualTo(8);
        assertThat(c.logEndOffset()).as("the high watermark").isEqualTo(8);
    }

    @Test
    void readCommittedSkipsAbortedRecordsAndStartsAtTheAskedOffset() {
        PartitionReader.Chunk c = PartitionReader.decodeFetched(0, fetchedCommitted(), 1, 100, Long.MAX_VALUE, false, true);
        assertThat(c.records().stream().map(o -> ((JsonObject) o).getString("value")).toList()).containsExactly("b", "c", "e");
        assertThat(c.logEndOffset()).as("the last stable offset").isEqualTo(7);
    }

    @Test
    void theCreditStopsTheChunkBeforeARecordThatDoesNotFit() {
        PartitionReader.Chunk c = PartitionReader.decodeFetched(0, fetched(), 0, 3, Long.MAX_VALUE, false, false);
        assertThat(c.records()).hasSize(3);
        assertThat(c.nextOffset()).isEqualTo(4);
    }
}
