package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.EpochEnd;
import io.runnel.log.value.ReadResult;
import io.runnel.testkit.Batches;
import io.runnel.testkit.ManualTime;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log operations replication is built on: appending a leader's batches as they are (offsets and leader epochs
 * kept), truncating a diverged tail, reading below a high watermark, and the leader-epoch cache that tells a follower
 * where its log diverged.
 */
class LogReplicationTest {
    private static final long T0 = 1_700_000_000_000L;
    @TempDir
    Path leaderDir;
    @TempDir
    Path followerDir;
    private final ManualTime time = new ManualTime(T0);
    private Log leader;
    private Log follower;

    @AfterEach
    void close() throws Exception {
        if (leader != null) leader.close();
        if (follower != null) follower.close();
    }

    private static ByteBuffer leaderBatch(long base, int count, int epoch, String prefix) {
        return Batches.leaderBatch(base, count, epoch, T0, prefix);
    }

    /** Every record of the log, reading segment after segment as a consumer would. */
    private static List<Batches.Rec> all(Log log) throws Exception {
        List<Batches.Rec> out = new ArrayList<>();
        long next = log.logStartOffset();
        while (next < log.logEndOffset()) {
            List<Batches.Rec> got = Batches.decode(log.read(next, Integer.MAX_VALUE, true).records());
            out.addAll(got);
            next = got.get(got.size() - 1).offset() + 1;
        }
        return out;
    }

    @Test
    void aFollowerAppendsTheLeadersBatchesAsTheyAreAndRefusesGaps() throws Exception {
        leader = Log.open(leaderDir, LogConfig.defaults(), time);
        leader.appendAsLeader(Batches.batch(3, T0, "a"), 0);
        leader.appendAsLeader(Batches.batch(2, T0, "b"), 0);
        leader.appendAsLeader(Batches.batch(4, T0, "c"), 1);
        ByteBuffer copied = leader.read(0, Integer.MAX_VALUE, true).records();

        follower = Log.open(followerDir, LogConfig.defaults(), time);
        AppendInfo info = follower.appendAsFollower(copied.duplicate());
        assertThat(info.firstOffset()).isZero();
        assertThat(info.lastOffset()).isEqualTo(8);
        assertThat(follower.logEndOffset()).isEqualTo(leader.logEndOffset());
        assertThat(follower.read(0, Integer.MAX_VALUE, true).records()).isEqualTo(copied); // byte for byte, epochs included
        assertThat(LeaderEpochCache.rebuild(followerDir, follower).entries())
                .containsExactly(new LeaderEpochCache.Entry(0, 0), new LeaderEpochCache.Entry(1, 5));

        assertThatThrownBy(() -> follower.appendAsFollower(leaderBatch(12, 1, 1, "gap"))).isInstanceOf(InvalidRecordException.class)
                .hasMessageContaining("offset 9 was expected");
        assertThatThrownBy(() -> follower.appendAsFollower(leaderBatch(3, 1, 1, "old"))).isInstanceOf(InvalidRecordException.class);
        ByteBuffer corrupt = leaderBatch(9, 2, 1, "bad");
        corrupt.put(corrupt.limit() - 1, (byte) (corrupt.get(corrupt.limit() - 1) ^ 1));
        assertThatThrownBy(() -> follower.appendAsFollower(corrupt)).isInstanceOf(CorruptRecordException.class);
        assertThat(follower.logEndOffset()).isEqualTo(9); // nothing of the refused appends was written
        follower.appendAsFollower(leaderBatch(9, 2, 2, "next"));
        assertThat(all(follower)).extracting(Batches.Rec::offset).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    }

