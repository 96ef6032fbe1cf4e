package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The sparse time index of a segment ({@code NNNNNNNNNNNNNNNNNNNN.timeindex}): from a timestamp to an offset from
 * which a scan finds the first record at or after that timestamp.
 *
 * <p>File format: a sequence of 12-byte big-endian entries, no header.
 * <pre>
 *   int64 timestamp       the largest batch max-timestamp seen in the segment so far
 *   int32 relativeOffset  base offset (minus the segment's base offset) of the batch where that maximum first appeared
 * </pre>
 * An entry is added with each offset-index entry when the maximum has grown, and once more when the segment is
 * closed, so timestamps strictly increase and offsets never decrease. Every record before an entry's offset has a
 * timestamp below the entry's timestamp; that is why a lookup may start at the last entry at or below the target.
 *
 * <p>A file that is cut mid-entry, out of order, or points past the segment fails {@link #load} and is rebuilt.
 */
final class TimeIndex extends SparseIndex {
    static final int ENTRY_BYTES = 12;
    private long maxOffsetExclusive = Long.MAX_VALUE;

    TimeIndex(Path file, long baseOffset) throws IOException {
        super(file, baseOffset, ENTRY_BYTES);
    }

    /** Bounds the offsets a loaded entry may point at (the segment's next offset), for {@link #load}. */
    void expectOffsetsBelow(long nextOffset) {
        this.maxOffsetExclusive = nextOffset;
    }

    @Override
    protected void encode(ByteBuffer out, long timestamp, int relativeOffset) {
        out.putLong(timestamp);
        out.putInt(relativeOffset);
    }

    @Override
    protected void decode(ByteBuffer in, int at, int i) {
        put(i, in.getLong(at), in.getInt(at + 8));
    }

    @Override
    protected boolean entryValid(int i, long logBytes) {
        if (value(i) < 0 || baseOffset + value(i) >= maxOffsetExclusive) return false;
        return i == 0 || (key(i) > key(i - 1) && value(i) >= value(i - 1));
    }

    void add(long timestamp, long offset) throws IOException {
        append(timestamp, Math.toIntExact(offset - baseOffset));
    }

    /** The last indexed timestamp, or -1 when the index is empty. */
    long lastTimestamp() {
        return entries() == 0 ? -1 : key(entries() - 1);
    }

    long lastOffset() {
        return entries() == 0 ? baseOffset : baseOffset + value(entries() - 1);
    }

    /** The offset to start scanning from for {@code timestamp}: the floor entry's offset, or the base offset. */
    long lookup(long timestamp) {
        int i = floorEntry(timestamp);
        return i < 0 ? baseOffset : baseOffset + value(i);
    }
}
