package io.runnel.kafka;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.runnel.log.value.LogSlice;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.MessageSizeAccumulator;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.record.internal.BaseRecords;
import org.apache.kafka.common.record.internal.MemoryRecords;

/**
 * Encodes a response (size prefix, header, body) with kafka-clients' generated writers, without copying record
 * bytes: the fixed fields go into one pooled buffer of exactly their size, and each records field becomes its own
 * part, a {@link LogSlice} of a segment file (sent from the file, zero-copy) or the {@link MemoryRecords}' buffer
 * wrapped as it is. This is Kafka's own split (SendBuilder: zero-copy records between byte-buffer sends).
 */
final class ResponseEncoder extends ByteBufferAccessor {
    private final ByteBuf buf;
    private final List<Object> parts = new ArrayList<>(3);
    private int cut;

    /** Writes fixed fields into {@code buf}'s memory (kafka-clients' accessor) and records fields as parts. */
    private ResponseEncoder(ByteBuf buf, int capacity) {
        super(buf.nioBuffer(0, capacity));
        this.buf = buf;
    }

    /**
     * The response as parts to write in order: {@link ByteBuf}s (owned by the caller, who writes or releases them)
     * and {@link LogSlice}s.
     */
    static List<Object> encode(ByteBufAllocator alloc, Message header, short headerVersion, Message body, short version) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        MessageSizeAccumulator size = new MessageSizeAccumulator();
        header.addSize(size, cache, headerVersion);
        body.addSize(size, cache, version);
        int inline = 4 + size.sizeExcludingZeroCopy();
        ByteBuf buf = alloc.directBuffer(inline, inline);
        ResponseEncoder e = new ResponseEncoder(buf, inline);
        try {
            e.writeInt(size.totalSize());
            header.write(e, cache, headerVersion);
            body.write(e, cache, version);
            if (e.buffer().position() != inline) {
                throw new IllegalStateException("encoded " + e.buffer().position() + " bytes where " + inline + " were sized");
            }
            e.cutHere();
            return e.parts;
        } catch (RuntimeException ex) {
            release(e.parts);
            throw ex;
        } finally {
            buf.release(); // the parts hold their own references
        }
    }

    /** Releases the buffers among {@code parts} (a response that will not be written). */
    static void release(List<Object> parts) {
        for (Object p : parts) {
            if (p instanceof ByteBuf b) b.release();
        }
    }

    private void cutHere() {
        int pos = buffer().position();
        if (pos > cut) parts.add(buf.retainedSlice(cut, pos - cut));
        cut = pos;
    }

    @Override
    public void writeRecords(BaseRecords records) {
        if (records.sizeInBytes() == 0) return;
        cutHere();
        if (records instanceof LogSlice slice) {
            parts.add(slice);
        } else if (records instanceof MemoryRecords m) {
            parts.add(Unpooled.wrappedBuffer(m.buffer().duplicate()));
        } else {
            throw new IllegalArgumentException("Cannot send records of type " + records.getClass().getName());
        }
    }
}
