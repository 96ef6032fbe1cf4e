package io.runnel.log;

import io.runnel.log.value.LogSlice;
import io.runnel.log.value.TimestampOffset;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One segment of a partition log: the {@code .log} file named by its base offset (20 digits) with its
 * {@link OffsetIndex} and {@link TimeIndex}.
 *
 * <p>The {@code .log} file is a sequence of Kafka v2 record batches exactly as they travel on the wire, with the
 * broker-assigned base offset and leader epoch written in. It is the truth; both indexes are derived from it and
 * are rebuilt by {@link #recover} when missing or untrustworthy. After a crash the file may end in a torn batch, or
 * in bytes that never were a batch (a power cut can leave zeroes or garbage): {@link #recover} scans every batch,
 * checks its header and CRC, and truncates the file at the end of the last valid batch, as Kafka's
 * {@code LogSegment.recover} does.
 *
 * <p>Not thread safe: the partition that owns the log calls it from one thread at a time. {@link #flush} may run on
 * a worker thread while the owner appends; {@link FileChannel#force} is safe to call concurrently with writes.
 */
public final class Segment {
    private static final Logger LOG = LoggerFactory.getLogger(Segment.class);
    public static final String LOG_SUFFIX = ".log";
    public static final String INDEX_SUFFIX = ".index";
    public static final String TIME_INDEX_SUFFIX = ".timeindex";

    private final long baseOffset;
    private final Path logFile;
    private final FileChannel channel;
    private final OffsetIndex offsetIndex;
    private final TimeIndex timeIndex;
    private final int indexIntervalBytes;
    private final ByteBuffer header = ByteBuffer.allocate(BatchHeader.SIZE);

    private int size;
    private long nextOffset;
    private long maxTimestamp = RecordBatch.NO_TIMESTAMP;
    private long offsetOfMaxTimestamp;
    /** The first batch's max timestamp, or -1 (no batch, or no timestamp): what a time-based roll is measured from. */
    private long firstBatchTimestamp = RecordBatch.NO_TIMESTAMP;
    private long createdMs;
    private int bytesSinceLastIndexEntry;
    /** Set when a read found an index entry that does not point at its batch; reads then scan from the start. */
    private boolean indexSuspect;
    /** Where the batch after the last read starts: a sequential reader's next read needs no index lookup. */
    private long nextReadOffset = -1;
    private int nextReadPosition;

    private static final ThreadLocal<HeaderWindow> HEADER_WINDOW = ThreadLocal.withInitial(HeaderWindow::new);

    private Segment(Path dir, long baseOffset, int indexIntervalBytes) throws IOException {
        this.baseOffset = baseOffset;
        this.indexIntervalBytes = indexIntervalBytes;
        this.logFile = dir.resolve(fileName(baseOffset, LOG_SUFFIX));
        this.channel = FileChannel.open(logFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        this.offsetIndex = new OffsetIndex(dir.resolve(fileName(baseOffset, INDEX_SUFFIX)), baseOffset);
        this.timeIndex = new TimeIndex(dir.resolve(fileName(baseOffset, TIME_INDEX_SUFFIX)), baseOffset);
        this.nextOffset = baseOffset;
        this.offsetOfMaxTimestamp = baseOffset;
    }

    public static String fileName(long baseOffset, String suffix) {
        return String.format("%020d%s", baseOffset, suffix);
    }

    /** Creates an empty segment (any files left with that name are emptied). */
    static Segment create(Path dir, long baseOffset, int indexIntervalBytes, long nowMs) throws IOException {
        Segment s = new Segment(dir, baseOffset, indexIntervalBytes);
        s.channel.truncate(0);
        s.offsetIndex.reset();
        s.timeIndex.reset();
        s.createdMs = nowMs;
        return s;
    }

    /**
     * Opens an existing segment without validating CRCs: loads both indexes with their sanity checks and scans the
     * batch headers after the last offset-index entry to learn the segment's end. {@link #needsRecovery} then says
     * whether anything looked wrong.
     */
    static OpenedSegment open(Path dir, long baseOffset, int indexIntervalBytes, long nowMs) throws IOException {
        Segment s = new Segment(dir, baseOffset, indexIntervalBytes);
        long fileBytes = s.channel.size();
        boolean trusted = fileBytes <= Integer.MAX_VALUE && s.offsetIndex.load(fileBytes);
        int scanFrom = 0;
        long expectBase = -1;
        if (trusted && s.offsetIndex.entries() > 0) {
            int last = s.offsetIndex.entries() - 1;
            scanFrom = s.offsetIndex.value(last);
            expectBase = s.offsetIndex.key(last);
        }
        int pos = scanFrom;
        long next = expectBase < 0 ? baseOffset : expectBase;
        long tailMaxTs = RecordBatch.NO_TIMESTAMP;
        long tailMaxTsOffset = baseOffset;
        int lastBatchBytes = 0;
        while (trusted && pos < fileBytes && s.readHeader(pos, fileBytes)) {
            if (!BatchHeader.plausible(s.header, 0, fileBytes - pos)) break;
            long batchBase = BatchHeader.baseOffset(s.header, 0);
            if (pos == scanFrom && expectBase >= 0 && batchBase != expectBase) {
                trusted = false; // the last index entry does not point at its batch
                break;
            }
            if (batchBase < next) break;
            long ts = BatchHeader.maxTimestamp(s.header, 0);
            if (ts > tailMaxTs) {
                tailMaxTs = ts;
                tailMaxTsOffset = batchBase;
            }
            next = BatchHeader.lastOffset(s.header, 0) + 1;
            lastBatchBytes = BatchHeader.batchSize(s.header, 0);
            pos += lastBatchBytes;
        }
        // A complete index has an entry for the first batch after every index.interval.bytes (indexBatch), so the
        // batches after its last entry, all but the last one, add up to at most the interval. More means entries are
        // missing (an index file lost or left behind by a crash): rebuild it rather than scan that far on every read.
        if (pos - scanFrom - lastBatchBytes > indexIntervalBytes) trusted = false;
        s.size = pos;
        s.nextOffset = next;
        s.bytesSinceLastIndexEntry = pos - scanFrom;
        s.timeIndex.expectOffsetsBelow(next);
        trusted = trusted && s.timeIndex.load(fileBytes);
        s.timeIndex.expectOffsetsBelow(Long.MAX_VALUE); // the bound applies to what was loaded, not to new entries
        if (trusted) {
            s.maxTimestamp = s.timeIndex.lastTimestamp();
            s.offsetOfMaxTimestamp = s.timeIndex.lastOffset();
            if (tailMaxTs > s.maxTimestamp) {
                s.maxTimestamp = tailMaxTs;
                s.offsetOfMaxTimestamp = tailMaxTsOffset;
            }
        }
        s.createdMs = nowMs;
        s.firstBatchTimestamp = s.size > 0 ? s.firstBatchTimestampOr(RecordBatch.NO_TIMESTAMP) : RecordBatch.NO_TIMESTAMP;
        return new OpenedSegment(s, !trusted || pos != fileBytes);
    }

    /** A segment just opened, and whether its files failed a check so that it must be {@linkplain #recover recovered}. */
    record OpenedSegment(Segment segment, boolean needsRecovery) {
    }

    /**
     * Rebuilds both indexes by scanning every batch from the start, validating header and CRC, and truncates the
     * file after the last valid batch.
     *
     * @return the number of bytes truncated (0 when the whole file was valid)
     */
    long recover(int maxBatchBytes, boolean allowGaps) throws IOException {
        offsetIndex.reset();
        timeIndex.reset();
        long fileBytes = channel.size();
        size = 0;
        nextOffset = baseOffset;
        maxTimestamp = RecordBatch.NO_TIMESTAMP;
        offsetOfMaxTimestamp = baseOffset;
        bytesSinceLastIndexEntry = 0;
        int pos = 0;
        ByteBuffer batchBuf = ByteBuffer.allocate(Math.min(1 << 20, Math.max(BatchHeader.SIZE, maxBatchBytes)));
        while (pos < fileBytes && readHeader(pos, fileBytes)) {
            if (!BatchHeader.plausible(header, 0, Math.min(fileBytes, Integer.MAX_VALUE) - pos)) break;
            int batchSize = BatchHeader.batchSize(header, 0);
            long batchBase = BatchHeader.baseOffset(header, 0);
            long lastOffset = BatchHeader.lastOffset(header, 0);
            // Offsets follow each other exactly: every batch is written by the leader at the log end offset. (The
            // base offset lies outside the CRC, so this is what catches a damaged one.) Compaction removes records,
            // so a compacted log only needs increasing offsets.
            boolean inOrder = allowGaps ? batchBase >= nextOffset : batchBase == nextOffset;
            if (!inOrder || lastOffset - baseOffset > Integer.MAX_VALUE) break;
            if (batchBuf.capacity() < batchSize) batchBuf = ByteBuffer.allocate(batchSize);
            batchBuf.clear().limit(batchSize);
            readFully(batchBuf, pos);
            batchBuf.flip();
            if (!crcValid(batchBuf)) break;
            indexBatch(batchBase, BatchHeader.maxTimestamp(header, 0), pos, batchSize);
            pos += batchSize;
            size = pos;
            nextOffset = lastOffset + 1;
        }
        offsetIndex.writePending();
        timeIndex.writePending();
        long truncated = fileBytes - pos;
        if (truncated > 0) {
            LOG.warn("Truncated {} invalid bytes at the end of {} (last valid offset {})", truncated, logFile, nextOffset - 1);
            channel.truncate(pos);
        }
        indexSuspect = false;
        nextReadOffset = -1;
        return truncated;
    }

    private static boolean crcValid(ByteBuffer batch) {
        try {
            MutableRecordBatch b = MemoryRecords.readableRecords(batch.duplicate()).batchIterator().next();
            return b != null && b.isValid();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * Appends batches whose offsets are already assigned (they must start at {@link #nextOffset}); indexes them
     * every {@code index.interval.bytes}.
     */
    void append(ByteBuffer records) throws IOException {
        int start = records.position();
        int end = records.limit();
        assert end - start > 0 : "empty append";
        assert BatchHeader.baseOffset(records, start) >= nextOffset : "offsets must increase in " + logFile;
        int position = size;
        if (size == 0) firstBatchTimestamp = BatchHeader.maxTimestamp(records, start);
        ByteBuffer src = records.duplicate();
        long filePos = size;
        try {
            while (src.hasRemaining()) filePos += channel.write(src, filePos);
        } catch (IOException e) {
            // A full disk: nothing of this append counts (size, offsets and indexes are unchanged, and the next append
            // writes at the same position); the bytes written so far are cut off now (a restart's recovery would cut
            // them too: they end in a torn batch).
            try {
                channel.truncate(size);
            } catch (IOException ignored) {
                // recovery truncates them
            }
            throw e;
        }
        for (int at = start; at < end; ) {
            int batchSize = BatchHeader.batchSize(records, at);
            indexBatch(BatchHeader.baseOffset(records, at), BatchHeader.maxTimestamp(records, at), position + (at - start), batchSize);
            nextOffset = BatchHeader.lastOffset(records, at) + 1;
            at += batchSize;
        }
        size += end - start;
        // The index entries stay in memory until the next flush, roll or close (SparseIndex).
    }

    /** Kafka's rule (LogSegment.append): index a batch when more than the interval has passed since the last entry. */
    private void indexBatch(long batchBase, long batchMaxTimestamp, int position, int batchSize) throws IOException {
        if (batchMaxTimestamp > maxTimestamp) {
            maxTimestamp = batchMaxTimestamp;
            offsetOfMaxTimestamp = batchBase;
        }
        if (bytesSinceLastIndexEntry > indexIntervalBytes) {
            offsetIndex.append(batchBase, position);
            if (maxTimestamp > timeIndex.lastTimestamp()) timeIndex.add(maxTimestamp, offsetOfMaxTimestamp);
            bytesSinceLastIndexEntry = 0;
        }
        bytesSinceLastIndexEntry += batchSize;
    }

    /** Where a read's whole batches lie in the {@code .log} file (see {@link #span}); {@code size} 0 when none. */
    record Span(int position, int size, long lastOffset) {
    }

    /**
     * Finds the whole batches a read returns, starting with the one that holds {@code startOffset}, up to
     * {@code maxBytes}, and only batches that end before {@code upTo}; when the first batch alone is larger than
     * {@code maxBytes} it is included if {@code minOneBatch} (KIP-74), else nothing is. Only batch headers are read
     * (the fetch path sends the span straight from the file, see {@link LogSlice}), through a small window: one pread
     * per window while batches are small and one per header when they are large.
     *
     * @return the span, or {@code null} when {@code startOffset} lies beyond this segment
     */
    Span span(long startOffset, int maxBytes, boolean minOneBatch, long upTo) throws IOException {
        boolean hinted = startOffset == nextReadOffset && nextReadPosition < size;
        int pos = hinted ? nextReadPosition : positionOf(startOffset);
        if (pos < 0) return null;
        HeaderWindow w = HEADER_WINDOW.get().reset();
        if (hinted) {
            int at = w.header(this, pos);
            if (at < 0 || BatchHeader.baseOffset(w.buf, at) > startOffset || BatchHeader.lastOffset(w.buf, at) < startOffset) {
                pos = positionOf(startOffset);
                if (pos < 0) return null;
            }
        }
        int end = pos;
        long last = startOffset - 1;
        long limit = Math.max(0, maxBytes);
        while (true) {
            int at = w.header(this, end);
            if (at < 0) break;
            long batchLast = BatchHeader.lastOffset(w.buf, at);
            int bs = BatchHeader.batchSize(w.buf, at);
            if (batchLast >= upTo || end + bs > size) break;
            if ((long) end - pos + bs > limit && !(end == pos && minOneBatch)) break;
            end += bs;
            last = batchLast;
            w.lastBatchBytes = bs;
        }
        if (end > pos) {
            // A consumer usually asks next for the offset after this read: remember where it starts.
            nextReadOffset = last + 1;
            nextReadPosition = end;
        }
        return new Span(pos, end - pos, last);
    }

    /** A reusable window of a segment file for reading batch headers (one per thread, reset for each span). */
    private static final class HeaderWindow {
        static final int BYTES = 16 * 1024;
        final ByteBuffer buf = ByteBuffer.allocate(BYTES);
        long start;
        int length;
        int lastBatchBytes;

        HeaderWindow reset() {
            start = -1;
            length = 0;
            lastBatchBytes = 0;
            return this;
        }

        /** The index in {@link #buf} of the header at file position {@code pos}, or -1 when no whole header is there. */
        int header(Segment segment, int pos) throws IOException {
            if (segment.size - pos < BatchHeader.SIZE) return -1;
            if (start >= 0 && pos >= start && pos + BatchHeader.SIZE <= start + length) return (int) (pos - start);
            // Large batches: read just the header; small ones: a window holds many headers.
            int want = lastBatchBytes >= BYTES / 4 ? BatchHeader.SIZE : Math.min(BYTES, segment.size - pos);
            buf.clear().limit(want);
            segment.readFully(buf, pos);
            start = pos;
            length = want;
            return 0;
        }
    }

    /**
     * The file position of the batch that holds {@code offset} (or of the first batch after it, in a log with gaps),
     * or -1 when no batch of this segment ends at or after {@code offset}.
     */
    int positionOf(long offset) throws IOException {
        if (offset >= nextOffset) return -1;
        int pos = indexSuspect ? 0 : offsetIndex.lookup(offset);
        boolean headerRead = false;
        if (pos > 0) {
            headerRead = readHeader(pos, size) && BatchHeader.baseOffset(header, 0) == offsetIndex.lookupOffset(offset);
            if (!headerRead) {
                LOG.warn("Offset index {} points at the wrong batch; scanning {} from its start until it is rebuilt", offsetIndex.file, logFile);
                indexSuspect = true;
                pos = 0;
            }
        }
        while (pos < size) {
            if (!headerRead) readHeader(pos, size);
            headerRead = false;
            if (BatchHeader.lastOffset(header, 0) >= offset) return pos;
            pos += BatchHeader.batchSize(header, 0);
        }
        return -1;
    }

    /**
     * Calls {@code visitor} with the header of every batch that ends at or after {@code fromOffset}, in order
     * (producer-state rebuild). The buffer holds one header at position 0 and is reused between calls.
     */
    void forEachBatch(long fromOffset, Log.BatchVisitor visitor) throws IOException {
        int pos = positionOf(fromOffset);
        while (pos >= 0 && pos < size && readHeader(pos, size)) {
            int at = pos;
            int bs = BatchHeader.batchSize(header, 0);
            visitor.visit(header, () -> readBatch(at, bs));
            pos += bs;
        }
    }

    /** The first record at or after {@code timestamp} whose offset is at least {@code minOffset}, if this segment has one. */
    Optional<TimestampOffset> findOffsetByTimestamp(long timestamp, long minOffset) throws IOException {
        if (maxTimestamp < timestamp) return Optional.empty();
        int pos = positionOf(Math.max(timeIndex.lookup(timestamp), minOffset));
        while (pos >= 0 && pos < size) {
            readHeader(pos, size);
            int bs = BatchHeader.batchSize(header, 0);
            if (BatchHeader.maxTimestamp(header, 0) >= timestamp) {
                for (Record r : readBatch(pos, bs)) {
                    if (r.offset() >= minOffset && r.timestamp() >= timestamp) {
                        return Optional.of(new TimestampOffset(r.timestamp(), r.offset()));
                    }
                }
            }
            pos += bs;
        }
        return Optional.empty();
    }

    /** The record with this segment's largest timestamp (the first such record), if the segment has records. */
    Optional<TimestampOffset> maxTimestampRecord() throws IOException {
        if (maxTimestamp == RecordBatch.NO_TIMESTAMP) return Optional.empty();
        int pos = positionOf(offsetOfMaxTimestamp);
        if (pos < 0) return Optional.empty();
        readHeader(pos, size);
        for (Record r : readBatch(pos, BatchHeader.batchSize(header, 0))) {
            if (r.timestamp() == maxTimestamp) return Optional.of(new TimestampOffset(maxTimestamp, r.offset()));
        }
        return Optional.empty();
    }

    private RecordBatch readBatch(int pos, int batchSize) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(batchSize);
        readFully(buf, pos);
        return MemoryRecords.readableRecords(buf.flip()).batchIterator().next();
    }

    /** Reads the header at {@code pos} into {@link #header}; false when fewer than a header's bytes remain. */
    private boolean readHeader(long pos, long limit) throws IOException {
        if (limit - pos < BatchHeader.SIZE) return false;
        header.clear();
        readFully(header, pos);
        header.flip();
        return true;
    }

    private void readFully(ByteBuffer dst, long pos) throws IOException {
        long p = pos;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, p);
            if (n < 0) throw new EOFException("Unexpected end of " + logFile + " at " + p);
            p += n;
        }
    }

    /** Called when a newer segment takes over appends: records the final time-index entry, as Kafka does. */
    void onBecomeInactive() throws IOException {
        if (maxTimestamp > timeIndex.lastTimestamp()) {
            timeIndex.add(maxTimestamp, offsetOfMaxTimestamp);
        }
        offsetIndex.writePending();
        timeIndex.writePending();
    }

    /** The file's channel, for sending a {@link Span} of it without reading it (see {@link LogSlice}). */
    FileChannel channel() {
        return channel;
    }

    /**
     * The index entries a flush must write with the log: taken on the owner thread, written by {@link #flush(IndexWrites)}
     * on a worker.
     */
    IndexWrites pendingIndexWrites() {
        return new IndexWrites(offsetIndex.takePending(), timeIndex.takePending());
    }

    /** Index entries taken from both indexes for one flush. */
    record IndexWrites(SparseIndex.Pending offsets, SparseIndex.Pending times) {
    }

    /** Makes the file and the given index entries durable (fsync). Safe to call from a worker thread. */
    void flush(IndexWrites indexes) throws IOException {
        channel.force(true);
        indexes.offsets().write(true);
        indexes.times().write(true);
        if (!channel.isOpen()) {
            // Retention deleted the segment while its index entries were written: leave no index file behind.
            offsetIndex.deleteFile();
            timeIndex.deleteFile();
            throw new ClosedChannelException();
        }
    }

    /** Makes the file and its indexes durable where no one else uses the segment (compaction). Blocking. */
    void flush() throws IOException {
        flush(pendingIndexWrites());
    }

    /**
     * Cuts this segment back so that it ends before the batch holding {@code offset} (Kafka's LogSegment.truncateTo:
     * the batch that holds the offset goes too), then rebuilds the indexes and the in-memory state from what is
     * left. Returns the bytes removed. Blocking; replication calls it when a follower's log has diverged.
     */
    int truncateFrom(long offset, int maxBatchBytes, boolean allowGaps) throws IOException {
        int pos = offset <= baseOffset ? 0 : positionOf(offset);
        if (pos < 0) return 0; // everything here is before the offset
        int removed = size - pos;
        channel.truncate(pos);
        recover(maxBatchBytes, allowGaps);
        return removed;
    }

    void close() throws IOException {
        try {
            offsetIndex.writePending();
            timeIndex.writePending();
        } finally {
            channel.close();
        }
    }

    /** Closes the segment and deletes its files: the log, its two indexes, and its transaction index if it has one. */
    void deleteFiles() throws IOException {
        if (channel.isOpen()) channel.close();
        offsetIndex.deleteFile();
        timeIndex.deleteFile();
        Files.deleteIfExists(AbortedTxnIndex.file(logFile.getParent(), baseOffset));
        Files.deleteIfExists(logFile);
    }

    /** A copy of the header of the batch holding {@code offset}, or null when this segment has none. */
    ByteBuffer headerAt(long offset) throws IOException {
        int pos = positionOf(offset);
        if (pos < 0 || !readHeader(pos, size)) return null;
        return ByteBuffer.wrap(header.array().clone());
    }

    public long baseOffset() {
        return baseOffset;
    }

    /** The {@code .log} file. */
    Path file() {
        return logFile;
    }

    /** The offset after the last batch of this segment (the base offset when empty). */
    public long nextOffset() {
        return nextOffset;
    }

    public int size() {
        return size;
    }

    public long maxTimestamp() {
        return maxTimestamp;
    }

    /**
     * How long this segment has waited for a roll, as Kafka's {@code LogSegment.timeWaitedForRoll}: the incoming
     * batch's timestamp minus the first batch's, so that records with old timestamps (a replay, a migration) do not
     * roll a segment per append; without timestamps, the time since the segment was created.
     */
    long timeWaitedForRoll(long nowMs, long incomingMaxTimestamp) {
        return firstBatchTimestamp >= 0 && incomingMaxTimestamp >= 0 ? incomingMaxTimestamp - firstBatchTimestamp : nowMs - createdMs;
    }

    private long firstBatchTimestampOr(long fallback) throws IOException {
        if (!readHeader(0, size)) return fallback;
        long ts = BatchHeader.maxTimestamp(header, 0);
        return ts >= 0 ? ts : fallback;
    }

    /** How many offset-index entries the segment has (tests and tools). */
    int indexEntries() {
        return offsetIndex.entries();
    }

    @Override
    public String toString() {
        return logFile.getFileName() + "[" + baseOffset + ".." + nextOffset + ", " + size + " bytes]";
    }
}
