package io.runnel.kafka.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.runnel.config.Limits;
import java.util.function.IntFunction;

/**
 * Cuts a connection's bytes, as Netty hands them over, into the Kafka protocol's frames (a 4-byte size, then that many
 * bytes), each in one pooled direct buffer of its size: no frame is collected in heap arrays and copied out again.
 * The broker's connections read requests with it and its connections to other brokers read answers. One per
 * connection, used on that connection's event loop.
 *
 * <p>A buffer is allocated for what has arrived (at most {@link Limits#KAFKA_REQUEST_BUFFER_AHEAD_BYTES} ahead of it)
 * and grows to the announced size as bytes arrive, so a size prefix alone reserves no more memory than that.
 */
public final class FrameReader {
    /** A frame size the reader's owner refused: the connection is to be closed with this message. */
    public static final class RefusedSize extends Exception {
        RefusedSize(String message) {
            super(message, null, false, false);
        }
    }

    private final ByteBufAllocator alloc;
    /** The frame being assembled, or null while reading a size prefix. */
    private ByteBuf frame;
    private int prefix;
    private int prefixBytes;

    public FrameReader(ByteBufAllocator alloc) {
        this.alloc = alloc;
    }

    /**
     * Reads from {@code in} until one frame is whole, and returns it (the caller releases it), or until {@code in} is
     * used up (null). {@code refusal} is asked about each size read: null accepts it, else the reason to refuse it.
     */
    public ByteBuf next(ByteBuf in, IntFunction<String> refusal) throws RefusedSize {
        while (in.isReadable()) {
            if (frame == null) {
                if (prefixBytes == 0 && in.readableBytes() >= 4) {
                    prefix = in.readInt();
                } else {
                    prefix = (prefix << 8) | in.readUnsignedByte();
                    if (++prefixBytes < 4) continue;
                }
                int size = prefix;
                prefix = 0;
                prefixBytes = 0;
                String refused = refusal.apply(size);
                if (refused != null) throw new RefusedSize(refused);
                frame = alloc.directBuffer(Math.min(size, Math.max(in.readableBytes(), Limits.KAFKA_REQUEST_BUFFER_AHEAD_BYTES)), size);
            }
            frame.writeBytes(in, Math.min(in.readableBytes(), frame.maxWritableBytes()));
            if (frame.maxWritableBytes() == 0) {
                ByteBuf whole = frame;
                frame = null;
                return whole;
            }
        }
        return null;
    }

    /** Releases the frame being assembled, if any (the connection closed). */
    public void release() {
        if (frame != null) frame.release();
        frame = null;
    }
}
