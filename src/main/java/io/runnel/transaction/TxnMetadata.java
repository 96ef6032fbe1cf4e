package io.runnel.transaction;

import java.util.LinkedHashSet;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;

/**
 * What the coordinator knows of a transactional id (Kafka's {@code TransactionMetadata}), as stored in
 * {@code __transaction_state}: the producer id and epoch it hands out, the previous ones (KIP-360 lets a producer
 * that lost its epoch bump it again), the transaction timeout, the state and the partitions of the open transaction,
 * when it started and when the id was last touched. Immutable: each change is a new value, stored before it is used.
 */
public record TxnMetadata(String transactionalId, long producerId, long lastProducerId, short producerEpoch, short lastProducerEpoch,
                          int timeoutMs, TxnState state, Set<TopicPartition> partitions, long txnStartTimestamp, long lastUpdateTimestamp) {
    public TxnMetadata {
        partitions = Set.copyOf(new LinkedHashSet<>(partitions));
    }

    TxnMetadata with(TxnState nextState, Set<TopicPartition> nextPartitions, long start, long now) {
        return new TxnMetadata(transactionalId, producerId, lastProducerId, producerEpoch, lastProducerEpoch, timeoutMs, nextState, nextPartitions,
                start, now);
    }

    /** The same transaction with the producer epoch raised by one (fencing whoever holds the current one). */
    TxnMetadata bumped(long now) {
        return new TxnMetadata(transactionalId, producerId, lastProducerId, (short) (producerEpoch + 1), producerEpoch, timeoutMs, state, partitions,
                txnStartTimestamp, now);
    }

    /** Whether the transaction has been open for longer than its timeout at {@code now}. */
    boolean timedOut(long now) {
        return state == TxnState.ONGOING && now > txnStartTimestamp + timeoutMs;
    }
}