    @Test
    void truncationRemovesTheBatchHoldingTheOffsetAndEverythingAfterAcrossSegments() throws Exception {
        int batchBytes = Batches.batch(3, T0, "v").remaining();
        LogConfig small = LogConfig.defaults().withSegmentBytes(batchBytes * 4);
        follower = Log.open(followerDir, small, time);
        for (int i = 0; i < 20; i++) follower.appendAsLeader(Batches.batch(3, T0, "v"), 0); // offsets 0..59, 5 segments
        assertThat(follower.segmentBaseOffsets()).containsExactly(0L, 12L, 24L, 36L, 48L);

        follower.truncateTo(31); // inside the batch 30..32 of the segment at 24
        assertThat(follower.logEndOffset()).isEqualTo(30);
        assertThat(follower.segmentBaseOffsets()).containsExactly(0L, 12L, 24L);
        assertThat(Files.exists(followerDir.resolve(Segment.fileName(36, Segment.LOG_SUFFIX)))).isFalse();
        assertThat(all(follower)).hasSize(30).last().extracting(Batches.Rec::offset).isEqualTo(29L);
        assertThatThrownBy(() -> follower.read(31, 100, true)).isInstanceOf(OffsetOutOfRangeException.class);

        follower.truncateTo(24); // exactly a segment's base: that segment goes
        assertThat(follower.logEndOffset()).isEqualTo(24);
        assertThat(follower.segmentBaseOffsets()).containsExactly(0L, 12L);
        follower.truncateTo(100); // past the end: nothing happens
        assertThat(follower.logEndOffset()).isEqualTo(24);

        AppendInfo next = follower.appendAsLeader(Batches.batch(2, T0, "after"), 1);
        assertThat(next.firstOffset()).isEqualTo(24);
        follower.close();
        follower = Log.open(followerDir, small, time); // reopens consistently: same end, same records
        assertThat(follower.logEndOffset()).isEqualTo(26);
        assertThat(all(follower)).extracting(Batches.Rec::offset).hasSize(26).endsWith(24L, 25L);
        assertThat(all(follower).get(24).value()).isEqualTo("after-0");
    }

    @Test
    void truncatingToTheLogStartEmptiesTheLogThere() throws Exception {
        follower = Log.open(followerDir, LogConfig.defaults(), time);
        for (int i = 0; i < 5; i++) follower.appendAsLeader(Batches.batch(2, T0, "v"), 0);
        follower.truncateTo(0);
        assertThat(follower.logEndOffset()).isZero();
        assertThat(follower.logStartOffset()).isZero();
        assertThat(all(follower)).isEmpty();
        follower.appendAsFollower(leaderBatch(0, 3, 4, "fresh"));
        assertThat(all(follower)).extracting(Batches.Rec::value).containsExactly("fresh-0", "fresh-1", "fresh-2");
    }

    @Test
    void readsBelowAHighWatermarkStopAtIt() throws Exception {
        leader = Log.open(leaderDir, LogConfig.defaults(), time);
        for (int i = 0; i < 4; i++) leader.appendAsLeader(Batches.batch(5, T0, "v" + i), 0); // batches end at 4, 9, 14, 19
        ReadResult r = leader.read(0, Integer.MAX_VALUE, true, 10);
        assertThat(Batches.decode(r.records())).hasSize(10).last().extracting(Batches.Rec::offset).isEqualTo(9L);
        assertThat(r.logEndOffset()).isEqualTo(10); // what a consumer sees as the end: the high watermark
        assertThat(leader.read(10, Integer.MAX_VALUE, true, 10).records().remaining()).isZero(); // at the watermark: nothing yet
        // Past the watermark but within the log (a consumer ahead of a new leader's lagging watermark): nothing yet, as
        // Kafka answers; only past the log end is out of range.
        assertThat(leader.read(15, 100, true, 10).records().remaining()).isZero();
        assertThatThrownBy(() -> leader.read(21, 100, true, 10)).isInstanceOf(OffsetOutOfRangeException.class);
        assertThat(Batches.decode(leader.read(5, Integer.MAX_VALUE, true, 20).records())).hasSize(15);
    }

