package io.runnel.transaction;

import io.runnel.config.BrokerConfig;

/** The transaction coordinator's settings, read from the broker configuration (Kafka's key names). */
record TransactionSettings(int partitions, int replicationFactor, int minIsr, int segmentBytes, int maxTimeoutMs, long idExpirationMs,
                           long abortTimedOutIntervalMs) {
    static TransactionSettings from(BrokerConfig c) {
        return new TransactionSettings(c.get(BrokerConfig.TRANSACTION_STATE_LOG_NUM_PARTITIONS), c.get(BrokerConfig.TRANSACTION_STATE_LOG_REPLICATION_FACTOR),
                c.get(BrokerConfig.TRANSACTION_STATE_LOG_MIN_ISR), c.get(BrokerConfig.TRANSACTION_STATE_LOG_SEGMENT_BYTES),
                c.get(BrokerConfig.TRANSACTION_MAX_TIMEOUT_MS), c.get(BrokerConfig.TRANSACTIONAL_ID_EXPIRATION_MS),
                c.get(BrokerConfig.TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS));
    }
}
