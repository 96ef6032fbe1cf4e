package io.runnel.transaction;

import io.runnel.config.BrokerConfig;

/**
 * The transaction coordinator's settings, read from the broker configuration (Kafka's key names); {@code version} is
 * the finalized {@code transaction.version} feature level, which the coordinator uses for the transactions it aborts on
 * its own (timeouts, a new producer's InitProducerId), as Kafka's {@code transactionVersionLevel()}.
 */
record TransactionSettings(int partitions, int replicationFactor, int minIsr, int segmentBytes, int maxTimeoutMs, long idExpirationMs,
                           long abortTimedOutIntervalMs, byte version) {
    static TransactionSettings from(BrokerConfig c) {
        return new TransactionSettings(c.get(BrokerConfig.TRANSACTION_STATE_LOG_NUM_PARTITIONS), c.get(BrokerConfig.TRANSACTION_STATE_LOG_REPLICATION_FACTOR),
                c.get(BrokerConfig.TRANSACTION_STATE_LOG_MIN_ISR), c.get(BrokerConfig.TRANSACTION_STATE_LOG_SEGMENT_BYTES),
                c.get(BrokerConfig.TRANSACTION_MAX_TIMEOUT_MS), c.get(BrokerConfig.TRANSACTIONAL_ID_EXPIRATION_MS),
                c.get(BrokerConfig.TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS), c.get(BrokerConfig.TRANSACTION_VERSION).byteValue());
    }
}
