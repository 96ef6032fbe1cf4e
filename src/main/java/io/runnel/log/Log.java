package io.runnel.log;

import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.LogSlice;
import io.runnel.log.value.ReadResult;
import io.runnel.log.value.SliceResult;
import io.runnel.log.value.TimestampOffset;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.UnsupportedForMessageFormatException;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Time;

/**
 * The log of one partition: an ordered list of {@link Segment}s in directory {@code <topic>-<partition>}, of which
 * the last is the active one that takes appends.
 *
 * <p>Offsets: {@link #logStartOffset()} is the first readable offset, {@link #logEndOffset()} the offset the next
 * record gets, {@link #recoveryPoint()} the offset below which every byte is known to be fsynced.
 *
 * <p>Threading: one owner thread (the partition's event loop) calls every method except the ones documented as
 * safe elsewhere. Blocking work is split so the owner never waits for the disk: {@link #prepareFlush} names what
 * to fsync, a worker calls {@link FlushTask#run}, and the owner then calls {@link #onFlushed}; likewise
 * {@link #deleteOldSegments} unlinks segments from the log and returns them for a worker to delete.
 * {@link #open} (recovery) and {@link #close} run on a worker while no one else uses the log.
 */
public final class Log {
    private final Path dir;
    private final Time time;
    private volatile LogConfig config;
    private final TreeMap<Long, Segment> segments = new TreeMap<>();
    private volatile long logStartOffset;
    private volatile long logEndOffset;
    private volatile long recoveryPoint;
    private long unflushedRecords;
    private long firstUnflushedMs = -1;

    Log(Path dir, LogConfig config, Time time) {
        this.dir = dir;
        this.config = config;
        this.time = time;
    }

    /** Opens (and if needed recovers) the log in {@code dir}, creating it when absent. Blocks: call on a worker. */
    public static Log open(Path dir, LogConfig config, Time time) throws IOException {
        return LogLoader.load(dir, config, time);
    }

    // ---------------------------------------------------------------- loading (LogLoader only)

    void addLoadedSegment(Segment s) {
        segments.put(s.baseOffset(), s);
    }

    void setLoadedOffsets(long logStartOffset, long recoveryPoint) {
        this.logEndOffset = activeSegment().nextOffset();
        this.logStartOffset = logStartOffset;
        this.recoveryPoint = Math.min(recoveryPoint, logEndOffset);
    }

    Collection<Segment> segmentList() {
        return segments.values();
    }

    // ---------------------------------------------------------------- appends

    /**
     * Validates batches from a producer and appends them with offsets assigned by the log.
     *
     * <p>Every batch must be a whole v2 batch with a valid CRC and at most {@code max.message.bytes}; otherwise the
     * append fails with the exception whose Kafka error the producer expects ({@link CorruptRecordException},
     * {@link RecordTooLargeException}, {@link UnsupportedForMessageFormatException}, {@link InvalidRecordException})
     * and nothing is written. The buffer is modified in place (base offset, leader epoch, append time).
     */
    public AppendInfo appendAsLeader(ByteBuffer records, int leaderEpoch) throws IOException {
        long now = time.milliseconds();
        int count = validate(records);
        long first = logEndOffset;
        long next = first;
        boolean appendTime = config.logAppendTime();
        for (MutableRecordBatch batch : MemoryRecords.readableRecords(records.duplicate()).batches()) {
            next += batch.lastOffset() - batch.baseOffset() + 1;
            batch.setLastOffset(next - 1);
            batch.setPartitionLeaderEpoch(leaderEpoch);
            if (appendTime) batch.setMaxTimestamp(TimestampType.LOG_APPEND_TIME, now);
        }
        appendAssigned(records, next - first, now);
        return new AppendInfo(first, next - 1, count, appendTime ? now : RecordBatch.NO_TIMESTAMP, logStartOffset);
    }

