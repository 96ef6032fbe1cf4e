package io.runnel.transaction;

import io.vertx.core.Future;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.protocol.Errors;

/**
 * Asks a transactional id's coordinator, on this broker or another, whether partitions joined the id's open transaction,
 * or adds them to it (Kafka's {@code AddPartitionsToTxnManager}, KIP-890): a partition leader does so before it takes the
 * first records of a transaction, and the group coordinator before it takes a transaction's offsets. Completes with the
 * partitions that failed and their errors, shaped for the producer (PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH,
 * and a partition outside the transaction is INVALID_TXN_STATE for clients that predate TRANSACTION_ABORTABLE); an
 * empty map means every partition is in the transaction. Never fails.
 */
public interface TxnVerifier {
    /** What is asked of the coordinator, after the requesting client's protocol version (Kafka's TransactionSupportedOperation). */
    enum Mode {
        /** Verify only; the client predates TRANSACTION_ABORTABLE (Produce before v11, TxnOffsetCommit before v4). */
        VERIFY_LEGACY,
        /** Verify only; the client knows TRANSACTION_ABORTABLE (Produce v11, TxnOffsetCommit v4). */
        VERIFY,
        /** Add the partitions (transactions version 2: Produce v12 and later, TxnOffsetCommit v5). */
        ADD
    }

    Future<Map<TopicPartition, Errors>> check(String transactionalId, long producerId, short producerEpoch, Set<TopicPartition> partitions, Mode mode);

    /**
     * The coordinator's raw per-partition answer shaped for the producer in {@code mode}: only the failed partitions,
     * PRODUCER_FENCED as INVALID_PRODUCER_EPOCH (what producers expect from a partition leader), TRANSACTION_ABORTABLE
     * as INVALID_TXN_STATE for legacy clients.
     */
    /**
     * Whether a check failed only because the coordinator is busy, moving or out of reach: worth retrying, and told to
     * the producer as an error it retries without looking for a coordinator (Kafka's ReplicaManager does the same).
     */
    static boolean coordinatorUnavailable(Errors e) {
        return e == Errors.CONCURRENT_TRANSACTIONS || e == Errors.NETWORK_EXCEPTION || e == Errors.COORDINATOR_LOAD_IN_PROGRESS
                || e == Errors.COORDINATOR_NOT_AVAILABLE || e == Errors.NOT_COORDINATOR;
    }

    static Map<TopicPartition, Errors> forProducer(Map<TopicPartition, Errors> raw, Mode mode) {
        Map<TopicPartition, Errors> out = new LinkedHashMap<>();
        raw.forEach((tp, e) -> {
            if (e == Errors.NONE) return;
            if (e == Errors.PRODUCER_FENCED) e = Errors.INVALID_PRODUCER_EPOCH;
            else if (e == Errors.TRANSACTION_ABORTABLE && mode == Mode.VERIFY_LEGACY) e = Errors.INVALID_TXN_STATE;
            out.put(tp, e);
        });
        return out;
    }
}
