package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.AbortedTxnIndex;
import io.runnel.log.BatchHeader;
import io.runnel.log.Checkpoints;
import io.runnel.log.Log;
import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.LastRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.TransactionCoordinatorFencedException;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The idempotent and transactional producers' state on one partition (Kafka's ProducerStateManager): for each producer
 * id, its epoch and the last {@link Limits#PRODUCER_BATCHES_REMEMBERED} batches' sequence numbers and offsets, so that
 * a retried batch is recognised and answered with its original offsets instead of being written twice; and for a
 * transactional producer the first offset of its open transaction in this partition and the epoch of the coordinator
 * that last ended one here. The open transactions give the partition's first unstable offset, below which the last
 * stable offset (what read_committed consumers may read) stays; an end-transaction marker closes a transaction, and an
 * ABORT marker's transaction goes into the partition's {@link AbortedTxnIndex}.
 *
 * <p>Markers, as Kafka's {@code appendEndTxnMarker}: one with an older producer epoch is refused
 * ({@code INVALID_PRODUCER_EPOCH}), as is one from a coordinator older than the last one that wrote a marker here
 * ({@code TRANSACTION_COORDINATOR_FENCED}); a marker with a newer epoch (transactions version 2 bumps the epoch with
 * every transaction, KIP-890) makes it the producer's epoch, and its next batch starts at sequence 0.
 *
 * <p>Sequence rules, as Kafka's {@code ProducerAppendInfo.checkSequence}: an older epoch is fenced
 * ({@code INVALID_PRODUCER_EPOCH}); a newer epoch must start at sequence 0; within an epoch each batch must start
 * right after the previous one's last sequence (wrapping at Integer.MAX_VALUE), else
 * {@code OUT_OF_ORDER_SEQUENCE_NUMBER}; a producer with no state yet may start anywhere (KIP-360).
 *
 * <p>Snapshot file {@code NNNNNNNNNNNNNNNNNNNN.snapshot} (the log end offset it covers, 20 digits), big endian:
 * {@code int16 version=2}, {@code int32 producers}, then per producer {@code int64 id, int16 epoch, int64
 * txnFirstOffset (-1: none open), int32 coordinatorEpoch (-1: none), int64 lastTimestamp, int32 batches}, then per
 * batch {@code int32 firstSeq, int32 lastSeq, int64 firstOffset, int64 lastOffset}; last, the CRC-32C of everything
 * before it. Version 1 (written before transactions) lacks the three transaction fields and still reads. Written atomically at every flush and at close; at start the newest valid snapshot at or
 * below the log end is read and the batches after it are replayed from the log's headers. A missing or damaged
 * snapshot means a replay from the log start. Lives on the partition's context, except {@link #load}.
 */
final class ProducerStateTable {
    private static final Logger LOG = LoggerFactory.getLogger(ProducerStateTable.class);
    static final String SUFFIX = ".snapshot";
    private static final short VERSION = 2;

    record BatchMeta(int firstSeq, int lastSeq, long firstOffset, long lastOffset) {
    }

    /** A transaction an end marker closed here: its producer, first offset (-1 when it had no record here) and marker. */
    record CompletedTxn(long producerId, long firstOffset, long markerOffset, boolean committed) {
    }

    /** What DescribeProducers tells of a producer (Kafka's ProducerState). */
    record ProducerView(long producerId, short epoch, int lastSequence, long lastTimestamp, int coordinatorEpoch, long txnFirstOffset) {
    }

    private static final class Entry {
        short epoch;
        final ArrayDeque<BatchMeta> batches = new ArrayDeque<>();
        long txnFirstOffset = -1;
        int coordinatorEpoch = -1;
        long lastTimestamp = RecordBatch.NO_TIMESTAMP;
    }

    private final Map<Long, Entry> producers = new HashMap<>();
    /**
     * The transaction checks in progress (Kafka's VerificationStateEntry): producer id to the guard a check started
     * with, until the transaction's first append here or a marker for the producer; at most
     * {@link Limits#TXN_VERIFICATION_GUARDS_PER_PARTITION}, the oldest dropped first. Not in snapshots: a check does
     * not outlive the leader.
     */
    private final LinkedHashMap<Long, Verification> guards = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Verification> eldest) {
            return size() > Limits.TXN_VERIFICATION_GUARDS_PER_PARTITION;
        }
    };
    /** The open transactions: first offset here to producer id. */
    private final TreeMap<Long, Long> open = new TreeMap<>();
    /**
     * Transactions closed by a marker the high watermark has not passed yet, first offset to marker offset: they stay
     * unstable until the marker is on every in-sync replica (Kafka's unreplicatedTxns).
     */
    private final TreeMap<Long, Long> unreplicated = new TreeMap<>();

    /**
     * Checks a batch from {@code producerId}: returns the original batch when this one is a retried duplicate, or
     * empty when it may be appended; throws Kafka's exception when its epoch or sequence is wrong.
     */
    Optional<BatchMeta> check(long producerId, short epoch, int firstSeq, int lastSeq) {
        return check(producerId, epoch, firstSeq, lastSeq, false);
    }

    /**
     * {@link #check(long, short, int, int)}; {@code epochBumpKeepsSequence}: the batch opens a transaction of a producer
     * that bumps its epoch per transaction and keeps counting sequence numbers (transactions version 2, verified with
     * the coordinator), so a newer epoch may start at any sequence (Kafka's ProducerAppendInfo with a verification
     * entry that supports epoch bumps).
     */
    Optional<BatchMeta> check(long producerId, short epoch, int firstSeq, int lastSeq, boolean epochBumpKeepsSequence) {
        Entry e = producers.get(producerId);
        if (e == null) return Optional.empty();
        if (epoch < e.epoch) {
            throw new InvalidProducerEpochException("Producer " + producerId + " has epoch " + epoch + ", older than the current " + e.epoch);
        }
        if (epoch > e.epoch) {
            if (firstSeq != 0 && !epochBumpKeepsSequence) {
                throw new OutOfOrderSequenceException("Producer " + producerId + " starts epoch " + epoch + " at sequence " + firstSeq + ", not 0");
            }
            return Optional.empty();
        }
        for (BatchMeta b : e.batches) {
            if (b.firstSeq() == firstSeq && b.lastSeq() == lastSeq) return Optional.of(b);
        }
        int expected = e.batches.isEmpty() ? firstSeq : nextSequence(e.batches.peekLast().lastSeq());
        if (firstSeq != expected) {
            throw new OutOfOrderSequenceException("Producer " + producerId + " sent sequence " + firstSeq + " where " + expected + " was expected");
        }
        return Optional.empty();
    }

    /** Whether {@code producerId} has a transaction open here in {@code epoch} (its batches need no check with the coordinator). */
    boolean hasOngoingTxn(long producerId, short epoch) {
        Entry e = producers.get(producerId);
        return e != null && e.txnFirstOffset >= 0 && e.epoch == epoch;
    }

    /**
     * A check of a producer's transaction in progress here (Kafka's VerificationStateEntry), which is its own guard: the
     * epoch it is for, the lowest sequence number of the writes that started it (the transaction's first batch here
     * must be that one: a pipelined later batch whose check finished first waits, OUT_OF_ORDER_SEQUENCE_NUMBER, which
     * its producer retries), and whether the producer bumps its epoch per transaction without starting its sequence
     * numbers again (transactions version 2).
     */
    static final class Verification {
        final short epoch;
        int lowestSequence;
        final boolean supportsEpochBump;

        Verification(short epoch, int lowestSequence, boolean supportsEpochBump) {
            this.epoch = epoch;
            this.lowestSequence = lowestSequence;
            this.supportsEpochBump = supportsEpochBump;
        }
    }

    /** The check of {@code producerId}'s transaction here in {@code epoch}: the one in progress, or a new one. */
    Verification verificationGuard(long producerId, short epoch, int firstSequence, boolean supportsEpochBump) {
        Verification v = guards.get(producerId);
        if (v == null || epoch > v.epoch) {
            v = new Verification(epoch, firstSequence, supportsEpochBump);
            guards.put(producerId, v);
        } else if (epoch == v.epoch) {
            v.lowestSequence = Math.min(v.lowestSequence, firstSequence);
        }
        return v;
    }

    /** The producer's check in progress if it is {@code guard} (no marker or first append came since it started), else null. */
    Verification verified(long producerId, Object guard) {
        Verification v = guard == null ? null : guards.get(producerId);
        return v == guard ? v : null;
    }

    /** The batch of {@code producerId} in {@code epoch} with these sequence numbers, if it was written here (a retry). */
    Optional<BatchMeta> duplicateOf(long producerId, short epoch, int firstSeq, int lastSeq) {
        Entry e = producers.get(producerId);
        if (e == null || e.epoch != epoch) return Optional.empty();
        for (BatchMeta b : e.batches) if (b.firstSeq() == firstSeq && b.lastSeq() == lastSeq) return Optional.of(b);
        return Optional.empty();
    }

    /** Checks only the epoch of a batch from {@code producerId} (a coordinator's write); never a duplicate. */
    Optional<BatchMeta> checkEpoch(long producerId, short epoch) {
        Entry e = producers.get(producerId);
        if (e != null && epoch < e.epoch) {
            throw new InvalidProducerEpochException("Producer " + producerId + " has epoch " + epoch + ", older than the current " + e.epoch);
        }
        return Optional.empty();
    }

    private static int nextSequence(int seq) {
        return seq == Integer.MAX_VALUE ? 0 : seq + 1;
    }

    /** Records an appended data batch; a transactional one opens its producer's transaction here if none is open. */
    void update(long producerId, short epoch, int firstSeq, int lastSeq, long firstOffset, long lastOffset, boolean transactional, long timestamp) {
        Entry e = producers.computeIfAbsent(producerId, k -> new Entry());
        if (epoch != e.epoch) e.batches.clear();
        e.epoch = epoch;
        e.batches.addLast(new BatchMeta(firstSeq, lastSeq, firstOffset, lastOffset));
        while (e.batches.size() > Limits.PRODUCER_BATCHES_REMEMBERED) e.batches.removeFirst();
        e.lastTimestamp = timestamp;
        if (transactional && e.txnFirstOffset < 0) {
            e.txnFirstOffset = firstOffset;
            open.put(firstOffset, producerId);
            guards.remove(producerId);
        }
    }

    /**
     * Checks an end-transaction marker before it is written; throws Kafka's exception when it is fenced.
     * {@code transactionVersion} is the transaction's (WriteTxnMarkers v2; 0 when the request does not say).
     */
    void checkMarker(long producerId, short epoch, int coordinatorEpoch, byte transactionVersion) {
        Entry e = producers.get(producerId);
        if (e == null) return;
        if (epoch < e.epoch) {
            throw new InvalidProducerEpochException("Marker of producer " + producerId + " has epoch " + epoch + ", older than the current " + e.epoch);
        }
        // Transactions version 2 (KIP-890): the marker carries the epoch bumped at EndTxn, above its transaction's
        // records; one that is not would end a later transaction of the producer.
        if (transactionVersion >= 2 && e.txnFirstOffset >= 0 && epoch <= e.epoch) {
            throw new InvalidProducerEpochException("Marker of producer " + producerId + " (transactions version 2) has epoch " + epoch
                    + ", not above its open transaction's " + e.epoch);
        }
        if (coordinatorEpoch < e.coordinatorEpoch) {
            throw new TransactionCoordinatorFencedException("Marker of producer " + producerId + " comes from coordinator epoch " + coordinatorEpoch
                    + ", older than " + e.coordinatorEpoch);
        }
    }

    /** Records an appended end-transaction marker at {@code offset}: the producer's open transaction here is closed. */
    CompletedTxn completeTxn(long producerId, short epoch, int coordinatorEpoch, boolean commit, long offset, long timestamp) {
        Entry e = producers.computeIfAbsent(producerId, k -> new Entry());
        long first = e.txnFirstOffset;
        if (first >= 0) {
            open.remove(first);
            unreplicated.put(first, offset);
        }
        e.txnFirstOffset = -1;
        guards.remove(producerId);
        e.coordinatorEpoch = coordinatorEpoch;
        e.lastTimestamp = timestamp;
        if (epoch > e.epoch) {
            e.epoch = epoch;
            e.batches.clear();
        }
        return new CompletedTxn(producerId, first, offset, commit);
    }

    /**
     * The first offset of a transaction not yet known to be closed on every in-sync replica (open, or closed by a
     * marker at or past the high watermark), or {@code Long.MAX_VALUE}. The last stable offset is the lower of this
     * and the high watermark.
     */
    long firstUnstableOffset() {
        long a = open.isEmpty() ? Long.MAX_VALUE : open.firstKey();
        long b = unreplicated.isEmpty() ? Long.MAX_VALUE : unreplicated.firstKey();
        return Math.min(a, b);
    }

    /**
     * The last stable offset to record with a transaction just closed by the marker at {@code markerOffset} (Kafka's
     * {@code lastStableOffset(completedTxn)}): the first offset of another open transaction, else past the marker.
     */
    long stableOffsetAfter(long markerOffset) {
        return open.isEmpty() ? markerOffset + 1 : Math.min(open.firstKey(), markerOffset + 1);
    }

    /** The high watermark moved to {@code hw}: transactions whose markers are below it are stable. */
    void highWatermarkAt(long hw) {
        if (!unreplicated.isEmpty()) unreplicated.values().removeIf(marker -> marker < hw);
    }

    /** The open transactions' first offsets and producers (DescribeProducers, the transaction timeout's view). */
    Map<Long, Long> openTransactions() {
        return Map.copyOf(open);
    }

    /**
     * What compaction keeps of each producer so that a rebuild of this state from the log still knows it: its last data
     * batch here, or, when a marker bumped its epoch past that batch (transactions version 2), that epoch's marker.
     */
    Map<Long, LastRecord> lastRecords() {
        Map<Long, LastRecord> out = new HashMap<>();
        producers.forEach((id, e) -> out.put(id, new LastRecord(e.batches.isEmpty() ? -1 : e.batches.peekLast().lastOffset(), e.epoch)));
        return out;
    }

    /**
     * Forgets the producers with no transaction open here whose last batch is {@code expirationMs} or more older than
     * {@code nowMs} (Kafka's {@code producer.id.expiration.ms}, KIP-854: its ProducerStateManager.removeExpiredProducers,
     * which also goes by the batches' timestamps). Without it the table grows with every producer ever seen. A producer
     * forgotten here may start again at any sequence, like a new one.
     *
     * @return how many were forgotten
     */
    int removeExpired(long nowMs, long expirationMs) {
        int before = producers.size();
        producers.values().removeIf(e -> e.txnFirstOffset < 0 && nowMs - e.lastTimestamp >= expirationMs);
        return before - producers.size();
    }

    /** Every producer's state here, for DescribeProducers. */
    List<ProducerView> describe() {
        List<ProducerView> out = new ArrayList<>();
        producers.forEach((id, e) -> out.add(new ProducerView(id, e.epoch, e.batches.isEmpty() ? -1 : e.batches.peekLast().lastSeq(),
                e.lastTimestamp, e.coordinatorEpoch, e.txnFirstOffset)));
        return out;
    }

    /**
     * Records the batch whose header is at position 0 of {@code header}, if it carries a producer id; a control batch
     * is read whole ({@code batch}) for its marker. Returns the transaction a marker closed, or null.
     */
    CompletedTxn replay(ByteBuffer header, Log.BatchSource batch) throws IOException {
        long pid = BatchHeader.producerId(header, 0);
        if (pid == RecordBatch.NO_PRODUCER_ID) return null;
        short epoch = BatchHeader.producerEpoch(header, 0);
        long timestamp = BatchHeader.maxTimestamp(header, 0);
        if (BatchHeader.isControl(header, 0)) {
            EndTransactionMarker marker = endMarker(batch.read());
            if (marker == null) return null;
            return completeTxn(pid, epoch, marker.coordinatorEpoch(), marker.controlType() == ControlRecordType.COMMIT, BatchHeader.baseOffset(header, 0),
                    timestamp);
        }
        update(pid, epoch, BatchHeader.baseSequence(header, 0), BatchHeader.lastSequence(header, 0), BatchHeader.baseOffset(header, 0),
                BatchHeader.lastOffset(header, 0), BatchHeader.isTransactional(header, 0), timestamp);
        return null;
    }

    /** The end-transaction marker a control batch holds, or null for another control record (not written by Runnel). */
    static EndTransactionMarker endMarker(RecordBatch controlBatch) {
        for (Record r : controlBatch) {
            ControlRecordType type = ControlRecordType.parse(r.key());
            return type == ControlRecordType.COMMIT || type == ControlRecordType.ABORT ? EndTransactionMarker.deserialize(r) : null;
        }
        return null;
    }

    int producerCount() {
        return producers.size();
    }

    /** The state as snapshot bytes (taken on the partition's context, written on a worker). */
    byte[] snapshot() {
        int size = 2 + 4 + 4;
        for (Entry e : producers.values()) size += 34 + e.batches.size() * 24;
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putShort(VERSION).putInt(producers.size());
        producers.forEach((id, e) -> {
            b.putLong(id).putShort(e.epoch).putLong(e.txnFirstOffset).putInt(e.coordinatorEpoch).putLong(e.lastTimestamp).putInt(e.batches.size());
            for (BatchMeta m : e.batches) b.putInt(m.firstSeq()).putInt(m.lastSeq()).putLong(m.firstOffset()).putLong(m.lastOffset());
        });
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /** Writes a snapshot covering offsets below {@code logEndOffset} and deletes older ones. Blocking. */
    static void writeSnapshot(Path dir, long logEndOffset, byte[] bytes) throws IOException {
        Checkpoints.writeAtomically(dir.resolve(String.format("%020d%s", logEndOffset, SUFFIX)), bytes);
        for (Map.Entry<Long, Path> old : snapshots(dir).headMap(logEndOffset).entrySet()) Files.deleteIfExists(old.getValue());
    }

    /**
     * Loads the newest valid snapshot at or below the log end, then replays the log after it; the aborts met on the way
     * that {@code aborted} lacks are added to it (and written to its file). Blocking.
     */
    static ProducerStateTable load(Path dir, Log log, AbortedTxnIndex aborted) throws IOException {
        if (aborted.damaged()) {
            // The aborted transactions before the last snapshot are lost with the damaged entry: replay the whole log.
            LOG.warn("The aborted-transaction index of {} is damaged; rebuilding it and the producer state from the log", dir.getFileName());
            aborted.clear();
            ProducerStateTable table = new ProducerStateTable();
            table.replayFrom(log.logStartOffset(), log, aborted);
            return table;
        }
        TreeMap<Long, Path> snaps = snapshots(dir);
        for (Map.Entry<Long, Path> s : snaps.descendingMap().entrySet()) {
            if (s.getKey() > log.logEndOffset()) {
                Files.deleteIfExists(s.getValue()); // written for data a crash lost
                continue;
            }
            Optional<ProducerStateTable> t = read(Files.readAllBytes(s.getValue()));
            if (t.isPresent()) {
                ProducerStateTable table = t.get();
                if (s.getKey() < log.logEndOffset()) table.replayFrom(s.getKey(), log, aborted);
                return table;
            }
        }
        ProducerStateTable table = new ProducerStateTable();
        table.replayFrom(log.logStartOffset(), log, aborted);
        return table;
    }

    private void replayFrom(long offset, Log log, AbortedTxnIndex aborted) throws IOException {
        log.forEachBatch(offset, (header, batch) -> {
            CompletedTxn done = replay(header, batch);
            if (done != null && !done.committed() && done.firstOffset() >= 0) {
                AbortedTxnIndex.Append bytes = aborted.add(new AbortedTxn(done.producerId(), done.firstOffset(), done.markerOffset(),
                        stableOffsetAfter(done.markerOffset())), log.segmentBaseFor(done.markerOffset()));
                if (bytes != null) aborted.writeAppend(bytes);
            }
        });
        unreplicated.clear(); // the replayed markers are as replicated as the log that holds them
    }

    private static Optional<ProducerStateTable> read(byte[] bytes) {
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            CRC32C crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 4);
            if ((int) crc.getValue() != b.getInt(bytes.length - 4)) return Optional.empty();
            short version = b.getShort();
            if (version != 1 && version != VERSION) return Optional.empty();
            ProducerStateTable t = new ProducerStateTable();
            int n = b.getInt();
            for (int i = 0; i < n; i++) {
                long id = b.getLong();
                Entry e = new Entry();
                e.epoch = b.getShort();
                if (version >= 2) {
                    e.txnFirstOffset = b.getLong();
                    e.coordinatorEpoch = b.getInt();
                    e.lastTimestamp = b.getLong();
                    if (e.txnFirstOffset >= 0) t.open.put(e.txnFirstOffset, id);
                }
                int batches = b.getInt();
                for (int j = 0; j < batches; j++) e.batches.add(new BatchMeta(b.getInt(), b.getInt(), b.getLong(), b.getLong()));
                t.producers.put(id, e);
            }
            return Optional.of(t);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private static TreeMap<Long, Path> snapshots(Path dir) throws IOException {
        TreeMap<Long, Path> out = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                try {
                    out.put(Long.parseLong(name.substring(0, name.length() - SUFFIX.length())), f);
                } catch (NumberFormatException ignored) {
                    // not ours
                }
            }
        }
        return out;
    }
}