    private int validate(ByteBuffer records) {
        int total = records.remaining();
        if (total == 0) throw new InvalidRecordException("A produce request must carry at least one record batch");
        int at = records.position();
        int end = records.limit();
        int count = 0;
        while (at < end) {
            if (end - at > BatchHeader.MAGIC_OFFSET && BatchHeader.magic(records, at) != RecordBatch.MAGIC_VALUE_V2) {
                throw new UnsupportedForMessageFormatException("Record batch magic " + BatchHeader.magic(records, at)
                        + " is not supported; Runnel stores magic 2 only");
            }
            if (end - at < BatchHeader.SIZE) throw new CorruptRecordException("Truncated record batch header at byte " + (at - records.position()));
            int size = BatchHeader.batchSize(records, at);
            if (size > config.maxMessageBytes()) {
                throw new RecordTooLargeException("A record batch of " + size + " bytes exceeds max.message.bytes " + config.maxMessageBytes());
            }
            if (size < BatchHeader.SIZE || size > end - at) throw new CorruptRecordException("Record batch length " + size + " does not match the request");
            int n = BatchHeader.recordsCount(records, at);
            int lastDelta = (int) (BatchHeader.lastOffset(records, at) - BatchHeader.baseOffset(records, at));
            if (n <= 0 || lastDelta != n - 1) {
                throw new InvalidRecordException("Record batch claims " + n + " records with last offset delta " + lastDelta);
            }
            MutableRecordBatch batch = MemoryRecords.readableRecords(records.duplicate().position(at).limit(at + size)).batchIterator().next();
            if (!batch.isValid()) throw new CorruptRecordException("Record batch CRC mismatch at byte " + (at - records.position()));
            count += n;
            at += size;
        }
        return count;
    }

    /**
     * Appends batches copied from the leader (replication): their offsets, leader epochs and timestamps are kept.
     * They are validated as a producer's are (whole v2 batches, CRC, size), and must continue this log exactly: the
     * first batch starts at the log end offset and each next one where the previous ended; otherwise nothing is
     * written and the append fails with {@link InvalidRecordException} (the follower then truncates and refetches).
     */
    public AppendInfo appendAsFollower(ByteBuffer records) throws IOException {
        int count = validate(records);
        long expected = logEndOffset;
        long firstTimestamp = RecordBatch.NO_TIMESTAMP;
        for (MutableRecordBatch batch : MemoryRecords.readableRecords(records.duplicate()).batches()) {
            if (batch.baseOffset() != expected) {
                throw new InvalidRecordException("A replicated batch starts at offset " + batch.baseOffset() + " where offset " + expected
                        + " was expected in " + dir.getFileName());
            }
            if (firstTimestamp == RecordBatch.NO_TIMESTAMP) firstTimestamp = batch.maxTimestamp();
            expected = batch.lastOffset() + 1;
        }
        long first = logEndOffset;
        appendAssigned(records, expected - first, time.milliseconds());
        return new AppendInfo(first, expected - 1, count, RecordBatch.NO_TIMESTAMP, logStartOffset);
    }

    /**
     * Removes every batch from the one holding {@code offset} to the end (a follower whose log diverged from a new
     * leader's; Kafka's Log.truncateTo). Whole segments after it are deleted; the log end offset becomes the start of
     * that batch. Does nothing when {@code offset} is at or past the end. An offset before the log start empties the
     * log and restarts it at {@code offset}. Blocking.
     */
    public void truncateTo(long offset) throws IOException {
        if (offset >= logEndOffset) return;
        if (offset <= logStartOffset) {
            truncateFullyAndStartAt(offset < logStartOffset ? offset : logStartOffset);
            return;
        }
        List<Segment> doomed = new ArrayList<>(segments.tailMap(offset, false).values());
        Segment holder = segments.floorEntry(offset).getValue();
        if (holder.baseOffset() == offset && holder != segments.firstEntry().getValue()) doomed.add(0, holder);
        for (Segment s : doomed) {
            segments.remove(s.baseOffset());
            s.deleteFiles();
        }
        Segment active = activeSegment();
        if (!doomed.contains(holder)) active.truncateFrom(offset, config.maxMessageBytes(), config.compact());
        logEndOffset = active.nextOffset();
        recoveryPoint = Math.min(recoveryPoint, logEndOffset);
        unflushedRecords = 0;
        firstUnflushedMs = -1;
    }

    /**
     * Deletes every segment and starts an empty log at {@code offset} (Kafka's truncateFullyAndStartAt): a follower
     * whose log ends before its leader's log start (retention removed what it lacks) starts over there. Blocking.
     */
    public void restartAt(long offset) throws IOException {
        truncateFullyAndStartAt(offset);
    }

    /** Deletes every segment and starts an empty log at {@code offset}. Blocking. */
    private void truncateFullyAndStartAt(long offset) throws IOException {
        for (Segment s : new ArrayList<>(segments.values())) s.deleteFiles();
        segments.clear();
        Segment fresh = Segment.create(dir, offset, config.indexIntervalBytes(), time.milliseconds());
        segments.put(offset, fresh);
        logStartOffset = offset;
        logEndOffset = offset;
        recoveryPoint = offset;
        unflushedRecords = 0;
        firstUnflushedMs = -1;
        Checkpoints.write(dir.resolve(Checkpoints.LOG_START_OFFSET), logStartOffset);
    }

