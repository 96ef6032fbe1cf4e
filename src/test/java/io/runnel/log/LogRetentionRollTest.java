package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.log.value.AppendInfo;
import io.runnel.testkit.Batches;
import io.runnel.testkit.ManualTime;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.UnsupportedForMessageFormatException;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Roll by size and time, retention by time and size, validation of appends, and checkpoints, on a manual clock. */
class LogRetentionRollTest {
    private static final long T0 = 1_700_000_000_000L;
    @TempDir
    Path dir;
    private final ManualTime time = new ManualTime(T0);
    private Log log;

    @AfterEach
    void close() throws Exception {
        if (log != null) log.close();
    }

    private Log open(LogConfig config) throws Exception {
        if (log != null) log.close();
        log = Log.open(dir, config, time);
        return log;
    }

    @Test
    void rollsWhenTheNextBatchWouldNotFit() throws Exception {
        int batchBytes = Batches.batch(1, T0, "v").remaining();
        open(LogConfig.defaults().withSegmentBytes(batchBytes * 3));
        for (int i = 0; i < 7; i++) log.appendAsLeader(Batches.batch(1, T0, "v"), 0);
        assertThat(log.segmentBaseOffsets()).containsExactly(0L, 3L, 6L);
        assertThat(Files.size(dir.resolve(Segment.fileName(0, Segment.LOG_SUFFIX)))).isEqualTo(batchBytes * 3L);
    }

    @Test
    void rollsWhenTheActiveSegmentIsOlderThanSegmentMs() throws Exception {
        open(LogConfig.defaults().withSegmentMs(60_000));
        log.appendAsLeader(Batches.batch(1, T0, "a"), 0);
        time.advance(59_000);
        log.appendAsLeader(Batches.batch(1, time.milliseconds(), "b"), 0);
        assertThat(log.segmentCount()).isEqualTo(1);
        time.advance(2_000);
        log.appendAsLeader(Batches.batch(1, time.milliseconds(), "c"), 0);
        assertThat(log.segmentBaseOffsets()).containsExactly(0L, 2L);
    }

    @Test
    void oldTimestampsDoNotRollASegmentPerAppend() throws Exception {
        // Kafka measures the wait from the first batch's timestamp to the incoming one, not to the clock, so a
        // replay of year-old records fills segments by size as usual.
        open(LogConfig.defaults().withSegmentMs(60_000));
        long yearAgo = T0 - 365L * 24 * 3_600_000;
        for (int i = 0; i < 10; i++) log.appendAsLeader(Batches.batch(1, yearAgo + i, "old"), 0);
        assertThat(log.segmentCount()).isEqualTo(1);
        log.appendAsLeader(Batches.batch(1, yearAgo + 61_000, "later"), 0);
        assertThat(log.segmentCount()).isEqualTo(2);
    }

    @Test
    void retentionByTimeDeletesOldClosedSegmentsAndAdvancesTheStartOffset() throws Exception {
        int batchBytes = Batches.batch(1, T0, "v0").remaining();
        open(LogConfig.defaults().withSegmentBytes(batchBytes * 2).withRetention(10_000, -1));
        for (int i = 0; i < 6; i++) {
            log.appendAsLeader(Batches.batch(1, time.milliseconds(), "v" + i), 0);
            time.advance(1_000);
        }
        // Segments [0,1] [2,3] [4,5]; the newest records are at T0+1s, T0+3s, T0+5s; now is T0+6s.
        assertThat(log.deleteOldSegments(time.milliseconds())).isEmpty();
        time.advance(5_500); // T0+11.5s: only the first segment's newest record is more than 10 s old
        List<Segment> doomed = log.deleteOldSegments(time.milliseconds());
        assertThat(doomed).extracting(Segment::baseOffset).containsExactly(0L);
        Log.deleteSegmentFiles(doomed, dir, log.logStartOffset());
        assertThat(log.logStartOffset()).isEqualTo(2);
        assertThat(Files.exists(dir.resolve(Segment.fileName(0, Segment.LOG_SUFFIX)))).isFalse();
        assertThatThrownBy(() -> log.read(1, 1000, true)).isInstanceOf(OffsetOutOfRangeException.class);
        // The active segment stays however old it is.
        time.advance(1_000_000);
        Log.deleteSegmentFiles(log.deleteOldSegments(time.milliseconds()), dir, log.logStartOffset());
        assertThat(log.segmentBaseOffsets()).containsExactly(4L);
        assertThat(Batches.decode(log.read(4, 1000, true).records())).extracting(Batches.Rec::value).containsExactly("v4-0", "v5-0");
        // The start offset survives a restart (checkpoint), the log end offset too.
        open(log.config());
        assertThat(log.logStartOffset()).isEqualTo(4);
        assertThat(log.logEndOffset()).isEqualTo(6);
    }

    @Test
    void retentionBySizeKeepsTheLogUnderTheLimit() throws Exception {
        int batchBytes = Batches.batch(1, T0, "v").remaining();
        open(LogConfig.defaults().withSegmentBytes(batchBytes).withRetention(-1, batchBytes * 3L));
        for (int i = 0; i < 8; i++) log.appendAsLeader(Batches.batch(1, T0, "v"), 0);
        assertThat(log.segmentCount()).isEqualTo(8);
        Log.deleteSegmentFiles(log.deleteOldSegments(time.milliseconds()), dir, log.logStartOffset());
        assertThat(log.sizeInBytes()).isEqualTo(batchBytes * 3L);
        assertThat(log.logStartOffset()).isEqualTo(5);
    }

