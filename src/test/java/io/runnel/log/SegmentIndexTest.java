package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.Batches;
import io.runnel.testkit.FileCorruptor;
import io.runnel.testkit.ManualTime;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sparse indexes: their entries, their checks on load, and the read path's defence against a wrong entry. */
class SegmentIndexTest {
    private static final long T0 = 1_700_000_000_000L;
    @TempDir
    Path dir;
    private final ManualTime time = new ManualTime(T0);

    @Test
    void headerOffsetsMatchKafkas() {
        ByteBuffer b = Batches.batch(new long[] {T0, T0 + 5}, 10);
        var batch = MemoryRecords.readableRecords(b.duplicate()).batchIterator().next();
        assertThat(BatchHeader.SIZE).isEqualTo(61);
        assertThat(BatchHeader.maxTimestamp(b, 0)).isEqualTo(batch.maxTimestamp());
        assertThat(BatchHeader.lastOffset(b, 0)).isEqualTo(batch.lastOffset());
        assertThat(BatchHeader.recordsCount(b, 0)).isEqualTo(batch.countOrNull());
        assertThat(BatchHeader.magic(b, 0)).isEqualTo(RecordBatch.MAGIC_VALUE_V2);
        assertThat(BatchHeader.batchSize(b, 0)).isEqualTo(batch.sizeInBytes());
        assertThat(DefaultRecordBatch.RECORD_BATCH_OVERHEAD).isEqualTo(BatchHeader.SIZE);
    }

    @Test
    void writesOneEntryPerIntervalAndFindsEveryOffset() throws Exception {
        int batchBytes = Batches.batch(1, T0, "v").remaining();
        Log log = Log.open(dir, LogConfig.defaults().withIndexIntervalBytes(batchBytes * 2), time);
        for (int i = 0; i < 30; i++) log.appendAsLeader(Batches.batch(1, T0 + i, "v"), 0);
        Segment s = log.activeSegment();
        // Kafka's rule: an entry for the first batch after more than the interval, so every third batch.
        assertThat(s.indexEntries()).isEqualTo(9);
        // The entries reach the file with the next flush (or roll, or close), not with each append.
        Path index = dir.resolve(Segment.fileName(0, Segment.INDEX_SUFFIX));
        assertThat(Files.exists(index) ? Files.size(index) : 0L).isZero();
        log.onFlushed(log.prepareFlush().run());
        assertThat(Files.size(index)).isEqualTo(9L * OffsetIndex.ENTRY_BYTES);
        for (long o = 0; o < 30; o++) assertThat(s.positionOf(o)).isEqualTo((int) o * batchBytes);
        for (long t = 0; t < 30; t++) assertThat(log.offsetForTimestamp(T0 + t).orElseThrow().offset()).isEqualTo(t);
        log.close();
    }

    @Test
    void aSegmentHoldsOneFileDescriptorAndItsIndexesNone() throws Exception {
        int batchBytes = Batches.batch(1, T0, "v").remaining();
        Path fds = Path.of("/proc/self/fd");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(fds), "needs /proc (Linux)");
        long before;
        try (var list = Files.list(fds)) {
            before = list.count();
        }
        // 40 segments of two batches each, every batch indexed.
        Log log = Log.open(dir, LogConfig.defaults().withSegmentBytes(batchBytes * 2).withIndexIntervalBytes(0), time);
        for (int i = 0; i < 80; i++) log.appendAsLeader(Batches.batch(1, T0 + i, "v"), 0);
        assertThat(log.segmentCount()).isEqualTo(40);
        long after;
        try (var list = Files.list(fds)) {
            after = list.count();
        }
        // One per segment (the .log); three each when the index files were held open too. (A margin for other threads.)
        assertThat(after - before).isBetween(40L, 60L);
        log.close();
        // Every index reached its file: a reopened log finds every offset and timestamp without a rebuild.
        log = Log.open(dir, LogConfig.defaults().withSegmentBytes(batchBytes * 2).withIndexIntervalBytes(0), time);
        assertThat(log.logEndOffset()).isEqualTo(80);
        for (long t = 0; t < 80; t++) assertThat(log.offsetForTimestamp(T0 + t).orElseThrow().offset()).isEqualTo(t);
        log.close();
    }

    @Test
    void aMissingOrDamagedIndexIsRebuiltOnOpen() throws Exception {
        LogConfig config = LogConfig.defaults().withIndexIntervalBytes(0);
        Log log = Log.open(dir, config, time);
        for (int i = 0; i < 20; i++) log.appendAsLeader(Batches.batch(2, T0 + i, "v"), 0);
        log.close();
        Path index = dir.resolve(Segment.fileName(0, Segment.INDEX_SUFFIX));
        Path timeIndex = dir.resolve(Segment.fileName(0, Segment.TIME_INDEX_SUFFIX));
        long indexBytes = Files.size(index);
        long timeIndexBytes = Files.size(timeIndex);

        Files.delete(index);
        FileCorruptor.truncate(timeIndex, timeIndexBytes - 5); // cut mid-entry
        log = Log.open(dir, config, time);
        assertThat(Files.size(index)).isEqualTo(indexBytes);
        assertThat(Files.size(timeIndex)).isEqualTo(timeIndexBytes);
        assertThat(log.logEndOffset()).isEqualTo(40);
        log.close();

        // An entry made to point past the end of the log.
        FileCorruptor.flip(index, 4);
        log = Log.open(dir, config, time);
        assertThat(log.activeSegment().positionOf(39)).isGreaterThan(0);
        assertThat(Batches.decode(log.read(39, 1000, true).records())).extracting(Batches.Rec::offset).containsExactly(38L, 39L);
        log.close();
    }

    @Test
    void aReadDoesNotTrustAnEntryThatPointsAtTheWrongBatch() throws Exception {
        int batchBytes = Batches.batch(1, T0, "v").remaining();
        LogConfig config = LogConfig.defaults().withIndexIntervalBytes(0);
        Log log = Log.open(dir, config, time);
        for (int i = 0; i < 10; i++) log.appendAsLeader(Batches.batch(1, T0, "v"), 0);
        log.close();
        // Entry 3 says offset 4 is at position 4*batch; make it point into the middle of that batch: the entries
        // are still in order, so the file passes its checks on load, but the entry is wrong.
        Path index = dir.resolve(Segment.fileName(0, Segment.INDEX_SUFFIX));
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(index));
        assertThat(bytes.getInt(3 * 8)).isEqualTo(4);
        assertThat(bytes.getInt(3 * 8 + 4)).isEqualTo(4 * batchBytes);
        bytes.putInt(3 * 8 + 4, 4 * batchBytes + 10);
        Files.write(index, bytes.array());
        log = Log.open(dir, config, time);
        assertThat(log.activeSegment().indexEntries()).isEqualTo(9); // loaded as it is, not rebuilt
        assertThat(Batches.decode(log.read(4, 1, true).records())).extracting(Batches.Rec::offset).containsExactly(4L);
        assertThat(Batches.decode(log.read(5, 1, true).records())).extracting(Batches.Rec::offset).containsExactly(5L);
        log.close();
    }
}
