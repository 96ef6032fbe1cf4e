package io.runnel.log.value;

import java.nio.ByteBuffer;

/**
 * The result of a read: whole v2 record batches exactly as they are stored (never a partial batch), and the log's
 * bounds at the time of the read.
 *
 * @param records        the bytes, positioned at 0; empty when nothing was available from the offset
 * @param logStartOffset the first readable offset
 * @param logEndOffset   the offset the next appended record will get
 */
public record ReadResult(ByteBuffer records, long logStartOffset, long logEndOffset) {
    public boolean isEmpty() {
        return !records.hasRemaining();
    }
}
