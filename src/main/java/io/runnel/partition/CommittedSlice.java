package io.runnel.partition;

import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.SliceResult;
import java.util.List;

/**
 * A read_committed consumer's read ({@link PartitionHandle#sliceCommitted}): the slice below the last stable offset
 * (its log end offset), the high watermark, and the aborted transactions the slice overlaps.
 */
public record CommittedSlice(SliceResult slice, long highWatermark, List<AbortedTxn> aborted) {
    public CommittedSlice {
        aborted = List.copyOf(aborted);
    }

    /** The last stable offset when the read was made. */
    public long lastStableOffset() {
        return slice.logEndOffset();
    }
}
