package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.ReadResult;
import io.runnel.log.value.TimestampOffset;
import io.runnel.testkit.Batches.Rec;
import io.runnel.testkit.Batches;
import io.runnel.testkit.ManualTime;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/**
 * Append, read (and its zero-copy slice), timestamp lookup, roll, retention, clean reopen and crash reopen, in random order with random batch
 * sizes and tiny segments, checked after every step against a list of records in memory. A failure names the seed,
 * and jqwik replays it.
 */
class LogPropertyTest {
    private static final long T0 = 1_700_000_000_000L;

    @Property(tries = 100)
    void behavesLikeAListOfRecords(@ForAll @LongRange(min = 0, max = 1L << 40) long seed,
                                   @ForAll @IntRange(min = 100, max = 3000) int segmentBytes,
                                   @ForAll @IntRange(min = 0, max = 600) int indexIntervalBytes) throws Exception {
        Random rnd = new Random(seed);
        Path dir = Files.createTempDirectory("runnel-prop");
        ManualTime time = new ManualTime(T0);
        long retentionBytes = rnd.nextBoolean() ? -1 : 2L * segmentBytes + rnd.nextInt(4 * segmentBytes);
        LogConfig config = LogConfig.defaults().withSegmentBytes(segmentBytes).withIndexIntervalBytes(indexIntervalBytes)
                .withRetention(rnd.nextBoolean() ? -1 : 20_000, retentionBytes);
        List<Rec> model = new ArrayList<>();
        long logStart = 0;
        Log log = Log.open(dir, config, time);
        try {
            for (int step = 0; step < 60; step++) {
                int op = rnd.nextInt(100);
                if (op < 70) {
                    int n = 1 + rnd.nextInt(8);
                    long[] ts = new long[n];
                    for (int i = 0; i < n; i++) ts[i] = time.milliseconds() - 5_000 + rnd.nextInt(10_000);
                    ByteBuffer batch = Batches.batch(ts, rnd.nextInt(120));
                    long first = log.logEndOffset();
                    AppendInfo info = log.appendAsLeader(batch, 0);
                    assertThat(info.firstOffset()).isEqualTo(first);
                    assertThat(info.lastOffset()).isEqualTo(first + n - 1);
                    for (int i = 0; i < n; i++) model.add(new Rec(first + i, ts[i], null, null, null));
                    time.advance(rnd.nextInt(3_000));
                } else if (op < 78) {
                    log.close();
                    log = Log.open(dir, config, time);
                } else if (op < 86) {
                    log.closeForDeletion(); // as after kill -9: nothing flushed, no checkpoint written
                    log = Log.open(dir, config, time);
                } else {
                    time.advance(rnd.nextInt(15_000));
                    List<Segment> doomed = log.deleteOldSegments(time.milliseconds());
                    Log.deleteSegmentFiles(doomed, dir, log.logStartOffset());
                    assertThat(log.logStartOffset()).isGreaterThanOrEqualTo(logStart);
                    logStart = log.logStartOffset();
                    if (retentionBytes >= 0 && log.segmentCount() > 1) {
                        long firstSize = log.segmentList().iterator().next().size();
                        assertThat(log.sizeInBytes() - firstSize).isLessThan(retentionBytes);
                    }
                }
                check(log, model, logStart, rnd);
            }
        } finally {
            log.close();
            Log.deleteDirectory(dir);
        }
    }

    private static void check(Log log, List<Rec> model, long logStart, Random rnd) throws Exception {
        assertThat(log.logEndOffset()).isEqualTo(model.size());
        assertThat(log.logStartOffset()).isEqualTo(logStart);
        // A full scan returns exactly the retained records, in order.
        List<Rec> all = new ArrayList<>();
        long next = logStart;
        while (next < log.logEndOffset()) {
            ReadResult r = log.read(next, 1 + rnd.nextInt(700), true);
            List<Rec> got = Batches.decode(r.records());
            assertThat(got).isNotEmpty();
            assertThat(got.get(0).offset()).isLessThanOrEqualTo(next);
            for (Rec g : got) if (g.offset() >= next) all.add(g);
            next = got.get(got.size() - 1).offset() + 1;
        }
        List<Rec> expected = model.subList((int) logStart, model.size());
        assertThat(all).extracting(Rec::offset).containsExactlyElementsOf(expected.stream().map(Rec::offset).toList());
        assertThat(all).extracting(Rec::timestamp).containsExactlyElementsOf(expected.stream().map(Rec::timestamp).toList());
        // A read from any offset starts with the batch that holds it.
        if (!expected.isEmpty()) {
            long at = logStart + rnd.nextInt(expected.size());
            List<Rec> got = Batches.decode(log.read(at, 1, true).records());
            assertThat(got).extracting(Rec::offset).contains(at);
            assertThat(Batches.decode(log.read(at, 1, false).records())).isEmpty();
        }
        assertThat(log.read(log.logEndOffset(), 1000, true).isEmpty()).isTrue();
        // The zero-copy path's slices (whose bytes every read above returned) are whole batches within the limits.
        if (!expected.isEmpty()) {
            long at = logStart + rnd.nextInt(expected.size());
            long upTo = at + 1 + rnd.nextInt((int) (log.logEndOffset() - at));
            int max = rnd.nextInt(900);
            boolean minOne = rnd.nextBoolean();
            LogSliceTest.assertWellFormed(log, at, max, minOne, upTo);
        }
        // Timestamp lookups agree with the model.
        for (int i = 0; i < 3; i++) {
            long target = T0 - 10_000 + rnd.nextInt(200_000);
            Optional<Rec> want = expected.stream().filter(r -> r.timestamp() >= target).findFirst();
            Optional<TimestampOffset> got = log.offsetForTimestamp(target);
            assertThat(got.map(TimestampOffset::offset)).isEqualTo(want.map(Rec::offset));
            assertThat(got.map(TimestampOffset::timestamp)).isEqualTo(want.map(Rec::timestamp));
        }
        Optional<Rec> max = expected.stream().reduce((a, b) -> b.timestamp() > a.timestamp() ? b : a);
        assertThat(log.maxTimestampRecord().map(TimestampOffset::offset)).isEqualTo(max.map(Rec::offset));
    }
}
