package io.runnel.partition;

import static io.runnel.testkit.Brokers.await;
import static io.runnel.testkit.Failures.causeOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.runnel.log.AbortedTxnIndex;
import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.AppendInfo;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.FileCorruptor;
import io.runnel.testkit.KafkaClients;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.TransactionCoordinatorFencedException;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;

/**
 * A partition's side of transactions (KIP-98) in a real broker: transactional batches open a transaction, end markers
 * (as WriteTxnMarkers writes them) close it, the last stable offset stops at the first undecided transaction, and a
 * read_committed Kafka consumer sees committed records only, also after a restart.
 */
class TransactionalLogTest extends BrokerPerTest {
    private static final Acks ALL = new Acks(true, 1, 30_000);
    private static final TopicPartition TP = new TopicPartition("txn", 0);

    @Test
    void readCommittedStopsAtTheFirstOpenTransactionAndNeverShowsAnAbortedOne() throws Exception {
        createTopic("txn", 1);
        PartitionHandle h = broker.topics().partition("txn", 0).orElseThrow();

        await(h.append(plain("a0", "a1"), ALL)); // 0-1: no transaction
        await(h.append(transactional(1000, 0, 0, "p1-0", "p1-1"), ALL)); // 2-3: producer 1000 opens a transaction
        assertThat(h.lastStableOffset()).isEqualTo(2);
        assertThat(h.highWatermark()).isEqualTo(4);
        CommittedSlice open = await(h.sliceCommitted(0, 1 << 20, true));
        assertThat(open.slice().records().lastOffset()).as("nothing of the open transaction").isEqualTo(1);
        assertThat(open.lastStableOffset()).isEqualTo(2);
        assertThat(open.highWatermark()).isEqualTo(4);

        await(h.append(transactional(2000, 0, 0, "p2-0"), ALL)); // 4: producer 2000 opens one
        AppendInfo abort = await(h.appendMarker(1000, (short) 0, 0, false, ALL)); // 5: 1000 aborts
        assertThat(abort.firstOffset()).isEqualTo(5);
        assertThat(h.lastStableOffset()).as("2000's transaction is still open").isEqualTo(4);
        await(h.appendMarker(2000, (short) 0, 0, true, ALL)); // 6: 2000 commits
        await(h.append(plain("b0"), ALL)); // 7
        assertThat(h.lastStableOffset()).isEqualTo(8);
        assertThat(await(h.listOffset(ListOffsetsRequest.LATEST_TIMESTAMP, true, true))).map(PartitionHandle.ListedOffset::offset).contains(8L);

        CommittedSlice all = await(h.sliceCommitted(0, 1 << 20, true));
        assertThat(all.aborted()).containsExactly(new AbortedTxn(1000, 2, 5, 4));
        assertThat(await(h.sliceCommitted(6, 1 << 20, true)).aborted()).as("a read after the abort marker").isEmpty();

        await(h.append(transactional(3000, 0, 0, "p3-0"), ALL)); // 8: left open across the restart
        assertThat(readCommitted()).containsExactly("a0", "a1", "p2-0", "b0");

        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data);
        PartitionHandle again = broker.topics().partition("txn", 0).orElseThrow();
        assertThat(again.lastStableOffset()).as("the open transaction survives the restart").isEqualTo(8);
        assertThat(await(again.sliceCommitted(0, 1 << 20, true)).aborted()).containsExactly(new AbortedTxn(1000, 2, 5, 4));
        await(again.appendMarker(3000, (short) 0, 0, true, ALL));
        assertThat(again.lastStableOffset()).isEqualTo(10);
        assertThat(readCommitted()).containsExactly("a0", "a1", "p2-0", "b0", "p3-0");
        assertThat(readUncommittedCount()).as("read_uncommitted sees the aborted records too").isEqualTo(7);
    }

    @Test
    void markersFromAnOlderProducerOrCoordinatorEpochAndControlBatchesFromProducersAreRefused() throws Exception {
        createTopic("txn", 1);
        PartitionHandle h = broker.topics().partition("txn", 0).orElseThrow();
        await(h.append(transactional(1000, 3, 0, "x"), ALL));
        await(h.appendMarker(1000, (short) 3, 5, true, ALL));

        assertThat(causeOf(() -> await(h.appendMarker(1000, (short) 2, 5, true, ALL)))).isInstanceOf(InvalidProducerEpochException.class);
        assertThat(causeOf(() -> await(h.appendMarker(1000, (short) 3, 4, true, ALL)))).isInstanceOf(TransactionCoordinatorFencedException.class);
        ByteBuffer marker = MemoryRecords.withEndTransactionMarker(1L, 1000, (short) 3, new EndTransactionMarker(ControlRecordType.COMMIT, 5)).buffer();
        assertThat(causeOf(() -> await(h.append(marker, ALL)))).isInstanceOf(InvalidRecordException.class);
        assertThat(h.logEndOffset()).as("nothing refused was written").isEqualTo(2);

        // Transactions version 2 bumps the epoch with every transaction: the marker's epoch becomes the producer's and
        // its next transaction starts again at sequence 0.
        await(h.append(transactional(1000, 3, 1, "y"), ALL));
        await(h.appendMarker(1000, (short) 4, 5, true, ALL));
        await(h.append(transactional(1000, 4, 0, "z"), ALL));
        assertThat(await(h.producers())).singleElement().satisfies(p -> {
            assertThat(p.epoch()).isEqualTo((short) 4);
            assertThat(p.txnStartOffset()).isEqualTo(4);
            assertThat(p.coordinatorEpoch()).isEqualTo(5);
        });
    }

    @Test
    void aTransactionsFirstWriteNeedsAGuardThatAMarkerMeanwhileMakesStale() throws Exception {
        createTopic("txn", 1);
        PartitionHandle h = broker.topics().partition("txn", 0).orElseThrow();
        assertThat(causeOf(() -> await(h.append(transactional(1000, 0, 0, "unverified"), ALL, TxnVerification.REQUIRED))))
                .as("a transaction's first write without the coordinator's confirmation").isInstanceOf(InvalidTxnStateException.class);

        TxnVerification guard = await(h.startTxnVerification(1000, (short) 0, 0, false));
        assertThat(guard.needsCoordinator()).isTrue();
        await(h.append(transactional(1000, 0, 0, "first"), ALL, guard));
        TxnVerification open = await(h.startTxnVerification(1000, (short) 0, 0, false));
        assertThat(open.needsCoordinator()).as("the transaction is open here: no check").isFalse();
        await(h.append(transactional(1000, 0, 1, "second"), ALL, open));

        // A write confirmed, then delayed past the transaction's marker, must not open a transaction nothing would end.
        await(h.appendMarker(1000, (short) 0, 0, true, ALL));
        TxnVerification late = await(h.startTxnVerification(1000, (short) 0, 0, false));
        TxnVerification next = await(h.startTxnVerification(1000, (short) 0, 0, false));
        assertThat(causeOf(() -> await(h.append(transactional(1000, 0, 2, "stale"), ALL, open)))).isInstanceOf(InvalidTxnStateException.class);
        await(h.appendMarker(1000, (short) 0, 0, false, ALL));
        assertThat(causeOf(() -> await(h.append(transactional(1000, 0, 2, "late"), ALL, late)))).isInstanceOf(InvalidTxnStateException.class);
        assertThat(causeOf(() -> await(h.append(transactional(1000, 0, 2, "late"), ALL, next)))).isInstanceOf(InvalidTxnStateException.class);
        assertThat(h.lastStableOffset()).as("no transaction was left open").isEqualTo(h.logEndOffset());
        assertThat(readCommitted()).containsExactly("first", "second");
    }

    @Test
    void aVersion2MarkerMustCarryAnEpochAboveItsTransactionsRecords() throws Exception {
        createTopic("txn", 1);
        PartitionHandle h = broker.topics().partition("txn", 0).orElseThrow();
        await(h.append(transactional(1000, 7, 0, "x"), ALL));
        assertThat(causeOf(() -> await(h.appendMarker(1000, (short) 7, 0, true, (byte) 2, ALL)))).isInstanceOf(InvalidProducerEpochException.class);
        assertThat(h.lastStableOffset()).as("the transaction is still open").isEqualTo(0);
        await(h.appendMarker(1000, (short) 8, 0, true, (byte) 2, ALL));
        assertThat(h.lastStableOffset()).isEqualTo(h.logEndOffset());
        assertThat(readCommitted()).containsExactly("x");
    }

    @Test
    void damageToTheTransactionIndexFilesIsFoundAndRepairedFromTheLog() throws Exception {
        Brokers.await(broker.topicAdmin().createTopic("txn", 1, Map.of("segment.bytes", "400")));
        PartitionHandle h = broker.topics().partition("txn", 0).orElseThrow();
        for (long pid = 1; pid <= 8; pid++) {
            await(h.append(transactional(pid, 0, 0, "aborted-" + pid + "-" + "x".repeat(80)), ALL));
            await(h.appendMarker(pid, (short) 0, 0, false, ALL));
        }
        List<AbortedTxn> before = allAborted(h);
        assertThat(before).hasSize(8);
        long seed = Long.getLong("txnindex.seed", System.nanoTime());
        Random rnd = new Random(seed);
        for (int round = 0; round < 4; round++) {
            broker.stop().get(30, TimeUnit.SECONDS); // the producer snapshot now covers every marker
            List<Path> files;
            try (var list = Files.list(data.resolve("txn-0"))) {
                files = list.filter(p -> p.toString().endsWith(AbortedTxnIndex.SUFFIX)).sorted().toList();
            }
            assertThat(files).as("seed %d: Kafka's per-segment files", seed).hasSizeGreaterThan(1);
            Path hit = files.get(rnd.nextInt(files.size()));
            long size = Files.size(hit);
            switch (rnd.nextInt(3)) {
                case 0 -> FileCorruptor.flip(hit, rnd.nextInt((int) size)); // any field: checked against the log
                case 1 -> FileCorruptor.appendGarbage(hit, new byte[] {(byte) (1 + rnd.nextInt(255)), 7, 7});
                default -> FileCorruptor.truncate(hit, size - 1 - rnd.nextInt(33)); // mid-entry
            }
            broker = Brokers.start(data);
            PartitionHandle again = broker.topics().partition("txn", 0).orElseThrow();
            // What reads use of each entry; the last stable offset is kept for Kafka's format and a flip that leaves it
            // between its neighbours' cannot be told from the truth without a replay (Kafka cannot tell either).
            assertThat(allAborted(again)).as("seed %d round %d", seed, round)
                    .extracting(AbortedTxn::producerId, AbortedTxn::firstOffset, AbortedTxn::lastOffset)
                    .isEqualTo(before.stream().map(t -> tuple(t.producerId(), t.firstOffset(), t.lastOffset())).toList());
        }
        assertThat(readCommitted()).isEmpty();
    }

    @Test
    void compactionRemovesAnAbortedTransactionsMarkerOnceItsRecordsAreGoneAndTheIndexFollows() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, Map.of("log.retention.check.interval.ms", "100"), Time.SYSTEM);
        Brokers.await(broker.topicAdmin().createTopic("txn", 1, Map.of("cleanup.policy", "compact", "segment.bytes", "400",
                "delete.retention.ms", "0")));
        PartitionHandle h = broker.topics().partition("txn", 0).orElseThrow();
        await(h.append(transactional(1000, 0, 0, "aborted"), ALL));
        await(h.appendMarker(1000, (short) 0, 0, false, ALL));
        // The producer writes on (compaction keeps a producer's last batch, and so the marker of its transaction).
        await(h.append(transactional(1000, 0, 1, "committed"), ALL));
        await(h.appendMarker(1000, (short) 0, 0, true, ALL));
        for (int i = 0; i < 12; i++) await(h.append(keyed("pad-" + i, "x".repeat(60)), ALL)); // closes the segments before it
        assertThat(allAborted(h)).hasSize(1);

        // Pass one removes the aborted record, pass two stamps the marker's delete horizon, pass three removes it.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> allAborted(h).isEmpty());
        assertThat(await(h.producers())).noneMatch(p -> p.txnStartOffset() >= 0);
        broker.stop().get(30, TimeUnit.SECONDS);
        try (var files = Files.list(data.resolve("txn-0"))) {
            assertThat(files.filter(p -> p.toString().endsWith(AbortedTxnIndex.SUFFIX))).as("no index entry is left").isEmpty();
        }
        broker = Brokers.start(data);
        PartitionHandle again = broker.topics().partition("txn", 0).orElseThrow();
        assertThat(again.lastStableOffset()).as("no transaction looks open after the rebuild").isEqualTo(again.logEndOffset());
        assertThat(allAborted(again)).isEmpty();
        assertThat(readCommitted()).hasSize(13).contains("committed").doesNotContain("aborted");
    }

    private static ByteBuffer keyed(String key, String value) {
        return MemoryRecords.withRecords(Compression.NONE, new SimpleRecord(System.currentTimeMillis(), key.getBytes(StandardCharsets.UTF_8),
                value.getBytes(StandardCharsets.UTF_8))).buffer();
    }

    /** Every aborted transaction a read_committed reader of the whole log is told of, slice by slice. */
    private static List<AbortedTxn> allAborted(PartitionHandle h) throws Exception {
        List<AbortedTxn> out = new ArrayList<>();
        long offset = 0;
        while (offset < h.lastStableOffset()) {
            CommittedSlice s = await(h.sliceCommitted(offset, 1 << 20, true));
            for (AbortedTxn t : s.aborted()) if (!out.contains(t)) out.add(t);
            offset = s.slice().records().lastOffset() + 1;
        }
        return out;
    }

    private List<String> readCommitted() {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(),
                Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            c.assign(List.of(TP));
            c.seekToBeginning(List.of(TP));
            long end = c.endOffsets(List.of(TP)).get(TP); // the last stable offset, for read_committed
            List<String> out = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.position(TP) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r.value());
            }
            assertThat(c.position(TP)).isEqualTo(end);
            return out;
        }
    }

    private int readUncommittedCount() {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of())) {
            c.assign(List.of(TP));
            c.seekToBeginning(List.of(TP));
            return KafkaClients.pollAtLeast(c, 7).size();
        }
    }

    private static ByteBuffer plain(String... values) {
        return MemoryRecords.withRecords(Compression.NONE, records(values)).buffer();
    }

    private static ByteBuffer transactional(long producerId, int epoch, int sequence, String... values) {
        return MemoryRecords.withTransactionalRecords(Compression.NONE, producerId, (short) epoch, sequence, records(values)).buffer();
    }

    private static SimpleRecord[] records(String... values) {
        return Arrays.stream(values).map(v -> new SimpleRecord(System.currentTimeMillis(), null, v.getBytes(StandardCharsets.UTF_8)))
                .toArray(SimpleRecord[]::new);
    }
}
