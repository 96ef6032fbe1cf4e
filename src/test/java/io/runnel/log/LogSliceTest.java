package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.LogSlice;
import io.runnel.testkit.Batches;
import io.runnel.testkit.ManualTime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Log#slice}, which both the zero-copy fetch path and {@link Log#read} use, against a model of the appended
 * batches: for every start offset, byte limit, KIP-74 flag and high watermark, the slice holds exactly the batches
 * (byte for byte) that the rules choose, over segments that mix batches far larger than the header window with
 * many tiny ones.
 */
class LogSliceTest {
    private static final long T0 = 1_700_000_000_000L;

    @TempDir
    Path dir;

    /** An appended batch as the log stores it. */
    private record Appended(long base, long last, ByteBuffer bytes) {
    }

    @Test
    void slicesHoldExactlyTheBatchesTheRulesChoose() throws Exception {
        Log log = Log.open(dir, LogConfig.defaults().withSegmentBytes(200_000).withIndexIntervalBytes(1000), new ManualTime(T0));
        try {
            List<Appended> model = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                // Runs of tiny batches (many headers per window) between batches of 10-30 KB (one header per read).
                int n = i % 7 == 0 ? 20 + i : 1 + i % 3;
                long[] ts = new long[n];
                Arrays.fill(ts, T0 + i);
                ByteBuffer batch = Batches.batch(ts, i % 7 == 0 ? 500 : 10);
                AppendInfo info = log.appendAsLeader(batch, 0); // the buffer now holds the stored bytes
                model.add(new Appended(info.firstOffset(), info.lastOffset(), batch));
            }
            assertThat(log.segmentCount()).isGreaterThan(1);
            long end = log.logEndOffset();
            int[] limits = {0, 1, 100, 5_000, 40_000, 1 << 20};
            for (long at = 0; at < end; at++) {
                // Limits that fall exactly on batch ends too: the first batch, and the first two together.
                int k = 0;
                while (model.get(k).last() < at) k++;
                int one = model.get(k).bytes().remaining();
                int two = one + (k + 1 < model.size() ? model.get(k + 1).bytes().remaining() : 0);
                for (int max : new int[] {limits[0], limits[1], limits[2], limits[3], limits[4], limits[5], one, one - 1, two, two - 1}) {
                    assertSlice(log, model, at, max, true, end);
                    assertSlice(log, model, at, max, false, end);
                    assertSlice(log, model, at, max, true, at + 1 + (end - at) / 2);
                }
            }
            // Reading sequentially (the hinted path) gives what fresh reads give.
            long next = 0;
            while (next < end) next = assertSlice(log, model, next, 3_000, true, end).lastOffset() + 1;
            assertThat(log.slice(end, 100, true, end).records().size()).isZero();
            assertThatThrownBy(() -> log.slice(end + 1, 100, true, Long.MAX_VALUE)).isInstanceOf(OffsetOutOfRangeException.class);
        } finally {
            log.close();
        }
    }

    /**
     * The model's choice: from the batch holding {@code at}, the following batches of the same segment that end
     * before {@code upTo} while their total stays within {@code max}; the first one alone when it is larger and
     * {@code minOne}.
     */
    private static LogSlice assertSlice(Log log, List<Appended> model, long at, int max, boolean minOne, long upTo) throws IOException {
        List<Long> segmentBases = log.segmentBaseOffsets();
        int first = 0;
        while (model.get(first).last() < at) first++;
        long segment = segmentOf(segmentBases, model.get(first).base());
        ByteArrayOutputStream want = new ByteArrayOutputStream();
        long wantLast = at - 1;
        for (int i = first; i < model.size(); i++) {
            Appended b = model.get(i);
            if (b.last() >= upTo || segmentOf(segmentBases, b.base()) != segment) break;
            int size = b.bytes().remaining();
            if (want.size() + size > max && !(i == first && minOne)) break;
            want.write(b.bytes().array(), b.bytes().arrayOffset() + b.bytes().position(), size);
            wantLast = b.last();
        }
        LogSlice slice = log.slice(at, max, minOne, upTo).records();
        String what = String.format("slice from %d, max %d, minOne %s, upTo %d", at, max, minOne, upTo);
        assertThat(slice.size()).as(what).isEqualTo(want.size());
        assertThat(slice.readBytes()).as(what).isEqualTo(ByteBuffer.wrap(want.toByteArray()));
        if (slice.size() > 0) assertThat(slice.lastOffset()).as(what).isEqualTo(wantLast);
        return slice;
    }

    private static long segmentOf(List<Long> bases, long offset) {
        long s = bases.get(0);
        for (long b : bases) if (b <= offset) s = b;
        return s;
    }

    /**
     * What any slice must be, without a model of batches: whole batches whose bytes parse completely, the first
     * holding {@code at}, all ending before {@code upTo}, within {@code max} unless it is one batch taken by KIP-74,
     * and the same bytes as {@link Log#read} returns.
     */
    static void assertWellFormed(Log log, long at, int max, boolean minOne, long upTo) throws IOException {
        LogSlice slice = log.slice(at, max, minOne, upTo).records();
        ByteBuffer bytes = slice.readBytes();
        assertThat(bytes).isEqualTo(log.read(at, max, minOne, upTo).records());
        if (slice.size() == 0) return;
        List<long[]> batches = Batches.batchOffsets(bytes);
        int parsed = 0;
        for (var b : MemoryRecords.readableRecords(bytes.duplicate()).batches()) parsed += b.sizeInBytes();
        assertThat(parsed).isEqualTo(slice.size());
        assertThat(batches.get(0)[0]).isLessThanOrEqualTo(at);
        assertThat(batches.get(0)[1]).isGreaterThanOrEqualTo(at);
        assertThat(batches.get(batches.size() - 1)[1]).isEqualTo(slice.lastOffset()).isLessThan(upTo);
        if (slice.size() > max) assertThat(minOne && batches.size() == 1).isTrue();
    }
}
