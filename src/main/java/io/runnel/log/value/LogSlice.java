package io.runnel.log.value;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.apache.kafka.common.record.internal.BaseRecords;
import org.apache.kafka.common.record.internal.RecordsSend;

/**
 * Whole record batches as a region of a segment file, not yet read: what a fetch response carries so that the
 * connection sends the bytes from the file to the socket without copying them through the heap (Kafka's
 * FileRecords slice; Vert.x sends it as a Netty file region, with {@code sendfile} on a plain connection).
 *
 * <p>The channel belongs to the segment and is not closed by the reader. A segment that retention or compaction
 * removes is closed only after {@code log.segment.delete.delay.ms} (Kafka's file.delete.delay.ms), long after any
 * response that holds a slice of it was sent. Appends never change bytes below the log end, so the region is stable.
 *
 * @param channel    the segment's file
 * @param position   where the first batch starts
 * @param size       the bytes of whole batches from there (0: nothing)
 * @param lastOffset the last offset of the last batch (meaningless when empty)
 */
public record LogSlice(FileChannel channel, long position, int size, long lastOffset) implements BaseRecords {
    public static final LogSlice EMPTY = new LogSlice(null, 0, 0, -1);

    @Override
    public int sizeInBytes() {
        return size;
    }

    /** The slice's bytes, read from the file into a new buffer (positioned at 0). Blocking. */
    public ByteBuffer readBytes() throws IOException {
        ByteBuffer out = ByteBuffer.allocate(size);
        while (out.hasRemaining()) {
            if (channel.read(out, position + out.position()) < 0) {
                throw new EOFException("Unexpected end of a segment file at " + (position + out.position()));
            }
        }
        return out.flip();
    }

    /** Kafka's network layer is not used: the connection writes slices itself. */
    @Override
    public RecordsSend<? extends BaseRecords> toSend() {
        throw new UnsupportedOperationException("LogSlice is sent by Runnel's connection, not by a Kafka Send");
    }
}
