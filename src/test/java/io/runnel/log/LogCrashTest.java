package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.Batches.Rec;
import io.runnel.testkit.Batches;
import io.runnel.testkit.FileCorruptor;
import io.runnel.testkit.ManualTime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

/**
 * Crash tests (Kafka's LogSegmentTest.testRecoveryWithCorruptMessage, at every kind of byte): write a log, stop it
 * as kill -9 would (nothing flushed, no checkpoint), damage one file at a random byte, open it again. Every intact
 * batch before the damage must be served, nothing from the damaged batch on, and no batch with a bad CRC ever.
 */
class LogCrashTest {
    private static final long T0 = 1_700_000_000_000L;

    /** One batch as written: where it lies and what it holds. */
    private record Written(Path file, long position, int size, long baseOffset, long lastOffset) {
    }

    @Property(tries = 250)
    void recoversFromAnyDamage(@ForAll @LongRange(min = 0, max = 1L << 40) long seed) throws Exception {
        Random rnd = new Random(seed);
        Path dir = Files.createTempDirectory("runnel-crash");
        try {
            LogConfig config = LogConfig.defaults().withSegmentBytes(600 + rnd.nextInt(1500)).withIndexIntervalBytes(rnd.nextInt(300));
            ManualTime time = new ManualTime(T0);
            List<Written> written = writeLog(dir, config, time, rnd);
            long total = written.get(written.size() - 1).lastOffset() + 1;

            int kind = rnd.nextInt(6);
            long expectedEnd;
            if (kind <= 2) {
                // Damage a .log: cut it, flip a byte, or append garbage (a torn write).
                Written hit = written.get(rnd.nextInt(written.size()));
                List<Written> inFile = written.stream().filter(w -> w.file().equals(hit.file())).toList();
                if (kind == 0) {
                    long cut = hit.position() + rnd.nextInt(hit.size());
                    FileCorruptor.truncate(hit.file(), cut);
                    expectedEnd = hit.baseOffset();
                } else if (kind == 1) {
                    FileCorruptor.flip(hit.file(), hit.position() + damageableByte(rnd, hit.size()));
                    expectedEnd = hit.baseOffset();
                } else {
                    Written last = inFile.get(inFile.size() - 1);
                    byte[] garbage = new byte[1 + rnd.nextInt(200)];
                    if (rnd.nextBoolean()) rnd.nextBytes(garbage);
                    FileCorruptor.appendGarbage(last.file(), garbage);
                    expectedEnd = written.stream().filter(w -> w.file().equals(last.file())).mapToLong(Written::lastOffset).max().orElseThrow() + 1;
                    // Garbage in a non-last segment makes the segments that follow unreachable: they are dropped.
                }
            } else {
                // Damage an index: cut it, flip a byte, or delete it. The log itself is intact.
                List<Path> indexes = files(dir, ".index", ".timeindex");
                Path index = indexes.get(rnd.nextInt(indexes.size()));
                long size = Files.size(index);
                if (kind == 3 || size == 0) FileCorruptor.truncate(index, size == 0 ? 0 : rnd.nextInt((int) size));
                else if (kind == 4) FileCorruptor.flip(index, rnd.nextInt((int) size));
                else Files.delete(index);
                expectedEnd = total;
            }

            Log log = Log.open(dir, config, time);
            try {
                assertThat(log.logEndOffset()).isLessThanOrEqualTo(total);
                if (kind != 2) assertThat(log.logEndOffset()).isEqualTo(expectedEnd);
                else assertThat(log.logEndOffset()).isGreaterThanOrEqualTo(expectedEnd);
                // Every offset below the end is served once, in order, from batches whose CRC is valid.
                List<Rec> all = new ArrayList<>();
                long next = 0;
                while (next < log.logEndOffset()) {
                    List<Rec> got = Batches.decode(log.read(next, 100 + rnd.nextInt(1000), true).records());
                    for (Rec r : got) if (r.offset() >= next) all.add(r);
                    next = got.get(got.size() - 1).offset() + 1;
                }
                assertThat(all).hasSize((int) log.logEndOffset());
                for (int i = 0; i < all.size(); i++) assertThat(all.get(i).offset()).isEqualTo(i);
                // The log takes appends again after recovery.
                log.appendAsLeader(Batches.batch(2, T0, "after"), 0);
                assertThat(Batches.decode(log.read(log.logEndOffset() - 2, 1000, true).records()))
                        .extracting(Rec::value).containsExactly("after-0", "after-1");
            } finally {
                log.close();
            }
            // A clean close leaves nothing to recover: the next open serves the same offsets.
            Log again = Log.open(dir, config, time);
            assertThat(again.recoveryPoint()).isEqualTo(again.logEndOffset());
            again.close();
        } finally {
            Log.deleteDirectory(dir);
        }
    }

    /**
     * A byte of a batch whose damage recovery must detect: anything but the 4-byte partition leader epoch (bytes 12
     * to 15), which Kafka's format leaves outside the CRC. Epochs are validated against the leader-epoch history
     * once replication exists.
     */
    private static int damageableByte(Random rnd, int batchSize) {
        int b;
        do {
            b = rnd.nextInt(batchSize);
        } while (b >= 12 && b < 16);
        return b;
    }

    private static List<Written> writeLog(Path dir, LogConfig config, ManualTime time, Random rnd) throws IOException {
        Log log = Log.open(dir, config, time);
        int batches = 20 + rnd.nextInt(30);
        for (int i = 0; i < batches; i++) {
            long[] ts = new long[1 + rnd.nextInt(5)];
            for (int j = 0; j < ts.length; j++) ts[j] = time.milliseconds() + rnd.nextInt(1000);
            log.appendAsLeader(Batches.batch(ts, 10 + rnd.nextInt(60)), 0);
            time.advance(100);
        }
        List<Written> written = new ArrayList<>();
        for (Segment s : log.segmentList()) {
            Path file = dir.resolve(Segment.fileName(s.baseOffset(), Segment.LOG_SUFFIX));
            var bytes = ByteBuffer.wrap(Files.readAllBytes(file));
            int pos = 0;
            while (pos < bytes.limit()) {
                int size = BatchHeader.batchSize(bytes, pos);
                written.add(new Written(file, pos, size, BatchHeader.baseOffset(bytes, pos), BatchHeader.lastOffset(bytes, pos)));
                pos += size;
            }
        }
        log.closeForDeletion(); // kill -9: no flush, no checkpoint
        return written;
    }

    private static List<Path> files(Path dir, String... suffixes) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> Stream.of(suffixes).anyMatch(x -> p.toString().endsWith(x))).sorted().toList();
        }
    }
}
