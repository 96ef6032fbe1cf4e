package io.runnel.partition;

import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.ReadResult;
import java.util.List;

/**
 * A read_committed read as bytes ({@link PartitionHandle#readCommitted}): whole batches below the last stable offset
 * (the read's log end offset) and the aborted transactions they may overlap.
 */
public record CommittedRead(ReadResult read, List<AbortedTxn> aborted) {
    public CommittedRead {
        aborted = List.copyOf(aborted);
    }

    /** Whether {@code batch}'s records belong to one of the aborted transactions (read_committed readers skip them). */
    public boolean aborted(long producerId, long baseOffset, boolean transactional) {
        if (!transactional) return false;
        for (AbortedTxn t : aborted) if (t.producerId() == producerId && baseOffset >= t.firstOffset() && baseOffset < t.lastOffset()) return true;
        return false;
    }
}
