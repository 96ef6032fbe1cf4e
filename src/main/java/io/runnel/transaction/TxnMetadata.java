package io.runnel.transaction;

import java.util.LinkedHashSet;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * What the coordinator knows of a transactional id (Kafka's {@code TransactionMetadata}), as stored in
 * {@code __transaction_state}: the producer id and epoch it hands out, the previous ones (KIP-360 lets a producer
 * that lost its epoch bump it again), the transaction timeout, the state and the partitions of the open transaction,
 * when it started and when the id was last touched; and, for transactions version 2 (KIP-890), the version the
 * transaction was opened with ({@code clientTransactionVersion}: 2 bumps the epoch at every EndTxn) and the producer id
 * that replaces this one once the markers of a transaction that exhausted the epoch are written
 * ({@code nextProducerId}, -1 when none). Immutable: each change is a new value, stored before it is used.
 */
public record TxnMetadata(String transactionalId, long producerId, long lastProducerId, short producerEpoch, short lastProducerEpoch,
                          int timeoutMs, TxnState state, Set<TopicPartition> partitions, long txnStartTimestamp, long lastUpdateTimestamp,
                          byte clientTransactionVersion, long nextProducerId) {
    /** Transactions version 2: the epoch is bumped with every transaction, partitions join through their leaders. */
    public static final byte TV_2 = 2;
    /** Transactions version 1 (and 0): one epoch for every transaction of a producer. */
    public static final byte TV_1 = 1;

    public TxnMetadata {
        partitions = Set.copyOf(new LinkedHashSet<>(partitions));
    }

    /** A new id's metadata, or a new producer id's: EMPTY, no previous epoch to recover. */
    static TxnMetadata fresh(String id, long producerId, long lastProducerId, short epoch, int timeoutMs, long now) {
        return new TxnMetadata(id, producerId, lastProducerId, epoch, RecordBatch.NO_PRODUCER_EPOCH, timeoutMs, TxnState.EMPTY, Set.of(), -1, now,
                TV_1, RecordBatch.NO_PRODUCER_ID);
    }

    /** Whether the transaction in progress (or the last one) runs under transactions version 2. */
    boolean v2() {
        return clientTransactionVersion >= TV_2;
    }

    TxnMetadata with(TxnState nextState, Set<TopicPartition> nextPartitions, long start, long now) {
        return new TxnMetadata(transactionalId, producerId, lastProducerId, producerEpoch, lastProducerEpoch, timeoutMs, nextState, nextPartitions,
                start, now, clientTransactionVersion, nextProducerId);
    }

    /** The same metadata with another epoch and previous epoch. */
    TxnMetadata withEpochs(short epoch, short lastEpoch, long now) {
        return new TxnMetadata(transactionalId, producerId, lastProducerId, epoch, lastEpoch, timeoutMs, state, partitions, txnStartTimestamp, now,
                clientTransactionVersion, nextProducerId);
    }

    /** The same metadata opened under {@code version}. */
    TxnMetadata withVersion(byte version) {
        return new TxnMetadata(transactionalId, producerId, lastProducerId, producerEpoch, lastProducerEpoch, timeoutMs, state, partitions,
                txnStartTimestamp, lastUpdateTimestamp, version, nextProducerId);
    }

    /** The same metadata with the producer id that takes over once the transaction completes. */
    TxnMetadata withNextProducerId(long next) {
        return new TxnMetadata(transactionalId, producerId, lastProducerId, producerEpoch, lastProducerEpoch, timeoutMs, state, partitions,
                txnStartTimestamp, lastUpdateTimestamp, clientTransactionVersion, next);
    }

    /** The same transaction with the producer epoch raised by one (fencing whoever holds the current one). */
    TxnMetadata bumped(long now) {
        return withEpochs((short) (producerEpoch + 1), producerEpoch, now);
    }

    /** Whether the transaction has been open for longer than its timeout at {@code now}. */
    boolean timedOut(long now) {
        return state == TxnState.ONGOING && now > txnStartTimestamp + timeoutMs;
    }

    /**
     * Whether the epoch may not be bumped again by a client: Kafka keeps {@code Short.MAX_VALUE} for the coordinator, so
     * that it can always fence the producer ({@code TransactionMetadata.isEpochExhausted}).
     */
    boolean epochExhausted() {
        return producerEpoch >= Short.MAX_VALUE - 1;
    }
}
