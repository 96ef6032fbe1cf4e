package io.runnel.bench;

import io.runnel.log.BatchHeader;
import io.runnel.log.Log;
import io.runnel.log.LogConfig;
import io.runnel.log.value.ReadResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Time;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Append and sequential read of the partition log, next to the machine's page-cache bandwidth measured the same way
 * (a plain FileChannel loop), for 100-byte records in 16 KiB and 1 MiB batches. Every benchmark method moves one
 * batch, so ops/s times {@code batchBytes} is bytes/s; {@link LogBench} prints the ratios. Run with
 * {@code scripts/bench-log}. Files live under {@code target/bench-data} and are deleted afterwards; the log and the
 * baseline file both stay below {@link #WINDOW_BYTES} on disk by deleting old segments / wrapping around.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LogBenchmark {
    /** Bytes kept on disk per benchmark: large enough to leave the CPU caches, small enough for any page cache. */
    static final long WINDOW_BYTES = 512L << 20;

    @Param({"16384", "1048576"})
    public int batchBytes;

    private Path dir;
    private Log log;
    private ByteBuffer batch;
    private FileChannel plain;
    private ByteBuffer plainBuf;
    private long plainPos;
    private long readOffset;
    private static final int SEGMENT_BYTES = 128 << 20;
    private final ArrayDeque<Path> appendFiles = new ArrayDeque<>();
    private FileChannel appendFile;
    private long appendPos;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Files.createDirectories(Path.of("target", "bench-data"));
        dir = Files.createTempDirectory(Path.of("target", "bench-data"), "log");
        batch = batchOf(batchBytes);
        LogConfig config = LogConfig.defaults().withSegmentBytes(SEGMENT_BYTES).withRetention(-1, WINDOW_BYTES)
                .withMaxMessageBytes(Integer.MAX_VALUE);
        log = Log.open(dir.resolve("bench-0"), config, Time.SYSTEM);
        // Fill the window once so that reads have data; appends continue from there.
        while (log.sizeInBytes() < WINDOW_BYTES) log.appendAsLeader(batch, 0);
        plain = FileChannel.open(dir.resolve("plain.bin"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        plainBuf = ByteBuffer.allocate(batch.remaining());
        plainBuf.put(batch.duplicate()).flip();
        while (plainPos < WINDOW_BYTES) plainPos += plain.write(plainBuf.duplicate(), plainPos);
        plainPos = 0;
        readOffset = log.logStartOffset();
        appendFiles.add(dir.resolve("append-first.bin"));
        appendFile = FileChannel.open(appendFiles.getLast(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    /** A v2 batch of 100-byte records, about {@code bytes} long, built the way a producer builds it. */
    static ByteBuffer batchOf(int bytes) {
        ByteBuffer buf = ByteBuffer.allocate(bytes + 1024);
        MemoryRecordsBuilder b = MemoryRecords.builder(buf, RecordBatch.MAGIC_VALUE_V2, Compression.NONE, TimestampType.CREATE_TIME, 0L);
        byte[] value = new byte[100];
        long ts = System.currentTimeMillis();
        while (b.estimatedSizeInBytes() + 130 < bytes) b.append(ts, null, value);
        return b.build().buffer();
    }

    @Benchmark
    public long appendBatch() throws IOException {
        long last = log.appendAsLeader(batch, 0).lastOffset();
        if (log.sizeInBytes() > WINDOW_BYTES + (256L << 20)) {
            Log.deleteSegmentFiles(log.deleteOldSegments(System.currentTimeMillis()), log.dir(), log.logStartOffset());
        }
        return last;
    }

    @Benchmark
    public int readBatch() throws IOException {
        if (readOffset >= log.logEndOffset() || readOffset < log.logStartOffset()) readOffset = log.logStartOffset();
        ReadResult r = log.read(readOffset, batch.remaining(), true);
        ByteBuffer bytes = r.records();
        readOffset = BatchHeader.baseOffset(bytes, 0) + bytes.getInt(23) + 1;
        return bytes.remaining();
    }

    /**
     * The baseline for appends: what the log does minus everything Runnel adds. It appends to 128 MiB files and
     * deletes the oldest once past the window, so that, like the log, it writes into fresh pages of the page cache
     * (overwriting cached pages in place would be a faster, unfair baseline).
     */
    @Benchmark
    public int pageCacheWrite() throws IOException {
        if (appendPos >= SEGMENT_BYTES) rotateAppendFile();
        int n = appendFile.write(plainBuf.duplicate(), appendPos);
        appendPos += n;
        return n;
    }

    private void rotateAppendFile() throws IOException {
        appendFile.close();
        appendFiles.addLast(dir.resolve("append-" + appendFiles.size() + "-" + System.nanoTime() + ".bin"));
        appendFile = FileChannel.open(appendFiles.getLast(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        appendPos = 0;
        while ((long) appendFiles.size() * SEGMENT_BYTES > WINDOW_BYTES + (256L << 20)) Files.delete(appendFiles.removeFirst());
    }

    @Benchmark
    public int pageCacheRead() throws IOException {
        if (plainPos >= WINDOW_BYTES) plainPos = 0;
        ByteBuffer dst = ByteBuffer.allocate(plainBuf.capacity());
        int n = plain.read(dst, plainPos);
        plainPos += n;
        return n;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        log.close();
        plain.close();
        appendFile.close();
        Log.deleteDirectory(dir);
    }
}
