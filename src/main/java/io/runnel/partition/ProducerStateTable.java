package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.BatchHeader;
import io.runnel.log.Checkpoints;
import io.runnel.log.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * The idempotent producer's state on one partition (Kafka's ProducerStateManager): for each producer id, its epoch
 * and the last {@link Limits#PRODUCER_BATCHES_REMEMBERED} batches' sequence numbers and offsets, so that a retried
 * batch is recognised and answered with its original offsets instead of being written twice.
 *
 * <p>Sequence rules, as Kafka's {@code ProducerAppendInfo.checkSequence}: an older epoch is fenced
 * ({@code INVALID_PRODUCER_EPOCH}); a newer epoch must start at sequence 0; within an epoch each batch must start
 * right after the previous one's last sequence (wrapping at Integer.MAX_VALUE), else
 * {@code OUT_OF_ORDER_SEQUENCE_NUMBER}; a producer with no state yet may start anywhere (KIP-360).
 *
 * <p>Snapshot file {@code NNNNNNNNNNNNNNNNNNNN.snapshot} (the log end offset it covers, 20 digits), big endian:
 * {@code int16 version=1}, {@code int32 producers}, then per producer {@code int64 id, int16 epoch, int32 batches},
 * then per batch {@code int32 firstSeq, int32 lastSeq, int64 firstOffset, int64 lastOffset}; last, the CRC-32C of
 * everything before it. Written atomically at every flush and at close; at start the newest valid snapshot at or
 * below the log end is read and the batches after it are replayed from the log's headers. A missing or damaged
 * snapshot means a replay from the log start. Lives on the partition's context, except {@link #load}.
 */
final class ProducerStateTable {
    static final String SUFFIX = ".snapshot";
    private static final short VERSION = 1;

    record BatchMeta(int firstSeq, int lastSeq, long firstOffset, long lastOffset) {
    }

    private static final class Entry {
        short epoch;
        final ArrayDeque<BatchMeta> batches = new ArrayDeque<>();
    }

    private final Map<Long, Entry> producers = new HashMap<>();

    /**
     * Checks a batch from {@code producerId}: returns the original batch when this one is a retried duplicate, or
     * empty when it may be appended; throws Kafka's exception when its epoch or sequence is wrong.
     */
    Optional<BatchMeta> check(long producerId, short epoch, int firstSeq, int lastSeq) {
        Entry e = producers.get(producerId);
        if (e == null) return Optional.empty();
        if (epoch < e.epoch) {
            throw new InvalidProducerEpochException("Producer " + producerId + " has epoch " + epoch + ", older than the current " + e.epoch);
        }
        if (epoch > e.epoch) {
            if (firstSeq != 0) {
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

    private static int nextSequence(int seq) {
        return seq == Integer.MAX_VALUE ? 0 : seq + 1;
    }

    /** Records an appended batch. */
    void update(long producerId, short epoch, int firstSeq, int lastSeq, long firstOffset, long lastOffset) {
        Entry e = producers.computeIfAbsent(producerId, k -> new Entry());
        if (epoch != e.epoch) e.batches.clear();
        e.epoch = epoch;
        e.batches.addLast(new BatchMeta(firstSeq, lastSeq, firstOffset, lastOffset));
        while (e.batches.size() > Limits.PRODUCER_BATCHES_REMEMBERED) e.batches.removeFirst();
    }

    /** Records the batch whose header is at position 0 of {@code header}, if it carries a producer id. */
    void replay(ByteBuffer header) {
        long pid = BatchHeader.producerId(header, 0);
        if (pid == RecordBatch.NO_PRODUCER_ID) return;
        update(pid, BatchHeader.producerEpoch(header, 0), BatchHeader.baseSequence(header, 0),
                BatchHeader.lastSequence(header, 0), BatchHeader.baseOffset(header, 0), BatchHeader.lastOffset(header, 0));
    }

    int producerCount() {
        return producers.size();
    }

    /** The state as snapshot bytes (taken on the partition's context, written on a worker). */
    byte[] snapshot() {
        int size = 2 + 4 + 4;
        for (Entry e : producers.values()) size += 14 + e.batches.size() * 24;
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putShort(VERSION).putInt(producers.size());
        producers.forEach((id, e) -> {
            b.putLong(id).putShort(e.epoch).putInt(e.batches.size());
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

    /** Loads the newest valid snapshot at or below the log end, then replays the log after it. Blocking. */
    static ProducerStateTable load(Path dir, Log log) throws IOException {
        TreeMap<Long, Path> snaps = snapshots(dir);
        for (Map.Entry<Long, Path> s : snaps.descendingMap().entrySet()) {
            if (s.getKey() > log.logEndOffset()) {
                Files.deleteIfExists(s.getValue()); // written for data a crash lost
                continue;
            }
            Optional<ProducerStateTable> t = read(Files.readAllBytes(s.getValue()));
            if (t.isPresent()) {
                ProducerStateTable table = t.get();
                if (s.getKey() < log.logEndOffset()) log.forEachBatchHeader(s.getKey(), table::replay);
                return table;
            }
        }
        ProducerStateTable table = new ProducerStateTable();
        log.forEachBatchHeader(log.logStartOffset(), table::replay);
        return table;
    }

    private static Optional<ProducerStateTable> read(byte[] bytes) {
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            CRC32C crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 4);
            if ((int) crc.getValue() != b.getInt(bytes.length - 4) || b.getShort() != VERSION) return Optional.empty();
            ProducerStateTable t = new ProducerStateTable();
            int n = b.getInt();
            for (int i = 0; i < n; i++) {
                long id = b.getLong();
                Entry e = new Entry();
                e.epoch = b.getShort();
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
