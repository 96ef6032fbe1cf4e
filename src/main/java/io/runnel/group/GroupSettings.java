package io.runnel.group;

import io.runnel.config.BrokerConfig;

/** The group coordinator's settings, read from the broker configuration (Kafka's key names). */
record GroupSettings(int offsetsPartitions, int offsetsSegmentBytes, int minSessionTimeoutMs, int maxSessionTimeoutMs, int initialRebalanceDelayMs,
                     long offsetsRetentionMs, int offsetMetadataMaxBytes, int consumerSessionTimeoutMs, int consumerHeartbeatIntervalMs,
                     int shareSessionTimeoutMs, int shareHeartbeatIntervalMs, int shareMaxSize, int shareLockDurationMs, int shareDeliveryCountLimit,
                     int shareMaxRecordLocks) {
    static GroupSettings from(BrokerConfig c) {
        return new GroupSettings(c.get(BrokerConfig.OFFSETS_TOPIC_NUM_PARTITIONS), c.get(BrokerConfig.OFFSETS_TOPIC_SEGMENT_BYTES),
                c.get(BrokerConfig.GROUP_MIN_SESSION_TIMEOUT_MS),
                c.get(BrokerConfig.GROUP_MAX_SESSION_TIMEOUT_MS), c.get(BrokerConfig.GROUP_INITIAL_REBALANCE_DELAY_MS),
                c.get(BrokerConfig.OFFSETS_RETENTION_MINUTES) * 60_000L, c.get(BrokerConfig.OFFSET_METADATA_MAX_BYTES),
                c.get(BrokerConfig.GROUP_CONSUMER_SESSION_TIMEOUT_MS), c.get(BrokerConfig.GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS),
                c.get(BrokerConfig.GROUP_SHARE_SESSION_TIMEOUT_MS), c.get(BrokerConfig.GROUP_SHARE_HEARTBEAT_INTERVAL_MS), c.get(BrokerConfig.GROUP_SHARE_MAX_SIZE),
                c.get(BrokerConfig.GROUP_SHARE_RECORD_LOCK_DURATION_MS), c.get(BrokerConfig.GROUP_SHARE_DELIVERY_COUNT_LIMIT),
                c.get(BrokerConfig.GROUP_SHARE_PARTITION_MAX_RECORD_LOCKS));
    }
}
