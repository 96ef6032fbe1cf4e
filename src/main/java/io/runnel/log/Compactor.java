package io.runnel.log;

import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.LastRecord;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.record.internal.MemoryRecords.RecordFilter;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.internals.BufferSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Log compaction (cleanup.policy=compact), as Kafka's LogCleaner does it in outline: over the closed segments, find
 * the latest offset of every key, then rewrite each closed segment keeping only the records that are the latest for
 * their key (and tombstones younger than delete.retention.ms). Offsets never change; a compacted log has gaps.
 *
 * <p>Transactions, as Kafka's cleaner: records of aborted transactions are removed and never count as a key's latest
 * value (an aborted write must not shadow a committed one). An end-transaction marker (a control batch) is kept while
 * any batch of its transaction is in the log, so that the producer state rebuilt from the log still sees every
 * transaction closed; a pass that meets a marker with no batch of its transaction before it stamps the marker's batch
 * with a delete horizon of now plus {@code delete.retention.ms} (KIP-534), and a pass after the horizon removes it
 * (Kafka's CleanedTransactionMetadata). Every pass starts at the first segment, so a transaction's batches, which
 * precede its marker, are always met first. The last batch of each producer is kept, emptied if need be, so that its
 * sequence number survives a rebuild of the producer state (Kafka's RETAIN_EMPTY); a producer whose epoch a marker
 * bumped past its last batch (transactions version 2) keeps that marker instead. Only segments wholly below the
 * last stable offset are given to the compactor (Kafka never cleans past it), so no open transaction is touched.
 *
 * <p>Runs on a worker thread over segments that no longer take appends. Per segment, crash safe: the cleaned copy
 * is written to {@code NNN.log.cleaned} and fsynced, the old indexes are deleted, the copy is renamed over the
 * {@code .log} (atomic), the directory fsynced, and the indexes rebuilt. A crash leaves either the old segment
 * (and a {@code .cleaned} file that start-up deletes), or the new one with missing indexes, which start-up rebuilds.
 * The owner thread then swaps the new {@link Segment} objects in ({@link Log#replaceSegment}).
 */
public final class Compactor {
    private static final Logger LOG = LoggerFactory.getLogger(Compactor.class);
    static final String CLEANED_SUFFIX = ".cleaned";
    /**
     * Keys tracked in one pass (each costs its bytes plus about 80 bytes of map entry): the bound on the compactor's
     * memory, Kafka's log.cleaner.dedupe.buffer.size in spirit. Segments past the bound wait for the next pass.
     */
    static final int MAX_KEYS = 1_000_000;

    private Compactor() {
    }

    /** A closed segment, the segment that replaces it after cleaning, and the offsets of the markers removed from it. */
    public record Replacement(Segment old, Segment cleaned, List<Long> removedMarkers) {
        public Replacement {
            removedMarkers = List.copyOf(removedMarkers);
        }
    }

    /**
     * Cleans {@code closed} (the log's closed segments, oldest first, all below the last stable offset), dropping the
     * records of the {@code aborted} transactions. Blocking: call on a worker.
     */
    public static List<Replacement> clean(Path dir, List<Segment> closed, LogConfig config, long nowMs, List<AbortedTxn> aborted) throws IOException {
        return clean(dir, closed, config, nowMs, aborted, Map.of());
    }

    /**
     * {@link #clean(Path, List, LogConfig, long, List)}, keeping each producer's last record as {@code lastRecords}
     * says (from the partition's producer state): its last data batch, or, when it has none in its epoch, the marker of
     * that epoch.
     */
    public static List<Replacement> clean(Path dir, List<Segment> closed, LogConfig config, long nowMs, List<AbortedTxn> aborted,
                                          Map<Long, LastRecord> lastRecords) throws IOException {
        AbortedRanges abortedRanges = new AbortedRanges(aborted);
        Map<ByteBuffer, Long> latest = new HashMap<>();
        List<Segment> covered = new ArrayList<>();
        for (Segment s : closed) {
            Map<ByteBuffer, Long> withThis = new HashMap<>(latest);
            boolean fits = forEachBatch(s, batch -> {
                if (batch.isControlBatch()) return true;
                for (Record r : batch) {
                    if (r.key() != null && !abortedRanges.contains(batch, r.offset())) withThis.put(copy(r.key()), r.offset());
                }
                return withThis.size() <= MAX_KEYS;
            });
            if (!fits) break;
            latest = withThis;
            covered.add(s);
        }
        List<Replacement> out = new ArrayList<>();
        Set<Long> txnBatchSeen = new HashSet<>(); // the producers a batch of whose open transaction this pass met
        for (Segment s : covered) {
            List<Long> removedMarkers = new ArrayList<>();
            Segment cleaned = cleanSegment(dir, s, latest, config, nowMs, abortedRanges, txnBatchSeen, lastRecords, removedMarkers);
            if (cleaned != null) out.add(new Replacement(s, cleaned, removedMarkers));
        }
        return out;
    }

    private static Segment cleanSegment(Path dir, Segment s, Map<ByteBuffer, Long> latest, LogConfig config, long nowMs,
                                        AbortedRanges aborted, Set<Long> txnBatchSeen, Map<Long, LastRecord> lastRecords,
                                        List<Long> removedMarkers) throws IOException {
        Path logFile = dir.resolve(Segment.fileName(s.baseOffset(), Segment.LOG_SUFFIX));
        Path cleanedFile = dir.resolve(Segment.fileName(s.baseOffset(), Segment.LOG_SUFFIX + CLEANED_SUFFIX));
        RecordFilter keepLatest = new RecordFilter(nowMs, config.deleteRetentionMs()) {
            @Override
            protected BatchRetentionResult checkBatchRetention(RecordBatch batch) {
                LastRecord last = lastRecords.get(batch.producerId());
                if (batch.isControlBatch()) {
                    boolean txnGone = !txnBatchSeen.remove(batch.producerId());
                    if (last != null && last.lastDataOffset() < 0 && batch.producerEpoch() == last.producerEpoch()) {
                        // The producer's current epoch lives only in this marker (Kafka's isBatchLastRecordOfProducer).
                        return new BatchRetentionResult(BatchRetention.RETAIN_EMPTY, false);
                    }
                    boolean expired = txnGone && batch.deleteHorizonMs().isPresent() && batch.deleteHorizonMs().getAsLong() <= currentTime;
                    // A marker of a transaction with no batch left: stamped with a delete horizon first, removed after it.
                    if (expired) removedMarkers.add(batch.baseOffset());
                    return new BatchRetentionResult(expired ? BatchRetention.DELETE : BatchRetention.DELETE_EMPTY, txnGone);
                }
                if (batch.isTransactional()) txnBatchSeen.add(batch.producerId());
                if (batch.hasProducerId() && last != null && batch.lastOffset() == last.lastDataOffset()) {
                    return new BatchRetentionResult(BatchRetention.RETAIN_EMPTY, false);
                }
                return new BatchRetentionResult(BatchRetention.DELETE_EMPTY, false);
            }

            @Override
            protected boolean shouldRetainRecord(RecordBatch batch, Record r) {
                if (batch.isControlBatch()) return true;
                if (aborted.contains(batch, r.offset())) return false;
                if (r.key() == null) return true;
                Long newest = latest.get(r.key());
                if (newest == null || newest != r.offset()) return false;
                return r.hasValue() || currentTime - batch.maxTimestamp() < deleteRetentionMs;
            }
        };
        long before = s.size();
        long[] after = {0};
        boolean[] changed = {false};
        try (FileChannel out = FileChannel.open(cleanedFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            forEachBatch(s, batch -> {
                ByteBuffer src = ByteBuffer.allocate(batch.sizeInBytes());
                batch.writeTo(src);
                src.flip();
                MemoryRecords.FilterResult r = MemoryRecords.readableRecords(src).filterTo(keepLatest, ByteBuffer.allocate(src.remaining()),
                        BufferSupplier.NO_CACHING, Integer.MAX_VALUE);
                ByteBuffer kept = r.outputBuffer().flip();
                src.rewind();
                changed[0] |= !kept.equals(src); // a batch emptied, removed, or stamped with a delete horizon
                try {
                    while (kept.hasRemaining()) after[0] += out.write(kept, after[0]);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return true;
            });
            out.force(true);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        if (!changed[0]) {
            Files.deleteIfExists(cleanedFile); // nothing to remove
            return null;
        }
        Files.deleteIfExists(dir.resolve(Segment.fileName(s.baseOffset(), Segment.INDEX_SUFFIX)));
        Files.deleteIfExists(dir.resolve(Segment.fileName(s.baseOffset(), Segment.TIME_INDEX_SUFFIX)));
        Files.move(cleanedFile, logFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Checkpoints.fsyncDirectory(dir);
        Segment.OpenedSegment opened = Segment.open(dir, s.baseOffset(), config.indexIntervalBytes(), nowMs);
        opened.segment().recover(config.maxMessageBytes(), true);
        opened.segment().flush();
        LOG.info("Compacted segment {} of {}: {} -> {} bytes", s.baseOffset(), dir.getFileName(), before, after[0]);
        return opened.segment();
    }

    /** The offset ranges of aborted transactions per producer, to tell whether a transactional record was aborted. */
    private static final class AbortedRanges {
        private final Map<Long, List<AbortedTxn>> byProducer = new HashMap<>();

        AbortedRanges(List<AbortedTxn> aborted) {
            for (AbortedTxn t : aborted) byProducer.computeIfAbsent(t.producerId(), k -> new ArrayList<>()).add(t);
        }

        boolean contains(RecordBatch batch, long offset) {
            if (!batch.isTransactional()) return false;
            List<AbortedTxn> ranges = byProducer.get(batch.producerId());
            if (ranges == null) return false;
            for (AbortedTxn t : ranges) if (offset >= t.firstOffset() && offset < t.lastOffset()) return true;
            return false;
        }
    }

    @FunctionalInterface
    private interface BatchVisitor {
        /** Returns false to stop. */
        boolean visit(MutableRecordBatch batch) throws IOException;
    }

    /** Reads a closed segment's batches with a channel of its own (the owner thread may be reading it too). */
    private static boolean forEachBatch(Segment s, BatchVisitor visitor) throws IOException {
        try (FileChannel in = FileChannel.open(s.file(), StandardOpenOption.READ)) {
            long size = s.size();
            long pos = 0;
            ByteBuffer header = ByteBuffer.allocate(BatchHeader.SIZE);
            while (pos + BatchHeader.SIZE <= size) {
                header.clear();
                readFully(in, header, pos);
                int batchSize = BatchHeader.batchSize(header.flip(), 0);
                ByteBuffer batch = ByteBuffer.allocate(batchSize);
                readFully(in, batch, pos);
                MutableRecordBatch b = MemoryRecords.readableRecords(batch.flip()).batchIterator().next();
                if (!visitor.visit(b)) return false;
                pos += batchSize;
            }
            return true;
        }
    }

    private static void readFully(FileChannel in, ByteBuffer dst, long pos) throws IOException {
        long p = pos;
        while (dst.hasRemaining()) {
            int n = in.read(dst, p);
            if (n < 0) throw new EOFException();
            p += n;
        }
    }

    private static ByteBuffer copy(ByteBuffer key) {
        ByteBuffer c = ByteBuffer.allocate(key.remaining());
        c.put(key.duplicate()).flip();
        return c;
    }
}
