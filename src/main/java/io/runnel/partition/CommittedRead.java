package io.runnel.partition;

import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.ReadResult;
import java.util.List;
import java.util.Map;

/**
 * A read as bytes with what is known of its transactions: whole batches (below the last stable offset for a
 * read_committed read, {@link PartitionHandle#readCommitted}; below the high watermark otherwise,
 * {@link PartitionHandle#readWithTransactions}), the aborted transactions they may overlap, and the transactions still
 * open (producer id to the first offset of its open transaction; none below the last stable offset).
 */
public record CommittedRead(ReadResult read, List<AbortedTxn> aborted, Map<Long, Long> open) {
    /** What a transactional batch's records are to a reader: part of an open, an aborted or a committed transaction. */
    public enum TxnState { OPEN, ABORTED, COMMITTED }

    public CommittedRead {
        aborted = List.copyOf(aborted);
        open = Map.copyOf(open);
    }

    public CommittedRead(ReadResult read, List<AbortedTxn> aborted) {
        this(read, aborted, Map.of());
    }

    /** Whether {@code batch}'s records belong to one of the aborted transactions (read_committed readers skip them). */
    public boolean aborted(long producerId, long baseOffset, boolean transactional) {
        if (!transactional) return false;
        for (AbortedTxn t : aborted) if (t.producerId() == producerId && baseOffset >= t.firstOffset() && baseOffset < t.lastOffset()) return true;
        return false;
    }

    /** The fate of a batch's transaction, or null for a batch outside transactions. */
    public TxnState state(long producerId, long baseOffset, boolean transactional) {
        if (!transactional) return null;
        if (aborted(producerId, baseOffset, true)) return TxnState.ABORTED;
        Long first = open.get(producerId);
        return first != null && baseOffset >= first ? TxnState.OPEN : TxnState.COMMITTED;
    }
}
