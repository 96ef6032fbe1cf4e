package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The common part of the two sparse indexes of a segment: fixed-width big-endian entries, kept in memory for binary
 * search and written to a file so that a restart need not rebuild them.
 *
 * <p>Entries are kept in memory (a {@code long} key and an {@code int} value, 12 bytes per entry, one entry per
 * {@code index.interval.bytes} of log, so about 0.3% of the log's size at the default 4 KiB). Kafka memory-maps its
 * indexes instead; the in-memory copy trades a little heap for lookups without page faults and for files that are
 * never larger than their entries (no pre-allocation to trim after a crash).
 *
 * <p>The file is not held open: a broker with 10,000 partitions would otherwise hold three descriptors per segment
 * (the log and two indexes) and run out of them where Kafka, which closes its index files once they are mapped, holds
 * one. {@link #append} records an entry in memory only; the entries not yet in the file go there in one write when
 * the log is flushed ({@link #takePending}, written by the flush's worker), when the segment stops being the active
 * one, when it is recovered and when it is closed. A crash therefore leaves the active segment's index files behind
 * its log, which costs nothing: a log past its recovery point is recovered (and its indexes rebuilt) at start, and a
 * segment before it was flushed with its indexes. A file that is cut in the middle of an entry, has entries that point
 * past the log's valid end or (after a failed write) a hole fails {@link #load}, and the segment rebuilds it from
 * the log.
 */
abstract class SparseIndex {
    private static final int INITIAL_ENTRIES = 16;

    protected final Path file;
    protected final long baseOffset;
    private final int entryBytes;
    private long[] keys = new long[INITIAL_ENTRIES];
    private int[] values = new int[INITIAL_ENTRIES];
    private int entries;
    /** Entries [0, written) are in the file or handed to a writer; the owner thread moves it forward. */
    private int written;
    /** {@link #reset} dropped the entries: the next write cuts the file back first. */
    private boolean truncatePending;
    /** Entries were written without an fsync since the last forced write. */
    private boolean unsynced;

    protected SparseIndex(Path file, long baseOffset, int entryBytes) {
        this.file = file;
        this.baseOffset = baseOffset;
        this.entryBytes = entryBytes;
    }

    /** Writes one entry; the subclass encodes the key and value. */
    protected abstract void encode(ByteBuffer out, long key, int value);

    /** Decodes entry {@code i} of {@code in} into {@code keys[i]} / {@code values[i]} via {@link #put}. */
    protected abstract void decode(ByteBuffer in, int at, int i);

    /** Whether entry {@code i} may follow entry {@code i - 1} and lies inside a log of {@code logBytes} bytes. */
    protected abstract boolean entryValid(int i, long logBytes);

    protected final void put(int i, long key, int value) {
        ensureCapacity(i + 1);
        keys[i] = key;
        values[i] = value;
    }

    /**
     * Reads the file into memory and checks every entry: the file must hold whole entries, in increasing order,
     * pointing inside the log. A missing file is an empty index. Returns false (and leaves the index empty) when the
     * file cannot be trusted.
     */
    final boolean load(long logBytes) throws IOException {
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size % entryBytes != 0 || size / entryBytes > Integer.MAX_VALUE) return clearForRebuild();
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            bytes = new byte[0];
        }
        if (bytes.length % entryBytes != 0) return clearForRebuild();
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        int n = bytes.length / entryBytes;
        for (int i = 0; i < n; i++) {
            decode(buf, i * entryBytes, i);
            entries = i + 1;
            if (!entryValid(i, logBytes)) return clearForRebuild();
        }
        entries = n;
        written = n;
        return true;
    }

    private boolean clearForRebuild() {
        reset();
        return false;
    }

    /** Drops every entry before a rebuild; the file is cut back by the next write. */
    final void reset() {
        entries = 0;
        written = 0;
        truncatePending = true;
    }

    final void append(long key, int value) {
        put(entries, key, value);
        entries++;
        assert entries == 1 || entryValid(entries - 1, Long.MAX_VALUE) : "index entries out of order in " + file;
    }

    /**
     * The entries not yet in the file, encoded for a writer on any thread ({@link Pending#write}); the owner thread
     * calls this and counts them as written. The write must follow (a lost one leaves a hole that {@link #load}
     * refuses, so the segment is rebuilt at the next start).
     */
    final Pending takePending() {
        if (written == entries && !truncatePending && !unsynced) return Pending.NONE;
        ByteBuffer bytes = ByteBuffer.allocate((entries - written) * entryBytes);
        for (int i = written; i < entries; i++) encode(bytes, keys[i], values[i]);
        bytes.flip();
        Pending p = new Pending(file, (long) written * entryBytes, bytes, truncatePending);
        written = entries;
        truncatePending = false;
        unsynced = false;
        return p;
    }

    /** Writes the pending entries now, on the owner thread (a roll, a recovery, a close): to the page cache only. */
    final void writePending() throws IOException {
        if (written == entries && !truncatePending) return;
        Pending p = takePending();
        try {
            p.write(false);
            unsynced = true;
        } catch (IOException e) {
            // Entries [from, written) are not in the file: write them again next time, from a file cut back to them.
            written = (int) (p.position / entryBytes);
            truncatePending = true;
            throw e;
        }
    }

    /** Entries to write at {@code position} of {@code file} (after cutting it there when {@code truncate}). */
    record Pending(Path file, long position, ByteBuffer bytes, boolean truncate) {
        static final Pending NONE = new Pending(null, 0, ByteBuffer.allocate(0), false);

        /** Writes (and with {@code force} fsyncs) the entries. Blocking; any thread. */
        void write(boolean force) throws IOException {
            if (this == NONE) return;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                if (truncate) ch.truncate(position);
                ByteBuffer b = bytes.duplicate();
                long at = position;
                while (b.hasRemaining()) at += ch.write(b, at);
                if (force) ch.force(true);
            }
        }
    }

    /** Index of the last entry whose key is at most {@code target}, or -1 when every key is larger. */
    final int floorEntry(long target) {
        int i = Arrays.binarySearch(keys, 0, entries, target);
        if (i >= 0) {
            while (i + 1 < entries && keys[i + 1] == target) i++;
            return i;
        }
        return -(i + 1) - 1;
    }

    final long key(int i) {
        return keys[i];
    }

    final int value(int i) {
        return values[i];
    }

    final int entries() {
        return entries;
    }

    final void deleteFile() throws IOException {
        Files.deleteIfExists(file);
    }

    private void ensureCapacity(int n) {
        if (n <= keys.length) return;
        int cap = Math.max(n, keys.length * 2);
        keys = Arrays.copyOf(keys, cap);
        values = Arrays.copyOf(values, cap);
    }
}