    /**
     * Appends batches whose offsets are already set (recovery tests, replication): they must start at the
     * log end offset. Rolls the active segment first when size, age or offset range require it.
     */
    void appendAssigned(ByteBuffer records, long recordOffsets, long now) throws IOException {
        int bytes = records.remaining();
        Segment active = maybeRoll(bytes, recordOffsets, now, BatchHeader.maxTimestamp(records, records.position()));
        active.append(records);
        logEndOffset = active.nextOffset();
        unflushedRecords += recordOffsets;
        if (firstUnflushedMs < 0) firstUnflushedMs = now;
    }

    private Segment maybeRoll(int bytes, long recordOffsets, long now, long incomingTimestamp) throws IOException {
        Segment active = activeSegment();
        boolean full = active.size() > 0 && (long) active.size() + bytes > config.segmentBytes();
        boolean old = active.size() > 0 && active.timeWaitedForRoll(now, incomingTimestamp) > config.segmentMs();
        boolean offsetsOverflow = logEndOffset + recordOffsets - active.baseOffset() > Integer.MAX_VALUE;
        if (!full && !old && !offsetsOverflow) return active;
        return roll(now);
    }

    /** Closes the active segment for appends and starts a new one at the log end offset. */
    Segment roll(long now) throws IOException {
        Segment active = activeSegment();
        if (active.size() == 0) return active;
        active.onBecomeInactive();
        Segment next = Segment.create(dir, logEndOffset, config.indexIntervalBytes(), now);
        segments.put(next.baseOffset(), next);
        return next;
    }

    // ---------------------------------------------------------------- reads

    /**
     * Reads whole batches from {@code offset} (the batch holding it comes first, as in Kafka) up to
     * {@code maxBytes}; see {@link Segment#span} for {@code minOneBatch}.
     *
     * @throws OffsetOutOfRangeException when {@code offset} is below the log start or above the log end offset
     */
    public ReadResult read(long offset, int maxBytes, boolean minOneBatch) throws IOException {
        return read(offset, maxBytes, minOneBatch, Long.MAX_VALUE);
    }

    /**
     * Reads as {@link #read(long, int, boolean)}, but only batches that end before {@code upTo} (a consumer of a
     * replicated partition reads below the high watermark; batches never straddle it, since the high watermark is
     * always where some replica's log ends). An offset past {@code upTo} is out of range.
     */
    public ReadResult read(long offset, int maxBytes, boolean minOneBatch, long upTo) throws IOException {
        // The bytes of the slice the zero-copy fetch path would send: one way of finding batches for both.
        SliceResult slice = slice(offset, maxBytes, minOneBatch, upTo);
        return new ReadResult(slice.records().readBytes(), slice.logStartOffset(), slice.logEndOffset());
    }

    /**
     * {@link #read(long, int, boolean, long)} as a {@link LogSlice} of a segment file instead of bytes: only batch
     * headers are read, and the fetch path sends the slice from the file to the socket (zero-copy).
     */
    public SliceResult slice(long offset, int maxBytes, boolean minOneBatch, long upTo) throws IOException {
        long start = logStartOffset;
        long end = Math.min(logEndOffset, upTo);
        // Out of range only outside the log; between the bound (a consumer's high watermark, which lags on a new
        // leader until its followers fetch) and the log end there is nothing to read yet, as in Kafka's LocalLog.read.
        if (offset < start || offset > logEndOffset) {
            throw new OffsetOutOfRangeException("Offset " + offset + " is outside the log's range [" + start + ", " + logEndOffset + "] in "
                    + dir.getFileName());
        }
        if (offset < end) {
            for (Map.Entry<Long, Segment> e = segments.floorEntry(offset); e != null; e = segments.higherEntry(e.getKey())) {
                Segment s = e.getValue();
                Segment.Span span = s.span(offset, maxBytes, minOneBatch, end);
                if (span != null) {
                    return new SliceResult(span.size() == 0 ? LogSlice.EMPTY : new LogSlice(s.channel(), span.position(), span.size(), span.lastOffset()), start, end);
                }
            }
        }
        return new SliceResult(LogSlice.EMPTY, start, end);
    }

    /** The first record with a timestamp at or after {@code timestamp} (ListOffsets by time), if any. */
    public Optional<TimestampOffset> offsetForTimestamp(long timestamp) throws IOException {
        Map.Entry<Long, Segment> e = segments.floorEntry(logStartOffset);
        if (e == null) e = segments.firstEntry();
        for (; e != null; e = segments.higherEntry(e.getKey())) {
            Optional<TimestampOffset> found = e.getValue().findOffsetByTimestamp(timestamp, logStartOffset);
            if (found.isPresent()) return found;
        }
        return Optional.empty();
    }