    @Test
    void theLeaderEpochCacheAnswersWhereEachEpochEndedAndFollowsTruncation() throws Exception {
        leader = Log.open(leaderDir, LogConfig.defaults(), time);
        assertThat(LeaderEpochCache.load(leaderDir)).isNull(); // none yet: built from the log
        LeaderEpochCache cache = LeaderEpochCache.rebuild(leaderDir, leader);
        assertThat(cache.latestEpoch()).isEqualTo(LeaderEpochCache.UNDEFINED_EPOCH);
        cache.assign(1, 0);
        cache.assign(3, 10);
        cache.assign(2, 12); // older than the latest: ignored
        assertThat(cache.assign(5, 25)).isTrue();
        assertThat(cache.assign(4, 30)).isFalse();
        assertThat(LeaderEpochCache.load(leaderDir).entries()).as("assign writes nothing: its owner writes the checkpoint").isEmpty();
        LeaderEpochCache.writeCheckpoint(leaderDir, cache.checkpoint());
        assertThat(cache.endOffsetFor(1, 40)).isEqualTo(new EpochEnd(1, 10));
        assertThat(cache.endOffsetFor(2, 40)).isEqualTo(new EpochEnd(1, 10)); // never a leader epoch here: the one before
        assertThat(cache.endOffsetFor(3, 40)).isEqualTo(new EpochEnd(3, 25));
        assertThat(cache.endOffsetFor(5, 40)).isEqualTo(new EpochEnd(5, 40)); // the latest ends at the log end
        assertThat(cache.endOffsetFor(7, 40)).isEqualTo(new EpochEnd(5, 40));
        assertThat(cache.endOffsetFor(0, 40)).isEqualTo(new EpochEnd(-1, -1)); // before everything known

        LeaderEpochCache reloaded = LeaderEpochCache.load(leaderDir);
        assertThat(reloaded.entries()).isEqualTo(cache.entries()); // the checkpoint file holds it
        reloaded.truncateFromEnd(25);
        assertThat(reloaded.entries()).containsExactly(new LeaderEpochCache.Entry(1, 0), new LeaderEpochCache.Entry(3, 10));
        reloaded.truncateFromStart(12);
        assertThat(reloaded.entries()).containsExactly(new LeaderEpochCache.Entry(3, 12));
        assertThat(LeaderEpochCache.load(leaderDir).entries()).containsExactly(new LeaderEpochCache.Entry(3, 12));
        reloaded.assign(6, 12); // a new epoch at an offset where epoch 3 wrote nothing replaces it
        assertThat(reloaded.entries()).containsExactly(new LeaderEpochCache.Entry(6, 12));

        Files.writeString(leaderDir.resolve(LeaderEpochCache.FILE), "0\n2\n4 10\n3 12\n"); // epochs out of order: damaged
        assertThat(LeaderEpochCache.load(leaderDir)).isNull();
    }

    /** A crash after records of a new epoch were written but before its checkpoint was: start-up takes it from the log. */
    @Test
    void epochsMissingFromTheCheckpointAreTakenFromTheBatchesAfterTheRecoveryPoint() throws Exception {
        follower = Log.open(followerDir, LogConfig.defaults(), time);
        follower.appendAsFollower(leaderBatch(0, 5, 1, "one"));
        LeaderEpochCache cache = LeaderEpochCache.rebuild(followerDir, follower); // checkpoint: epoch 1 at 0
        follower.appendAsFollower(leaderBatch(5, 5, 2, "two"));
        follower.appendAsFollower(leaderBatch(10, 5, 4, "four"));
        LeaderEpochCache loaded = LeaderEpochCache.load(followerDir);
        assertThat(loaded.entries()).containsExactly(new LeaderEpochCache.Entry(1, 0));
        loaded.assignFrom(follower, 3); // from the batch holding offset 3
        assertThat(loaded.entries()).containsExactly(new LeaderEpochCache.Entry(1, 0), new LeaderEpochCache.Entry(2, 5), new LeaderEpochCache.Entry(4, 10));
        assertThat(LeaderEpochCache.load(followerDir).entries()).isEqualTo(loaded.entries());
        loaded.assignFrom(follower, 15); // nothing after the log end
        assertThat(loaded.entries()).hasSize(3);
        assertThat(cache.entries()).containsExactly(new LeaderEpochCache.Entry(1, 0));
    }
}
