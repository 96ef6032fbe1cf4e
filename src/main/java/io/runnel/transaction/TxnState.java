package io.runnel.transaction;

/**
 * The states of a transactional id at its coordinator, with Kafka's names (DescribeTransactions and ListTransactions
 * report them) and its transitions (Kafka's {@code TransactionState}): EMPTY, then ONGOING once a partition is added,
 * PREPARE_COMMIT or PREPARE_ABORT once EndTxn (or a timeout, or a new producer's InitProducerId) decides, then
 * COMPLETE_COMMIT or COMPLETE_ABORT once every partition has its marker; DEAD when the id expired.
 */
public enum TxnState {
    EMPTY("Empty", 0),
    ONGOING("Ongoing", 1),
    PREPARE_COMMIT("PrepareCommit", 2),
    PREPARE_ABORT("PrepareAbort", 3),
    COMPLETE_COMMIT("CompleteCommit", 4),
    COMPLETE_ABORT("CompleteAbort", 5),
    DEAD("Dead", 6),
    PREPARE_EPOCH_FENCE("PrepareEpochFence", 7);

    private final String kafkaName;
    private final byte id;

    TxnState(String kafkaName, int id) {
        this.kafkaName = kafkaName;
        this.id = (byte) id;
    }

    /** The name Kafka's admin APIs use. */
    public String kafkaName() {
        return kafkaName;
    }

    byte id() {
        return id;
    }

    static TxnState fromId(byte id) {
        for (TxnState s : values()) if (s.id == id) return s;
        throw new IllegalArgumentException("Unknown transaction state " + id);
    }

    /** Whether a decision was taken and its markers are being written. */
    boolean preparing() {
        return this == PREPARE_COMMIT || this == PREPARE_ABORT || this == PREPARE_EPOCH_FENCE;
    }

    /** Whether no transaction is open: a new one may start. */
    boolean idle() {
        return this == EMPTY || this == COMPLETE_COMMIT || this == COMPLETE_ABORT;
    }
}