    /** The record with the largest timestamp (ListOffsets MAX_TIMESTAMP, KIP-734), if the log has records. */
    public Optional<TimestampOffset> maxTimestampRecord() throws IOException {
        Segment best = null;
        for (Segment s : segments.values()) {
            if (s.nextOffset() > logStartOffset && (best == null || s.maxTimestamp() > best.maxTimestamp())) best = s;
        }
        return best == null ? Optional.empty() : best.maxTimestampRecord().filter(t -> t.offset() >= logStartOffset);
    }

    /** A copy of the header of the batch holding {@code offset}, or null when the log has none (outside it, or a gap at its end). */
    public ByteBuffer batchHeaderAt(long offset) throws IOException {
        if (offset < logStartOffset || offset >= logEndOffset) return null;
        for (Map.Entry<Long, Segment> e = segments.floorEntry(offset); e != null; e = segments.higherEntry(e.getKey())) {
            ByteBuffer h = e.getValue().headerAt(offset);
            if (h != null) return h;
        }
        return null;
    }

    /** The base offset of the segment holding {@code offset} (the first segment's for an offset before it). */
    public long segmentBaseFor(long offset) {
        Long base = segments.floorKey(offset);
        return base != null ? base : segments.firstKey();
    }

    /** Visits the header of every batch from the one holding {@code fromOffset} to the log end, in order. */
    public void forEachBatchHeader(long fromOffset, Consumer<ByteBuffer> visitor) throws IOException {
        forEachBatch(fromOffset, (header, batch) -> visitor.accept(header));
    }

    /** A whole batch, read from its segment only when asked for. */
    @FunctionalInterface
    public interface BatchSource {
        RecordBatch read() throws IOException;
    }

    /** What {@link #forEachBatch} calls for each batch: its header (position 0, reused) and the batch on demand. */
    @FunctionalInterface
    public interface BatchVisitor {
        void visit(ByteBuffer header, BatchSource batch) throws IOException;
    }

    /**
     * Visits every batch from the one holding {@code fromOffset} to the log end, in order: the header, and the whole
     * batch when the visitor asks (a control batch's marker, for the producer state).
     */
    public void forEachBatch(long fromOffset, BatchVisitor visitor) throws IOException {
        Map.Entry<Long, Segment> e = segments.floorEntry(Math.max(fromOffset, logStartOffset));
        if (e == null) e = segments.firstEntry();
        for (; e != null; e = segments.higherEntry(e.getKey())) e.getValue().forEachBatch(fromOffset, visitor);
    }

    // ---------------------------------------------------------------- flush

    /** Records appended since the last completed flush. */
    public long unflushedRecords() {
        return unflushedRecords;
    }

    /** When the oldest unflushed record was appended, or -1 when everything is flushed. */
    public long firstUnflushedMs() {
        return firstUnflushedMs;
    }

    /**
     * Names the segments holding unflushed data and the offset they reach. The task may run on any thread; pass
     * the offset it returns to {@link #onFlushed} on the owner thread afterwards.
     */
    public FlushTask prepareFlush() {
        long upTo = logEndOffset;
        List<Segment> dirty = new ArrayList<>();
        Map.Entry<Long, Segment> from = segments.floorEntry(recoveryPoint);
        List<Segment.IndexWrites> indexes = new ArrayList<>();
        for (Segment s : (from == null ? segments : segments.tailMap(from.getKey(), true)).values()) {
            dirty.add(s);
            indexes.add(s.pendingIndexWrites());
        }
        unflushedRecords = 0;
        firstUnflushedMs = -1;
        return new FlushTask(dirty, indexes, upTo, dir.resolve(Checkpoints.RECOVERY_POINT));
    }

    /**
     * fsyncs segments with the index entries taken for them when the task was prepared, then records the new recovery
     * point in its checkpoint file. Blocking.
     */
    public record FlushTask(List<Segment> segments, List<Segment.IndexWrites> indexes, long upTo, Path checkpoint) {
        public long run() throws IOException {
            for (int i = 0; i < segments.size(); i++) {
                try {
                    segments.get(i).flush(indexes.get(i));
                } catch (ClosedChannelException deleted) {
                    // Retention deleted the segment in the meantime: nothing of it needs to be durable any more.
                }
            }
            Checkpoints.write(checkpoint, upTo);
            return upTo;
        }
    }