    @Test
    void rejectsBadBatchesWithKafkasErrorsAndWritesNothing() throws Exception {
        open(LogConfig.defaults().withMaxMessageBytes(500));
        ByteBuffer big = Batches.batch(new long[] {T0}, 600);
        assertThatThrownBy(() -> log.appendAsLeader(big, 0)).isInstanceOf(RecordTooLargeException.class);
        ByteBuffer corrupt = Batches.batch(2, T0, "c");
        corrupt.put(corrupt.limit() - 1, (byte) (corrupt.get(corrupt.limit() - 1) ^ 1));
        assertThatThrownBy(() -> log.appendAsLeader(corrupt, 0)).isInstanceOf(CorruptRecordException.class);
        ByteBuffer truncated = Batches.batch(2, T0, "t");
        truncated.limit(truncated.limit() - 3);
        assertThatThrownBy(() -> log.appendAsLeader(truncated, 0)).isInstanceOf(CorruptRecordException.class);
        assertThatThrownBy(() -> log.appendAsLeader(ByteBuffer.allocate(0), 0)).isInstanceOf(InvalidRecordException.class);
        ByteBuffer v1 = MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V1, 0L, Compression.NONE, TimestampType.CREATE_TIME,
                new SimpleRecord(T0, "k".getBytes(), "v".getBytes())).buffer();
        assertThatThrownBy(() -> log.appendAsLeader(v1, 0)).isInstanceOf(UnsupportedForMessageFormatException.class);
        assertThat(log.logEndOffset()).isZero();
        assertThat(log.sizeInBytes()).isZero();
        // A good batch after the bad ones lands at offset 0.
        assertThat(log.appendAsLeader(Batches.batch(1, T0, "ok"), 0).firstOffset()).isZero();
    }

    @Test
    void storesBatchesByteForByteWithOnlyOffsetAndEpochRewritten() throws Exception {
        open(LogConfig.defaults());
        log.appendAsLeader(Batches.batch(3, T0, "a"), 0);
        ByteBuffer sent = Batches.batch(2, T0, "b", Compression.gzip().build());
        ByteBuffer copy = ByteBuffer.allocate(sent.remaining()).put(sent.duplicate()).flip();
        log.appendAsLeader(sent, 7);
        ByteBuffer stored = log.read(3, 10_000, true).records();
        assertThat(BatchHeader.baseOffset(stored, 0)).isEqualTo(3);
        assertThat(stored.getInt(12)).isEqualTo(7); // partition leader epoch
        copy.putLong(0, 3).putInt(12, 7);
        assertThat(stored).isEqualTo(copy);
        assertThat(Batches.decode(stored)).extracting(Batches.Rec::value).containsExactly("b-0", "b-1");
        assertThat(Batches.decode(stored)).extracting(Batches.Rec::headerValue).containsExactly("b-h0", "b-h1");
    }

    @Test
    void logAppendTimeStampsTheBrokerClock() throws Exception {
        LogConfig c = LogConfig.defaults();
        open(new LogConfig(c.segmentBytes(), c.segmentMs(), c.retentionMs(), c.retentionBytes(), c.maxMessageBytes(),
                c.indexIntervalBytes(), c.flushMessages(), c.flushMs(), true, false, true, c.deleteRetentionMs()));
        time.advance(5_000);
        AppendInfo info = log.appendAsLeader(Batches.batch(2, T0, "x"), 0);
        assertThat(info.logAppendTimeMs()).isEqualTo(T0 + 5_000);
        assertThat(Batches.decode(log.read(0, 1000, true).records())).extracting(Batches.Rec::timestamp).containsOnly(T0 + 5_000);
    }

    @Test
    void cleanCloseWritesCheckpointsSoThatNothingIsRevalidated() throws Exception {
        open(LogConfig.defaults());
        for (int i = 0; i < 5; i++) log.appendAsLeader(Batches.batch(2, T0, "v"), 0);
        assertThat(log.recoveryPoint()).isZero();
        log.close();
        assertThat(Checkpoints.read(dir.resolve(Checkpoints.RECOVERY_POINT))).hasValue(10);
        log = Log.open(dir, LogConfig.defaults(), time);
        assertThat(log.recoveryPoint()).isEqualTo(10);
        assertThat(log.logEndOffset()).isEqualTo(10);
    }

    @Test
    void flushTaskMakesTheRecoveryPointDurable() throws Exception {
        open(LogConfig.defaults());
        log.appendAsLeader(Batches.batch(4, T0, "v"), 0);
        assertThat(log.unflushedRecords()).isEqualTo(4);
        Log.FlushTask task = log.prepareFlush();
        assertThat(log.unflushedRecords()).isZero();
        log.onFlushed(task.run());
        assertThat(log.recoveryPoint()).isEqualTo(4);
        assertThat(Checkpoints.read(dir.resolve(Checkpoints.RECOVERY_POINT))).hasValue(4);
    }

    @BeforeEach
    void nothing() {
        // The log is opened by each test with the configuration it needs.
    }
}
