package io.runnel.partition;

import io.runnel.log.LogConfig;

/**
 * When a partition fsyncs its log: after {@code flush.messages} records, or once the oldest unflushed record is
 * {@code flush.ms} old, as Kafka's {@code log.flush.interval.messages} / {@code log.flush.interval.ms}. With
 * Kafka's defaults (both unlimited) the broker never fsyncs on its own and durability across power loss comes from
 * replication; a clean shutdown always flushes.
 */
final class FlushPolicy {
    private FlushPolicy() {
    }

    static boolean due(LogConfig config, long unflushedRecords, long firstUnflushedMs, long nowMs) {
        if (unflushedRecords <= 0) return false;
        if (unflushedRecords >= config.flushMessages()) return true;
        return config.flushMs() != Long.MAX_VALUE && firstUnflushedMs >= 0 && nowMs - firstUnflushedMs >= config.flushMs();
    }
}
