package io.runnel.partition;

import io.runnel.log.AppendInfo;
import io.runnel.log.Log;
import io.runnel.log.ReadResult;
import io.runnel.log.TimestampOffset;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.apache.kafka.common.TopicPartition;

/**
 * How the rest of the broker reaches a partition: every call hops onto the partition's event-loop context, runs
 * there against the {@link Log}, and completes its {@link Future} back on the caller's context (so a connection's
 * callbacks stay on the connection's event loop). The hot data path goes through here, never through the event
 * bus, and never serialises to JSON.
 */
public final class PartitionHandle {
    private final PartitionVerticle verticle;
    private final Log log;

    PartitionHandle(PartitionVerticle verticle, Log log) {
        this.verticle = verticle;
        this.log = log;
    }

    @FunctionalInterface
    private interface LogCall<T> {
        T apply(Log log) throws Exception;
    }

    public TopicPartition topicPartition() {
        return verticle.topicPartition();
    }

    /** Validates and appends producer batches (see {@link Log#appendAsLeader}); the buffer is modified in place. */
    public Future<AppendInfo> append(ByteBuffer records) {
        return call(l -> verticle.append(records));
    }

    /** Reads whole batches from {@code offset}; see {@link Log#read}. */
    public Future<ReadResult> read(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> l.read(offset, maxBytes, minOneBatch));
    }

    public Future<Optional<TimestampOffset>> offsetForTimestamp(long timestamp) {
        return call(l -> l.offsetForTimestamp(timestamp));
    }

    public Future<Optional<TimestampOffset>> maxTimestampRecord() {
        return call(Log::maxTimestampRecord);
    }

    /**
     * Completes when the log end offset passes {@code offset} (at once if it already has): a long-poll fetch waits
     * on it instead of polling. Completes on the caller's context. When {@code giveUp} completes first (the fetch
     * answered for another reason), the parked entry is released.
     */
    public Future<Void> awaitDataAfter(long offset, Future<?> giveUp) {
        Promise<Void> parked = Promise.promise();
        giveUp.onComplete(x -> parked.tryComplete());
        return OnContext.compose(verticle.context(), () -> {
            verticle.pendingFetches().await(offset, log.logEndOffset(), parked);
            return parked.future();
        });
    }

    /** Starts an fsync of everything appended so far (also done by the flush policy and at shutdown). */
    public Future<Void> flush() {
        return call(l -> {
            verticle.flush();
            return null;
        });
    }

    /** Runs a retention check now instead of at the next {@code log.retention.check.interval.ms}. */
    public Future<Void> checkRetention() {
        return call(l -> {
            verticle.checkRetention();
            return null;
        });
    }

    /** The first readable offset; a volatile read, safe from any thread. */
    public long logStartOffset() {
        return log.logStartOffset();
    }

    /** The offset of the next record; a volatile read, safe from any thread. */
    public long logEndOffset() {
        return log.logEndOffset();
    }

    /** The fsynced offset; a volatile read, safe from any thread. */
    public long recoveryPoint() {
        return log.recoveryPoint();
    }

    /** Applies a changed topic configuration to this partition. */
    Future<Void> updateConfig(io.runnel.log.LogConfig config) {
        return call(l -> {
            verticle.updateConfig(config);
            return null;
        });
    }

    void markForDeletion() {
        verticle.markForDeletion();
    }

    /** Bytes on disk, computed on the partition's context. */
    public Future<Long> sizeInBytes() {
        return call(Log::sizeInBytes);
    }

    private <T> Future<T> call(LogCall<T> call) {
        return OnContext.call(verticle.context(), () -> call.apply(verticle.log()));
    }
}
