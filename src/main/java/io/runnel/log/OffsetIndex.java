package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The sparse offset index of a segment ({@code NNNNNNNNNNNNNNNNNNNN.index}): from an offset to the file position of
 * the batch where a read for that offset starts.
 *
 * <p>File format: a sequence of 8-byte big-endian entries, no header.
 * <pre>
 *   int32 relativeOffset  base offset of an indexed batch minus the segment's base offset
 *   int32 position        byte position of that batch's first byte in the .log file
 * </pre>
 * One entry is written for the first batch that starts after every {@code index.interval.bytes} of log, so both
 * fields strictly increase. (Kafka's index stores each batch's last offset; Runnel stores the base offset, which
 * lets a read for an offset inside an indexed batch start at that batch without a step back.) A lookup returns the
 * position of the last entry at or below the target, or 0; the reader then scans batch headers forward.
 *
 * <p>After a crash the file may be short (harmless), cut mid-entry, or point past the log's valid end; such a file
 * fails {@link #load} and the segment rebuilds it by scanning the log.
 */
final class OffsetIndex extends SparseIndex {
    static final int ENTRY_BYTES = 8;

    OffsetIndex(Path file, long baseOffset) throws IOException {
        super(file, baseOffset, ENTRY_BYTES);
    }

    @Override
    protected void encode(ByteBuffer out, long offset, int position) {
        out.putInt(Math.toIntExact(offset - baseOffset));
        out.putInt(position);
    }

    @Override
    protected void decode(ByteBuffer in, int at, int i) {
        put(i, baseOffset + in.getInt(at), in.getInt(at + 4));
    }

    @Override
    protected boolean entryValid(int i, long logBytes) {
        if (key(i) < baseOffset || value(i) < 0 || value(i) >= logBytes) return false;
        return i == 0 || (key(i) > key(i - 1) && value(i) > value(i - 1));
    }

    /** The file position to start scanning from for {@code offset}: the floor entry's position, or 0. */
    int lookup(long offset) {
        int i = floorEntry(offset);
        return i < 0 ? 0 : value(i);
    }

    /** The indexed offset at a floor entry, or the segment's base offset; pairs with {@link #lookup}. */
    long lookupOffset(long offset) {
        int i = floorEntry(offset);
        return i < 0 ? baseOffset : key(i);
    }
}
