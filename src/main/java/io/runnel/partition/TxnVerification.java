package io.runnel.partition;

/**
 * What a producer's write brings to a partition about its transaction (KIP-890, Kafka's VerificationGuard): whether a
 * transactional batch that would open the producer's transaction here must have been confirmed by the transaction
 * coordinator, and the guard of that confirmation. The writer gets the guard from
 * {@link PartitionHandle#startTxnVerification}, has the coordinator confirm (or, under transactions version 2, add)
 * the partition, then appends with it; a marker that ends the producer's transaction here meanwhile drops the guard,
 * and the late write then fails INVALID_TXN_STATE instead of opening a transaction that nothing would end.
 */
public final class TxnVerification {
    /** No check: a write that is not transactional, or verification disabled for a version 1 client. */
    public static final TxnVerification NONE = new TxnVerification(false, null);
    /**
     * Checked only if the write would open a transaction here, and then refused: the producer had one open here in
     * the batch's epoch when the write started (or the write named no transactional id).
     */
    public static final TxnVerification REQUIRED = new TxnVerification(true, null);

    private final boolean required;
    private final Object guard;

    private TxnVerification(boolean required, Object guard) {
        this.required = required;
        this.guard = guard;
    }

    static TxnVerification guarded(Object guard) {
        return new TxnVerification(true, guard);
    }

    /** Whether the coordinator must confirm the partition before the write (a guard was issued for it). */
    public boolean needsCoordinator() {
        return guard != null;
    }

    boolean required() {
        return required;
    }

    Object guard() {
        return guard;
    }
}
