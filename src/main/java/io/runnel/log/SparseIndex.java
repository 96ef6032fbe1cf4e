package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The common part of the two sparse indexes of a segment: fixed-width big-endian entries appended to a file, a copy
 * of the entries in memory for binary search, and the checks that decide whether a file read back can be trusted.
 *
 * <p>Entries are kept in memory (a {@code long} key and an {@code int} value, 12 bytes per entry, one entry per
 * {@code index.interval.bytes} of log, so about 0.3% of the log's size at the default 4 KiB). Kafka memory-maps its
 * indexes instead; the in-memory copy trades a little heap for lookups without page faults and for files that are
 * never larger than their entries (no pre-allocation to trim after a crash).
 *
 * <p>Writes are staged: {@link #append} records an entry in memory and in a small staging buffer, and
 * {@link #writeStaged} writes the staged bytes once per log append. A crash can therefore leave the file shorter
 * than the log (entries missing at the end, harmless: lookups start earlier and scan), or cut in the middle of an
 * entry, or with entries that point past the log's valid end; {@link #load} refuses such a file and the segment
 * rebuilds it from the log.
 */
abstract class SparseIndex {
    private static final int INITIAL_ENTRIES = 16;
    /** Entries staged between two writes; a log append adds at most one entry per batch, so this is rarely reached. */
    private static final int STAGE_ENTRIES = 256;

    protected final Path file;
    protected final long baseOffset;
    private final int entryBytes;
    private FileChannel channel;
    private long[] keys = new long[INITIAL_ENTRIES];
    private int[] values = new int[INITIAL_ENTRIES];
    private int entries;
    private final ByteBuffer stage;
    private long fileBytes;

    protected SparseIndex(Path file, long baseOffset, int entryBytes) throws IOException {
        this.file = file;
        this.baseOffset = baseOffset;
        this.entryBytes = entryBytes;
        this.stage = ByteBuffer.allocate(entryBytes * STAGE_ENTRIES);
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        this.fileBytes = channel.size();
    }

    /** Writes one entry into the staging buffer; the subclass encodes the key and value. */
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
     * pointing inside the log. Returns false (and leaves the index empty) when the file cannot be trusted.
     */
    final boolean load(long logBytes) throws IOException {
        long size = channel.size();
        if (size % entryBytes != 0 || size / entryBytes > Integer.MAX_VALUE) return clearForRebuild();
        int n = (int) (size / entryBytes);
        ByteBuffer buf = ByteBuffer.allocate((int) size);
        while (buf.hasRemaining()) {
            if (channel.read(buf, buf.position()) < 0) return clearForRebuild();
        }
        buf.flip();
        for (int i = 0; i < n; i++) {
            decode(buf, i * entryBytes, i);
            entries = i + 1;
            if (!entryValid(i, logBytes)) return clearForRebuild();
        }
        entries = n;
        fileBytes = size;
        return true;
    }

    private boolean clearForRebuild() throws IOException {
        reset();
        return false;
    }

    /** Drops every entry, in memory and on disk, before a rebuild. */
    final void reset() throws IOException {
        entries = 0;
        stage.clear();
        channel.truncate(0);
        fileBytes = 0;
    }

    final void append(long key, int value) throws IOException {
        put(entries, key, value);
        entries++;
        assert entries == 1 || entryValid(entries - 1, Long.MAX_VALUE) : "index entries out of order in " + file;
        if (!stage.hasRemaining()) writeStaged();
        encode(stage, key, value);
    }

    /**
     * Writes the staged entries to the file (to the page cache; {@link #force} makes them durable). When the write
     * fails (a full disk), the staged entries are dropped from the file but kept in memory, and the file is cut back
     * to its whole entries: a file that misses entries is still a valid, sparser index.
     */
    final void writeStaged() throws IOException {
        if (stage.position() == 0) return;
        stage.flip();
        long before = fileBytes;
        try {
            while (stage.hasRemaining()) fileBytes += channel.write(stage, fileBytes);
        } catch (IOException e) {
            fileBytes = before;
            try {
                channel.truncate(before);
            } catch (IOException ignored) {
                // a partial entry left behind makes load() rebuild the index from the log
            }
            throw e;
        } finally {
            stage.clear();
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

    final void force() throws IOException {
        writeStaged();
        channel.force(true);
    }

    final void close() throws IOException {
        writeStaged();
        channel.close();
    }

    final void deleteFile() throws IOException {
        if (channel.isOpen()) channel.close();
        Files.deleteIfExists(file);
    }

    private void ensureCapacity(int n) {
        if (n <= keys.length) return;
        int cap = Math.max(n, keys.length * 2);
        keys = Arrays.copyOf(keys, cap);
        values = Arrays.copyOf(values, cap);
    }
}
