package io.runnel.quorum;

import io.runnel.config.Limits;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.core.streams.ReadStream;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * The framing of every quorum connection (Raft messages, hellos, the observers' requests and answers): a 4-byte
 * big-endian length, then that many bytes, at most {@link Limits#QUORUM_MAX_FRAME_BYTES}.
 */
final class Frames {
    private Frames() {
    }

    /** {@code body} as one frame. */
    static Buffer frame(byte[] body) {
        return Buffer.buffer(4 + body.length).appendInt(body.length).appendBytes(body);
    }

    /**
     * Reads frames from {@code stream} and hands each body to {@code onFrame}. A length outside 1 to the frame bound
     * goes to {@code onBadLength} (which closes the connection) and nothing after it is read. Returns the parser, to
     * pause and resume reading.
     */
    static RecordParser read(ReadStream<Buffer> stream, Consumer<byte[]> onFrame, IntConsumer onBadLength) {
        RecordParser parser = RecordParser.newFixed(4, stream);
        int[] size = {-1};
        parser.handler(b -> {
            if (size[0] == Integer.MIN_VALUE) return; // broken: nothing after a bad length is read
            if (size[0] < 0) {
                int n = b.getInt(0);
                if (n <= 0 || n > Limits.QUORUM_MAX_FRAME_BYTES) {
                    size[0] = Integer.MIN_VALUE;
                    parser.pause();
                    onBadLength.accept(n);
                    return;
                }
                size[0] = n;
                parser.fixedSizeMode(n);
                return;
            }
            size[0] = -1;
            parser.fixedSizeMode(4);
            onFrame.accept(b.getBytes());
        });
        return parser;
    }
}