    public void onFlushed(long upTo) {
        if (upTo > recoveryPoint) recoveryPoint = upTo;
    }

    // ---------------------------------------------------------------- retention

    /**
     * Unlinks the segments that retention allows to delete (by time: newest record older than
     * {@code retention.ms}; by size: while the log stays above {@code retention.bytes} without them; and any segment
     * wholly below the log start offset), never the active segment, and advances the log start offset. The caller
     * deletes the returned segments' files on a worker thread with {@link #deleteSegmentFiles}.
     */
    public List<Segment> deleteOldSegments(long nowMs) {
        List<Segment> deletable = Retention.deletable(new ArrayList<>(segments.values()), config, logStartOffset, nowMs);
        for (Segment s : deletable) segments.remove(s.baseOffset());
        if (!deletable.isEmpty()) logStartOffset = Math.max(logStartOffset, segments.firstKey());
        return deletable;
    }

    /** Deletes the files of unlinked segments, then checkpoints the log start offset. Blocking. */
    public static void deleteSegmentFiles(List<Segment> unlinked, Path dir, long logStartOffset) throws IOException {
        deleteSegmentFiles(unlinked);
        checkpointLogStart(dir, logStartOffset);
    }

    /** Closes unlinked segments and deletes their files. Blocking. */
    public static void deleteSegmentFiles(List<Segment> unlinked) throws IOException {
        for (Segment s : unlinked) s.deleteFiles();
    }

    /**
     * Checkpoints the log start offset. Blocking. Written as soon as retention unlinks segments, before their files
     * go: a broker restarted in between deletes those segments again, as lying below the log start.
     */
    public static void checkpointLogStart(Path dir, long logStartOffset) throws IOException {
        Checkpoints.write(dir.resolve(Checkpoints.LOG_START_OFFSET), logStartOffset);
    }

    /** Closes segments replaced by compaction (their files on disk are already the cleaned ones). Blocking. */
    public static void closeSegments(List<Segment> replaced) throws IOException {
        for (Segment s : replaced) s.close();
    }

    // ---------------------------------------------------------------- compaction

    /** The closed segments, oldest first, when the log is compacted (cleanup.policy=compact); else none. */
    public List<Segment> compactionCandidates() {
        if (!config.compact() || segments.size() < 2) return List.of();
        List<Segment> closed = new ArrayList<>(segments.values());
        closed.remove(closed.size() - 1);
        return closed;
    }

    /**
     * Swaps a cleaned segment in for the one it replaces (its files were already replaced on disk, see
     * {@link Compactor}) and returns the object that is out of use, for the caller to {@linkplain #closeSegments
     * close} once no fetch response sends from it any more: the old one, or, when retention unlinked the old segment
     * meanwhile, the cleaned one (its files go with the pending deletion).
     */
    public Segment replaceSegment(Segment old, Segment cleaned) {
        if (segments.get(old.baseOffset()) == old) {
            segments.put(old.baseOffset(), cleaned);
            return old;
        }
        return cleaned;
    }

    // ---------------------------------------------------------------- lifecycle and accessors

    /** Flushes everything, writes both checkpoints and closes the files: a later open needs no recovery. Blocking. */
    public void close() throws IOException {
        activeSegment().onBecomeInactive();
        long upTo = prepareFlush().run();
        onFlushed(upTo);
        Checkpoints.write(dir.resolve(Checkpoints.LOG_START_OFFSET), logStartOffset);
        for (Segment s : segments.values()) s.close();
    }

    /** Closes the files without flushing, before the directory is deleted (topic deletion). Blocking. */
    public void closeForDeletion() throws IOException {
        for (Segment s : segments.values()) s.close();
        segments.clear();
    }

    /** Deletes a directory and everything in it. Blocking. */
    public static void deleteDirectory(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    public void updateConfig(LogConfig newConfig) {
        this.config = newConfig;
    }

    public LogConfig config() {
        return config;
    }

    public Path dir() {
        return dir;
    }

    public long logStartOffset() {
        return logStartOffset;
    }

    public long logEndOffset() {
        return logEndOffset;
    }

    public long recoveryPoint() {
        return recoveryPoint;
    }

    /** Bytes of all segments. */
    public long sizeInBytes() {
        long total = 0;
        for (Segment s : segments.values()) total += s.size();
        return total;
    }

    public int segmentCount() {
        return segments.size();
    }

    public List<Long> segmentBaseOffsets() {
        return List.copyOf(segments.keySet());
    }

    Segment activeSegment() {
        return segments.lastEntry().getValue();
    }
}
