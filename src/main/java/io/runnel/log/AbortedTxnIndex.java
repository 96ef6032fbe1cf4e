package io.runnel.log;

import io.runnel.log.value.AbortedTxn;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The aborted transactions of a partition's log, for read_committed fetches (Kafka keeps the same entries in a
 * {@code .txnindex} file per segment): each names the producer, the transaction's first offset and the offset of its
 * ABORT marker, and the last stable offset when it was aborted. A read_committed consumer is sent those that overlap
 * what it fetched and drops their records (KIP-98).
 *
 * <p>File {@code aborted-transactions} in the partition's directory, append-only, one 36-byte entry per abort, big
 * endian: {@code int64 producerId, int64 firstOffset, int64 lastOffset, int64 lastStableOffset, int32 CRC-32C of the
 * 32 bytes before}. Entries are in marker order (lastOffset ascending). An append is written on the partition's
 * worker queue and fsynced with the log's next flush (before the log and the producer snapshot of that flush); a crash
 * can lose the last entries or tear the last one, which {@link #load} drops, and the producer-state replay after the
 * last snapshot writes again the aborts it meets past {@link #lastOffset}. An entry damaged elsewhere (whole entries
 * follow it) makes the index {@link #damaged}: it is then rebuilt from the whole log. Entries past the log end (a crash lost their markers, or a follower truncated) are cut off by
 * {@link #truncateTo}; those before the log start are dropped by {@link #dropBefore} when retention moves it. Both
 * rewrite the file atomically.
 *
 * <p>Memory: the entries live in memory too (32 bytes each), one per aborted transaction still in the log.
 *
 * <p>Threading: the in-memory list belongs to the partition's context; the {@code write*} methods take a snapshot
 * made there and run on its worker queue.
 */
public final class AbortedTxnIndex {
    public static final String FILE = "aborted-transactions";
    static final int ENTRY_SIZE = 36;

    private final Path file;
    private final List<AbortedTxn> entries;
    private boolean damaged;

    private AbortedTxnIndex(Path file, List<AbortedTxn> entries) {
        this.file = file;
        this.entries = entries;
    }

    /**
     * Reads the index of the log in {@code dir} (empty when there is none), keeping the entries before the first
     * damaged one and those whose marker is below {@code logEndOffset}. Blocking.
     */
    public static AbortedTxnIndex load(Path dir, long logEndOffset) throws IOException {
        Path f = dir.resolve(FILE);
        List<AbortedTxn> out = new ArrayList<>();
        boolean damaged = false;
        if (Files.exists(f)) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f));
            while (b.remaining() >= ENTRY_SIZE) {
                int at = b.position();
                CRC32C crc = new CRC32C();
                crc.update(b.array(), at, ENTRY_SIZE - 4);
                AbortedTxn t = new AbortedTxn(b.getLong(), b.getLong(), b.getLong(), b.getLong());
                if ((int) crc.getValue() != b.getInt()) {
                    damaged = b.remaining() >= ENTRY_SIZE; // the last entry torn by a crash is expected; one in the middle is not
                    break;
                }
                if (t.lastOffset() >= logEndOffset) break;
                out.add(t);
            }
        }
        AbortedTxnIndex index = new AbortedTxnIndex(f, out);
        index.damaged = damaged;
        if (Files.exists(f) && Files.size(f) != (long) out.size() * ENTRY_SIZE) writeAll(f, List.copyOf(out));
        return index;
    }

    /**
     * Whether an entry was damaged with whole entries after it (not a torn last write): the entries before the
     * producer-state snapshot cannot be trusted to be whole, and the index must be rebuilt from the log ({@link #clear}).
     */
    public boolean damaged() {
        return damaged;
    }

    /** Empties the index and its file, to be rebuilt from the log. Blocking. */
    public void clear() throws IOException {
        entries.clear();
        damaged = false;
        writeAll(List.of());
    }

    /** The offset of the last abort marker indexed, or -1. */
    public long lastOffset() {
        return entries.isEmpty() ? -1 : entries.get(entries.size() - 1).lastOffset();
    }

    /**
     * Adds an abort (its marker after every one indexed) and returns the bytes to append to the file with
     * {@link #writeAppend}; null when the marker is indexed already (a replay meeting what the file has).
     */
    public byte[] add(AbortedTxn t) {
        if (t.lastOffset() <= lastOffset()) return null;
        entries.add(t);
        return encode(t);
    }

    /**
     * The aborted transactions a read of offsets {@code [fetchOffset, upperBound)} overlaps: marker at or after
     * {@code fetchOffset}, first record before {@code upperBound} (Kafka's collectAbortedTxns).
     */
    public List<AbortedTxn> overlapping(long fetchOffset, long upperBound) {
        List<AbortedTxn> out = new ArrayList<>();
        int lo = 0;
        int hi = entries.size();
        while (lo < hi) { // the first entry whose marker is at or after fetchOffset
            int mid = (lo + hi) >>> 1;
            if (entries.get(mid).lastOffset() < fetchOffset) lo = mid + 1;
            else hi = mid;
        }
        for (int i = lo; i < entries.size(); i++) {
            AbortedTxn t = entries.get(i);
            if (t.firstOffset() < upperBound) out.add(t);
        }
        return out;
    }

    /** Drops the entries whose marker is at or past {@code offset} (a truncated log); true when any was. */
    public boolean truncateTo(long offset) {
        return entries.removeIf(t -> t.lastOffset() >= offset);
    }

    /** Drops the entries whose marker is before {@code logStartOffset} (retention moved it); true when any was. */
    public boolean dropBefore(long logStartOffset) {
        return entries.removeIf(t -> t.lastOffset() < logStartOffset);
    }

    /** The entries now, to rewrite the file with (take it on the partition's context). */
    public List<AbortedTxn> snapshot() {
        return List.copyOf(entries);
    }

    public int size() {
        return entries.size();
    }

    /** Appends encoded entries to the file. Blocking (no fsync: {@link #sync} does, with the log's flush). */
    public void writeAppend(byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        }
    }

    /** fsyncs the file, if it exists. Blocking. */
    public void sync() throws IOException {
        if (!Files.exists(file)) return;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Replaces the file with {@code all} entries, atomically. Blocking. */
    public void writeAll(List<AbortedTxn> all) throws IOException {
        writeAll(file, all);
    }

    private static void writeAll(Path f, List<AbortedTxn> all) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(all.size() * ENTRY_SIZE);
        for (AbortedTxn t : all) b.put(encode(t));
        Checkpoints.writeAtomically(f, b.array());
    }

    private static byte[] encode(AbortedTxn t) {
        ByteBuffer b = ByteBuffer.allocate(ENTRY_SIZE);
        b.putLong(t.producerId()).putLong(t.firstOffset()).putLong(t.lastOffset()).putLong(t.lastStableOffset());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, ENTRY_SIZE - 4);
        b.putInt((int) crc.getValue());
        return b.array();
    }
}
