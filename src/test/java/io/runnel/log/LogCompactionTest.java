package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.LastRecord;
import io.runnel.log.value.ReadResult;
import io.runnel.testkit.ManualTime;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compaction keeps the latest record per key, keeps offsets, drops old tombstones, and survives crashes (gaps). */
class LogCompactionTest {
    private static final long T0 = 1_700_000_000_000L;
    @TempDir
    Path dir;

    private record KV(long offset, String key, String value) {
    }

    private static ByteBuffer record(long ts, String key, String value) {
        return MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 0L, Compression.gzip().build(), TimestampType.CREATE_TIME,
                new SimpleRecord(ts, key.getBytes(StandardCharsets.UTF_8), value == null ? null : value.getBytes(StandardCharsets.UTF_8))).buffer();
    }

    private static List<KV> readAll(Log log) throws Exception {
        List<KV> out = new ArrayList<>();
        long next = log.logStartOffset();
        while (next < log.logEndOffset()) {
            ReadResult r = log.read(next, 4096, true);
            long last = next;
            for (RecordBatch b : MemoryRecords.readableRecords(r.records()).batches()) {
                b.ensureValid();
                for (Record rec : b) {
                    if (rec.offset() >= next) {
                        out.add(new KV(rec.offset(), StandardCharsets.UTF_8.decode(rec.key()).toString(),
                                rec.hasValue() ? StandardCharsets.UTF_8.decode(rec.value()).toString() : null));
                    }
                }
                last = b.lastOffset() + 1;
            }
            next = last;
        }
        return out;
    }

    @Test
    void keepsTheLatestRecordPerKeyWithItsOffset() throws Exception {
        ManualTime time = new ManualTime(T0);
        LogConfig config = LogConfig.defaults().withSegmentBytes(600).withIndexIntervalBytes(100).withCompaction(60_000);
        Log log = Log.open(dir, config, time);
        Map<String, KV> latest = new LinkedHashMap<>();
        for (int i = 0; i < 200; i++) {
            String key = "k" + (i % 20);
            String value = (i == 87) ? null : "v" + i; // k7 is deleted at offset 87 and written again later
            long offset = log.appendAsLeader(record(time.milliseconds(), key, value), 0).firstOffset();
            latest.put(key, new KV(offset, key, value));
        }
        log.appendAsLeader(record(time.milliseconds(), "gone", "x"), 0);
        log.appendAsLeader(record(time.milliseconds(), "gone", null), 0);
        for (int i = 0; i < 20; i++) log.appendAsLeader(record(time.milliseconds() + 120_000, "pad" + i, "p"), 0);
        time.advance(120_000); // the tombstone of "gone" is now older than delete.retention.ms
        long end = log.logEndOffset();
        long sizeBefore = log.sizeInBytes();
        List<KV> before = readAll(log);

        for (Compactor.Replacement r : Compactor.clean(dir, log.compactionCandidates(), config, time.milliseconds(), List.of())) {
            Log.closeSegments(List.of(log.replaceSegment(r.old(), r.cleaned())));
        }
        List<KV> after = readAll(log);
        assertThat(log.logEndOffset()).isEqualTo(end);
        assertThat(log.sizeInBytes()).isLessThan(sizeBefore / 2);
        for (int i = 1; i < after.size(); i++) assertThat(after.get(i).offset()).isGreaterThan(after.get(i - 1).offset());
        // Every record that survived is one that was written, at its original offset.
        assertThat(before).containsAll(after);
        for (KV kv : latest.values()) assertThat(after).contains(kv);
        assertThat(after).noneMatch(kv -> kv.key().equals("gone")); // value and old tombstone both gone
        assertThat(after.stream().filter(kv -> kv.key().equals("k3")).count()).isEqualTo(1);

        // A crash right now: recovery accepts the gaps and serves the same records.
        log.closeForDeletion();
        log = Log.open(dir, config, time);
        assertThat(readAll(log)).isEqualTo(after);
        log.appendAsLeader(record(time.milliseconds(), "k1", "newest"), 0);
        log.close();
        log = Log.open(dir, config, time);
        assertThat(readAll(log)).last().isEqualTo(new KV(end, "k1", "newest"));
        log.close();
    }

    @Test
    void anAbortedWriteNeverShadowsACommittedOneAndAMarkerGoesOnlyOnceItsTransactionIsGoneAndItsHorizonPassed() throws Exception {
        ManualTime time = new ManualTime(T0);
        LogConfig config = LogConfig.defaults().withSegmentBytes(400).withIndexIntervalBytes(100).withCompaction(60_000);
        Log log = Log.open(dir, config, time);
        log.appendAsLeader(record(time.milliseconds(), "k", "committed"), 0); // 0
        long first = log.appendAsLeader(transactional(7, "k", "aborted"), 0).firstOffset(); // 1: producer 7's transaction
        long marker = log.appendAsLeader(MemoryRecords.withEndTransactionMarker(time.milliseconds(), 7, (short) 0,
                new EndTransactionMarker(ControlRecordType.ABORT, 0)).buffer(), 0).firstOffset(); // 2
        log.appendAsLeader(transactional(8, "j", "kept"), 0); // 3: producer 8 commits
        log.appendAsLeader(MemoryRecords.withEndTransactionMarker(time.milliseconds(), 8, (short) 0,
                new EndTransactionMarker(ControlRecordType.COMMIT, 0)).buffer(), 0); // 4
        for (int i = 0; i < 20; i++) log.appendAsLeader(record(time.milliseconds(), "pad" + i, "p"), 0);
        List<AbortedTxn> aborted = List.of(new AbortedTxn(7, first, marker, marker + 1));

        assertThat(pass(log, config, time.milliseconds(), aborted)).as("no marker goes while its transaction's batch is met").isEmpty();
        List<KV> after = readAll(log);
        assertThat(after).contains(new KV(0, "k", "committed"), new KV(3, "j", "kept")).noneMatch(kv -> kv.value() != null && kv.value().equals("aborted"));
        assertThat(markers(log)).as("both end markers, whose control keys are the same").containsOnlyKeys(2L, 4L)
                .allSatisfy((offset, horizon) -> assertThat(horizon).isNull());

        // The aborted batch is gone now: its marker is stamped with a delete horizon, not removed yet.
        assertThat(pass(log, config, time.milliseconds(), aborted)).isEmpty();
        assertThat(markers(log)).containsEntry(2L, T0 + 60_000).containsEntry(4L, null);

        time.advance(60_001);
        assertThat(pass(log, config, time.milliseconds(), aborted)).as("removed after delete.retention.ms").containsExactly(2L);
        assertThat(markers(log)).as("the committed transaction still has its record").containsOnlyKeys(4L);
        assertThat(readAll(log)).contains(new KV(3, "j", "kept"));
        log.close();
    }

    @Test
    void aProducersLastBatchIsKeptEmptyAndSoIsTheMarkerOfItsTransaction() throws Exception {
        ManualTime time = new ManualTime(T0);
        LogConfig config = LogConfig.defaults().withSegmentBytes(400).withIndexIntervalBytes(100).withCompaction(60_000);
        Log log = Log.open(dir, config, time);
        long first = log.appendAsLeader(transactional(7, "k", "aborted"), 0).firstOffset(); // 0
        long marker = log.appendAsLeader(MemoryRecords.withEndTransactionMarker(time.milliseconds(), 7, (short) 0,
                new EndTransactionMarker(ControlRecordType.ABORT, 0)).buffer(), 0).firstOffset(); // 1
        for (int i = 0; i < 20; i++) log.appendAsLeader(record(time.milliseconds(), "pad" + i, "p"), 0);
        List<AbortedTxn> aborted = List.of(new AbortedTxn(7, first, marker, marker + 1));
        for (int i = 0; i < 3; i++) {
            for (Compactor.Replacement r : Compactor.clean(dir, log.compactionCandidates(), config, time.milliseconds(), aborted,
                    Map.of(7L, new LastRecord(first, (short) 0)))) {
                Log.closeSegments(List.of(log.replaceSegment(r.old(), r.cleaned())));
            }
            time.advance(60_001);
        }
        List<Long> producerBatches = new ArrayList<>();
        log.forEachBatchHeader(0, h -> {
            if (BatchHeader.producerId(h, 0) == 7 && !BatchHeader.isControl(h, 0)) producerBatches.add(BatchHeader.baseOffset(h, 0));
        });
        assertThat(producerBatches).as("the producer's last batch, emptied").containsExactly(first);
        assertThat(readAll(log)).noneMatch(kv -> "aborted".equals(kv.value()));
        assertThat(markers(log)).containsKey(marker);
        log.close();
    }

    @Test
    void theMarkerThatCarriesAVersion2ProducersCurrentEpochStaysAfterItsRecordsAreGone() throws Exception {
        ManualTime time = new ManualTime(T0);
        LogConfig config = LogConfig.defaults().withSegmentBytes(400).withIndexIntervalBytes(100).withCompaction(60_000);
        Log log = Log.open(dir, config, time);
        log.appendAsLeader(transactional(9, "x", "old"), 0); // 0: producer 9, epoch 0
        long marker = log.appendAsLeader(MemoryRecords.withEndTransactionMarker(time.milliseconds(), 9, (short) 1,
                new EndTransactionMarker(ControlRecordType.COMMIT, 0)).buffer(), 0).firstOffset(); // 1: epoch bumped to 1 (version 2)
        log.appendAsLeader(record(time.milliseconds(), "x", "new"), 0); // 2: supersedes the transaction's record
        for (int i = 0; i < 20; i++) log.appendAsLeader(record(time.milliseconds(), "pad" + i, "p"), 0);
        Map<Long, LastRecord> last = Map.of(9L, new LastRecord(-1, (short) 1)); // no data batch in its current epoch
        for (int i = 0; i < 3; i++) {
            for (Compactor.Replacement r : Compactor.clean(dir, log.compactionCandidates(), config, time.milliseconds(), List.of(), last)) {
                Log.closeSegments(List.of(log.replaceSegment(r.old(), r.cleaned())));
            }
            time.advance(60_001);
        }
        assertThat(readAll(log)).noneMatch(kv -> "old".equals(kv.value()));
        assertThat(markers(log)).as("the producer's epoch 1 lives on in its marker").containsKey(marker);
        log.close();
    }

    /** One compaction pass; returns the offsets of the markers it removed. */
    private List<Long> pass(Log log, LogConfig config, long now, List<AbortedTxn> aborted) throws Exception {
        List<Long> removed = new ArrayList<>();
        for (Compactor.Replacement r : Compactor.clean(dir, log.compactionCandidates(), config, now, aborted)) {
            Log.closeSegments(List.of(log.replaceSegment(r.old(), r.cleaned())));
            removed.addAll(r.removedMarkers());
        }
        return removed;
    }

    /** The control batches' offsets and their delete horizons (null: none). */
    private static Map<Long, Long> markers(Log log) throws Exception {
        Map<Long, Long> out = new java.util.TreeMap<>();
        log.forEachBatch(0, (h, batch) -> {
            if (BatchHeader.isControl(h, 0)) {
                var horizon = batch.read().deleteHorizonMs();
                out.put(BatchHeader.baseOffset(h, 0), horizon.isPresent() ? horizon.getAsLong() : null);
            }
        });
        return out;
    }

    private static ByteBuffer transactional(long producerId, String key, String value) {
        return MemoryRecords.withTransactionalRecords(Compression.NONE, producerId, (short) 0, 0,
                new SimpleRecord(T0, key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8))).buffer();
    }
}
