package io.runnel.log;

import java.util.function.Consumer;

/**
 * The settings one partition log obeys: the topic's overrides over the broker's defaults (see
 * {@code io.runnel.config.TopicConfig}). Plain values so that this package depends on nothing else.
 *
 * @param segmentBytes       roll the active segment before it would grow past this size
 * @param segmentMs          roll the active segment once its first batch is this old
 * @param retentionMs        delete a closed segment once its newest record is this old; negative keeps forever
 * @param retentionBytes     delete the oldest closed segments while the log is larger than this; negative: no limit
 * @param maxMessageBytes    the largest batch accepted, header included
 * @param indexIntervalBytes log bytes between two entries of the sparse indexes
 * @param flushMessages      fsync after this many records
 * @param flushMs            fsync when the oldest unflushed record is this old; Long.MAX_VALUE never
 * @param logAppendTime      stamp batches with the broker's time (message.timestamp.type=LogAppendTime)
 * @param compact            cleanup.policy contains compact: closed segments keep only the latest record per key
 * @param delete             cleanup.policy contains delete: retention by time and size applies
 * @param deleteRetentionMs  how long compaction keeps a tombstone (delete.retention.ms)
 */
public record LogConfig(int segmentBytes, long segmentMs, long retentionMs, long retentionBytes, int maxMessageBytes,
                        int indexIntervalBytes, long flushMessages, long flushMs, boolean logAppendTime, boolean compact, boolean delete,
                        long deleteRetentionMs) {

    /** Kafka's defaults, for tests and tools. */
    public static LogConfig defaults() {
        return new LogConfig(1 << 30, 7 * 24 * 3_600_000L, 7 * 24 * 3_600_000L, -1, 1_048_588, 4096, Long.MAX_VALUE,
                Long.MAX_VALUE, false, false, true, 86_400_000L);
    }

    public LogConfig withSegmentBytes(int v) {
        return edit(b -> b.segmentBytes = v);
    }

    public LogConfig withSegmentMs(long v) {
        return edit(b -> b.segmentMs = v);
    }

    public LogConfig withRetention(long ms, long bytes) {
        return edit(b -> {
            b.retentionMs = ms;
            b.retentionBytes = bytes;
        });
    }

    public LogConfig withIndexIntervalBytes(int v) {
        return edit(b -> b.indexIntervalBytes = v);
    }

    public LogConfig withMaxMessageBytes(int v) {
        return edit(b -> b.maxMessageBytes = v);
    }

    public LogConfig withFlush(long messages, long ms) {
        return edit(b -> {
            b.flushMessages = messages;
            b.flushMs = ms;
        });
    }

    /** cleanup.policy=compact (only), with tombstones kept {@code deleteRetentionMs}. */
    public LogConfig withCompaction(long deleteRetentionMs) {
        return edit(b -> {
            b.compact = true;
            b.delete = false;
            b.deleteRetentionMs = deleteRetentionMs;
        });
    }

    /** A copy with the changes {@code change} makes to a mutable copy of every field. */
    private LogConfig edit(Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return b.build();
    }

    /** A mutable copy of the fields, so that each {@code withX} names what it changes instead of repeating all twelve. */
    private static final class Builder {
        int segmentBytes;
        long segmentMs;
        long retentionMs;
        long retentionBytes;
        int maxMessageBytes;
        int indexIntervalBytes;
        long flushMessages;
        long flushMs;
        boolean logAppendTime;
        boolean compact;
        boolean delete;
        long deleteRetentionMs;

        Builder(LogConfig c) {
            segmentBytes = c.segmentBytes;
            segmentMs = c.segmentMs;
            retentionMs = c.retentionMs;
            retentionBytes = c.retentionBytes;
            maxMessageBytes = c.maxMessageBytes;
            indexIntervalBytes = c.indexIntervalBytes;
            flushMessages = c.flushMessages;
            flushMs = c.flushMs;
            logAppendTime = c.logAppendTime;
            compact = c.compact;
            delete = c.delete;
            deleteRetentionMs = c.deleteRetentionMs;
        }

        LogConfig build() {
            return new LogConfig(segmentBytes, segmentMs, retentionMs, retentionBytes, maxMessageBytes, indexIntervalBytes, flushMessages, flushMs,
                    logAppendTime, compact, delete, deleteRetentionMs);
        }
    }
}
