package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.testkit.Batches;
import io.runnel.testkit.ManualTime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Log#slice}, the zero-copy fetch path: for every start offset, byte limit, KIP-74 flag and high watermark,
 * the slice of the segment file holds exactly the bytes {@link Log#read} returns (whole batches), over segments
 * that mix batches far larger than the header window with many tiny ones.
 */
class LogSliceTest {
    private static final long T0 = 1_700_000_000_000L;

    @TempDir
    Path dir;

    @Test
    void slicesHoldExactlyWhatAReadReturns() throws Exception {
        Log log = Log.open(dir, LogConfig.defaults().withSegmentBytes(200_000).withIndexIntervalBytes(1000), new ManualTime(T0));
        try {
            for (int i = 0; i < 60; i++) {
                // Runs of tiny batches (many headers per window) between batches of 10-30 KB (one header per read).
                int n = i % 7 == 0 ? 20 + i : 1 + i % 3;
                long[] ts = new long[n];
                java.util.Arrays.fill(ts, T0 + i);
                log.appendAsLeader(Batches.batch(ts, i % 7 == 0 ? 500 : 10), 0);
            }
            assertThat(log.segmentCount()).isGreaterThan(1);
            long end = log.logEndOffset();
            int[] limits = {0, 1, 100, 5_000, 40_000, 1 << 20};
            for (long at = 0; at < end; at++) {
                for (int max : limits) {
                    assertSameAsRead(log, at, max, true, end);
                    assertSameAsRead(log, at, max, false, end);
                    assertSameAsRead(log, at, max, true, at + 1 + (end - at) / 2);
                }
            }
            // Reading sequentially (the hinted path) gives the same bytes as fresh reads.
            long next = 0;
            while (next < end) {
                LogSlice s = assertSameAsRead(log, next, 3_000, true, end);
                next = s.lastOffset() + 1;
            }
            assertThat(log.slice(end, 100, true, end).records().size()).isZero();
            assertThatThrownBy(() -> log.slice(end + 1, 100, true, Long.MAX_VALUE)).isInstanceOf(OffsetOutOfRangeException.class);
        } finally {
            log.close();
        }
    }

    /** Checks that the slice's bytes equal the read's and its last offset is the read's last batch's. */
    static LogSlice assertSameAsRead(Log log, long at, int max, boolean minOne, long upTo) throws IOException {
        ByteBuffer read = log.read(at, max, minOne, upTo).records();
        SliceResult sr = log.slice(at, max, minOne, upTo);
        LogSlice slice = sr.records();
        assertThat(slice.size()).as("slice size from %d, max %d, minOne %s, upTo %d", at, max, minOne, upTo).isEqualTo(read.remaining());
        if (slice.size() > 0) {
            ByteBuffer bytes = ByteBuffer.allocate(slice.size());
            while (bytes.hasRemaining()) slice.channel().read(bytes, slice.position() + bytes.position());
            assertThat(bytes.flip()).isEqualTo(read);
            var batches = Batches.batchOffsets(read);
            assertThat(slice.lastOffset()).isEqualTo(batches.get(batches.size() - 1)[1]);
        }
        return slice;
    }
}
