package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.AppendInfo;
import io.runnel.log.BatchHeader;
import io.runnel.log.Compactor;
import io.runnel.log.Log;
import io.runnel.log.LogConfig;
import io.runnel.log.Segment;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns one partition's {@link Log} on its event-loop context: the single writer, so the log needs no locks. Opening
 * (recovery), fsync, segment deletion and closing run on worker threads, ordered per partition, so the event loop
 * never waits for the disk. Retention runs on a timer every {@code log.retention.check.interval.ms}; flushes follow
 * {@link FlushPolicy}.
 */
public final class PartitionVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(PartitionVerticle.class);

    private final TopicPartition tp;
    private final Path dir;
    private final Time time;
    private final long retentionCheckIntervalMs;
    private volatile LogConfig config;
    private volatile Log log;
    private ProducerStateTable producers;
    private boolean flushing;
    private boolean compacting;
    private int segmentsAtLastAppend;
    private boolean flushAgain;
    private long retentionTimer = -1;
    private long flushTimer = -1;
    private volatile boolean deleteOnStop;
    private final PendingFetches pendingFetches = new PendingFetches();

    PartitionVerticle(TopicPartition tp, Path dir, LogConfig config, Time time, long retentionCheckIntervalMs) {
        this.tp = tp;
        this.dir = dir;
        this.config = config;
        this.time = time;
        this.retentionCheckIntervalMs = retentionCheckIntervalMs;
    }

    @Override
    public Future<?> start() {
        return context.executeBlocking(() -> {
            Log opened = Log.open(dir, config, time);
            producers = ProducerStateTable.load(dir, opened);
            return opened;
        }, true).map(opened -> {
            this.log = opened;
            retentionTimer = vertx.setPeriodic(retentionCheckIntervalMs, id -> checkRetention());
            scheduleFlushTimer();
            return null;
        });
    }

    @Override
    public Future<?> stop() {
        cancelTimers();
        pendingFetches.completeAll();
        if (deleteOnStop) {
            Path doomed = dir.resolveSibling(dir.getFileName() + "." + System.nanoTime() + "-delete");
            return context.executeBlocking(() -> {
                // Renamed first, so that a crash in the middle leaves a directory start-up recognises and deletes.
                log.closeForDeletion();
                Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
                Log.deleteDirectory(doomed);
                return null;
            }, true);
        }
        byte[] snapshot = producers.producerCount() > 0 ? producers.snapshot() : null;
        return context.executeBlocking(() -> {
            log.close();
            if (snapshot != null) ProducerStateTable.writeSnapshot(dir, log.logEndOffset(), snapshot);
            return null;
        }, true);
    }

    /**
     * Appends a producer's batches on this context: an idempotent producer's retried batch is answered with its
     * original offsets instead of being written again (see {@link ProducerStateTable}).
     */
    AppendInfo append(ByteBuffer records) throws IOException {
        int at = records.position();
        boolean idempotent = records.remaining() >= BatchHeader.SIZE && BatchHeader.magic(records, at) == RecordBatch.MAGIC_VALUE_V2
                && BatchHeader.producerId(records, at) != RecordBatch.NO_PRODUCER_ID;
        if (!idempotent) {
            AppendInfo info = log.appendAsLeader(records, 0);
            afterAppend();
            return info;
        }
        if (BatchHeader.batchSize(records, at) != records.remaining()) {
            throw new InvalidRecordException("A batch with a producer id must be the only batch of its partition in a produce request");
        }
        long pid = BatchHeader.producerId(records, at);
        short epoch = BatchHeader.producerEpoch(records, at);
        int firstSeq = BatchHeader.baseSequence(records, at);
        int lastSeq = BatchHeader.lastSequence(records, at);
        Optional<ProducerStateTable.BatchMeta> duplicate = producers.check(pid, epoch, firstSeq, lastSeq);
        if (duplicate.isPresent()) {
            ProducerStateTable.BatchMeta d = duplicate.get();
            LOG.debug("Duplicate batch of producer {} on {} (sequence {}); answered with offset {}", pid, tp, firstSeq, d.firstOffset());
            return new AppendInfo(d.firstOffset(), d.lastOffset(), (int) (d.lastOffset() - d.firstOffset() + 1), RecordBatch.NO_TIMESTAMP, log.logStartOffset());
        }
        AppendInfo info = log.appendAsLeader(records, 0);
        producers.update(pid, epoch, firstSeq, lastSeq, info.firstOffset(), info.lastOffset());
        afterAppend();
        return info;
    }

    private void cancelTimers() {
        if (retentionTimer >= 0) vertx.cancelTimer(retentionTimer);
        if (flushTimer >= 0) vertx.cancelTimer(flushTimer);
        retentionTimer = flushTimer = -1;
    }

    /** The log, for calls made on this verticle's context only. */
    Log log() {
        assert Context.isOnEventLoopThread() && context == vertx.getOrCreateContext() : "log used off its context";
        return log;
    }

    /** The log once {@link #start} has opened it, for the handle's thread-safe getters. */
    Log openedLog() {
        return log;
    }

    Context context() {
        return context;
    }

    TopicPartition topicPartition() {
        return tp;
    }

    void markForDeletion() {
        deleteOnStop = true;
    }

    /** Applies a changed topic configuration (on this context). */
    void updateConfig(LogConfig newConfig) {
        this.config = newConfig;
        log.updateConfig(newConfig);
        if (flushTimer >= 0) vertx.cancelTimer(flushTimer);
        flushTimer = -1;
        scheduleFlushTimer();
    }

    PendingFetches pendingFetches() {
        return pendingFetches;
    }

    /** Called on this context after every append: wakes parked fetches, applies the flush policy, compacts after a roll. */
    void afterAppend() {
        pendingFetches.onAppend(log.logEndOffset());
        maybeFlush();
        int segments = log.segmentCount();
        if (segments != segmentsAtLastAppend) {
            segmentsAtLastAppend = segments;
            maybeCompact();
        }
    }

    /** Compacts the closed segments on a worker (cleanup.policy=compact), one pass at a time. */
    void maybeCompact() {
        if (compacting) return;
        List<Segment> closed = log.compactionCandidates();
        if (closed.isEmpty()) return;
        compacting = true;
        LogConfig cfg = config;
        long now = time.milliseconds();
        context.executeBlocking(() -> Compactor.clean(dir, closed, cfg, now), true).onComplete(ar -> {
            compacting = false;
            if (ar.failed()) {
                LOG.error("Compacting {} failed; the log is unchanged", tp, ar.cause());
                return;
            }
            for (Compactor.Replacement r : ar.result()) {
                try {
                    log.replaceSegment(r.old(), r.cleaned());
                } catch (IOException e) {
                    LOG.warn("Closing a compacted segment of {} failed", tp, e);
                }
            }
        });
    }

    private void maybeFlush() {
        if (FlushPolicy.due(config, log.unflushedRecords(), log.firstUnflushedMs(), time.milliseconds())) flush();
    }

    private void scheduleFlushTimer() {
        if (config.flushMs() == Long.MAX_VALUE) return;
        long period = Math.max(1, Math.min(config.flushMs(), Limits.FLUSH_CHECK_MAX_INTERVAL_MS));
        flushTimer = vertx.setPeriodic(period, id -> maybeFlush());
    }

    /** Starts an fsync on a worker unless one is running, in which case one more follows it. */
    void flush() {
        if (flushing) {
            flushAgain = true;
            return;
        }
        flushing = true;
        Log.FlushTask task = log.prepareFlush();
        byte[] snapshot = producers.producerCount() > 0 ? producers.snapshot() : null;
        context.executeBlocking(() -> {
            long upTo = task.run();
            if (snapshot != null) ProducerStateTable.writeSnapshot(dir, task.upTo(), snapshot);
            return upTo;
        }, true).onComplete(ar -> {
            flushing = false;
            if (ar.succeeded()) {
                log.onFlushed(ar.result());
            } else {
                LOG.error("Flush of {} failed", tp, ar.cause());
            }
            if (flushAgain) {
                flushAgain = false;
                flush();
            }
        });
    }

    /** Deletes what retention allows (the files go on a worker), then compacts when the topic is compacted. */
    void checkRetention() {
        maybeCompact();
        List<Segment> doomed = log.deleteOldSegments(time.milliseconds());
        if (doomed.isEmpty()) return;
        long start = log.logStartOffset();
        LOG.info("Retention deletes {} segment(s) of {}; log start offset is now {}", doomed.size(), tp, start);
        context.executeBlocking(() -> {
            Log.deleteSegmentFiles(doomed, dir, start);
            return null;
        }, true).onFailure(e -> LOG.error("Deleting segments of {} failed", tp, e));
    }
}
