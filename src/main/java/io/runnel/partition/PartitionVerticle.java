package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.AppendInfo;
import io.runnel.log.BatchHeader;
import io.runnel.log.Checkpoints;
import io.runnel.log.Compactor;
import io.runnel.log.LeaderEpochCache;
import io.runnel.log.Log;
import io.runnel.log.LogConfig;
import io.runnel.log.Segment;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.record.internal.RecordBatch;
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
    private final long segmentDeleteDelayMs;
    /**
     * Segments taken out of the log by retention (files to delete) or compaction (channels to close) that stay open
     * for {@code log.segment.delete.delay.ms}: fetch responses may still be sending from them (zero-copy).
     */
    private final List<Retired> retired = new ArrayList<>();

    private record Retired(List<Segment> segments, boolean deleteFiles) {
        void finish() throws IOException {
            if (deleteFiles) Log.deleteSegmentFiles(segments);
            else Log.closeSegments(segments);
        }
    }
    private volatile LogConfig config;
    private volatile Log log;
    private ProducerStateTable producers;
    private boolean flushing;
    /** Set while a follower's truncation runs on a worker ({@link #exclusively}). */
    private Future<Void> exclusive;
    private boolean compacting;
    private int segmentsAtLastAppend;
    private boolean flushAgain;
    private long retentionTimer = -1;
    private long flushTimer = -1;
    private long isrTimer = -1;
    private volatile boolean deleteOnStop;
    /** Set when the verticle starts stopping (the replica is deleted, moved away or the broker stops). */
    private volatile boolean stopping;
    /** Consumer fetches and acks=all produces, waiting for the high watermark to pass an offset. */
    private final PendingFetches pendingFetches = new PendingFetches();
    /** Followers' fetches, waiting for the log end offset to pass an offset. */
    private final PendingFetches replicaFetches = new PendingFetches();

    // ---- replication: this broker's replica of the partition (a broker alone always leads it) ----
    private final int self;
    private volatile Placement placement;
    private volatile long highWatermark;
    private LeaderEpochCache epochs;
    /** The leader's view of each follower: its log end offset and when it last caught up (Kafka's Replica state). */
    private final Map<Integer, long[]> followers = new HashMap<>();
    /** Where the leader sends ISR changes (the controller); null when the broker runs alone. */
    private volatile Function<List<Integer>, Future<Void>> isrProposals;
    private List<Integer> proposedIsr;
    private long replicaLagTimeMaxMs = 30_000;

    PartitionVerticle(TopicPartition tp, Path dir, LogConfig config, Time time, long retentionCheckIntervalMs, long segmentDeleteDelayMs, int self,
                      Placement placement) {
        this.segmentDeleteDelayMs = segmentDeleteDelayMs;
        this.self = self;
        this.placement = placement;
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
            LeaderEpochCache cache = LeaderEpochCache.load(dir);
            epochs = cache != null ? cache : LeaderEpochCache.rebuild(dir, opened);
            epochs.truncateFromEnd(opened.logEndOffset()); // epochs of records a crash lost
            epochs.assignFrom(opened, opened.recoveryPoint()); // epochs whose checkpoint a crash kept from being written
            if (placement.leader() == self && epochs.assign(placement.leaderEpoch(), opened.logEndOffset())) epochs.write(); // a leader's epoch starts here
            long checkpointed = Checkpoints.read(dir.resolve(HIGH_WATERMARK)).orElse(opened.logEndOffset());
            highWatermark = Math.min(checkpointed, opened.logEndOffset());
            return opened;
        }, true).map(opened -> {
            this.log = opened;
            updateHighWatermark();
            retentionTimer = vertx.setPeriodic(retentionCheckIntervalMs, id -> checkRetention());
            isrTimer = vertx.setPeriodic(Math.max(100, replicaLagTimeMaxMs / 2), id -> checkIsr());
            scheduleFlushTimer();
            return null;
        });
    }

    @Override
    public Future<?> stop() {
        stopping = true;
        cancelTimers();
        pendingFetches.completeAll();
        replicaFetches.completeAll();
        List<Retired> retiring = List.copyOf(retired);
        retired.clear();
        if (deleteOnStop) {
            Path doomed = dir.resolveSibling(dir.getFileName() + "." + System.nanoTime() + "-delete");
            return context.executeBlocking(() -> {
                finishRetired(retiring);
                // Renamed first, so that a crash in the middle leaves a directory start-up recognises and deletes.
                log.closeForDeletion();
                Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
                Log.deleteDirectory(doomed);
                return null;
            }, true);
        }
        byte[] snapshot = producers.producerCount() > 0 ? producers.snapshot() : null;
        long hw = highWatermark;
        return context.executeBlocking(() -> {
            finishRetired(retiring);
            log.close();
            if (snapshot != null) ProducerStateTable.writeSnapshot(dir, log.logEndOffset(), snapshot);
            Checkpoints.write(dir.resolve(HIGH_WATERMARK), hw);
            return null;
        }, true);
    }

    /** The high-watermark checkpoint (Kafka keeps one file per log dir; one per partition here). */
    static final String HIGH_WATERMARK = "high-watermark";

    // ---------------------------------------------------------------- replication

    /** Whether this replica leads the partition now. */
    boolean isLeader() {
        return placement.leader() == self;
    }

    Placement placement() {
        return placement;
    }

    long highWatermark() {
        return highWatermark;
    }

    LeaderEpochCache epochs() {
        return epochs;
    }

    /**
     * Parks an acks=all produce until the high watermark passes {@code lastOffset}. It completes at once when this
     * replica is closing or does not lead in {@code leaderEpoch}: the records were appended on this context, but the
     * wait is parked by a later task, which may run after the placement change or stop that released the waiters
     * before it (Kafka's DelayedProduce also completes as soon as leadership has moved). Parked then, it would hold
     * the producer until its request timeout.
     */
    void awaitReplicated(long lastOffset, int leaderEpoch, Promise<Void> waiter) {
        if (stopping || !isLeader() || placement.leaderEpoch() != leaderEpoch) {
            waiter.tryComplete();
            return;
        }
        pendingFetches.await(lastOffset, highWatermark, waiter);
    }

    /** Parks a follower's long poll until the log end passes {@code offset}; at once when not leading or closing. */
    void awaitLogEnd(long offset, Promise<Void> waiter) {
        if (stopping || !isLeader()) {
            waiter.tryComplete();
            return;
        }
        replicaFetches.await(offset, log.logEndOffset(), waiter);
    }

    void useIsrProposals(Function<List<Integer>, Future<Void>> proposals, long replicaLagTimeMaxMs) {
        this.isrProposals = proposals;
        this.replicaLagTimeMaxMs = replicaLagTimeMaxMs;
    }

    /**
     * Takes a new placement from the controller: becoming leader records the new epoch's start in the epoch cache
     * and starts tracking followers; becoming follower releases every waiting produce and fetch (they answer
     * NOT_LEADER_OR_FOLLOWER). Followers' truncation is the fetcher's job (it asks the leader, OffsetForLeaderEpoch).
     */
    void applyPlacement(Placement next) throws IOException {
        Placement before = placement;
        placement = next;
        if (!next.replicas().isEmpty() && !next.equals(before)) persistPlacement(next);
        proposedIsr = null;
        if (next.leader() == self) {
            if (before.leader() != self || before.leaderEpoch() != next.leaderEpoch()) {
                assignEpoch(next.leaderEpoch(), log.logEndOffset());
                followers.clear();
                long now = time.milliseconds();
                for (int r : next.replicas()) if (r != self) followers.put(r, new long[] {-1, now});
                LOG.info("Broker {} leads {} in epoch {} with ISR {}", self, tp, next.leaderEpoch(), next.isr());
            } else if (!before.isr().equals(next.isr())) {
                LOG.info("ISR of {} is now {}", tp, next.isr());
            }
            updateHighWatermark();
        } else if (before.leader() == self) {
            LOG.info("Broker {} follows {} (leader {}, epoch {})", self, tp, next.leader(), next.leaderEpoch());
            pendingFetches.completeAll();
            replicaFetches.completeAll();
        }
    }

    /**
     * The leader learns a follower's log end offset from its fetch (the offset it asks for). The high watermark
     * may advance; a follower outside the ISR that has caught up to it is proposed back in.
     */
    void followerFetched(int replica, long fetchOffset) {
        if (!isLeader()) return;
        long[] f = followers.computeIfAbsent(replica, r -> new long[] {-1, 0});
        long leo = log.logEndOffset();
        f[0] = fetchOffset;
        if (fetchOffset >= leo) f[1] = time.milliseconds();
        updateHighWatermark();
        Placement p = placement;
        if (!p.isr().contains(replica) && p.replicas().contains(replica) && fetchOffset >= highWatermark) {
            List<Integer> wider = new ArrayList<>(p.isr());
            wider.add(replica);
            propose(wider);
        }
    }

    /** Drops followers that have not caught up for replica.lag.time.max.ms from the ISR (checked periodically). */
    void checkIsr() {
        if (!isLeader()) return;
        Placement p = placement;
        long now = time.milliseconds();
        List<Integer> kept = new ArrayList<>();
        for (int r : p.isr()) {
            long[] f = followers.get(r);
            if (r == self || f == null || now - f[1] <= replicaLagTimeMaxMs) kept.add(r);
        }
        if (kept.size() < p.isr().size()) {
            LOG.info("{}: followers {} fell behind; proposing ISR {}", tp, p.isr().stream().filter(r -> !kept.contains(r)).toList(), kept);
            propose(kept);
        }
    }

    /** Sends an ISR change to the controller, one at a time; a refused one may be proposed again. */
    private void propose(List<Integer> isr) {
        var proposals = isrProposals;
        if (proposals == null || proposedIsr != null) return;
        List<Integer> asked = List.copyOf(isr);
        proposedIsr = asked;
        proposals.apply(asked).onComplete(ar -> {
            // Accepted: the new placement arrives with the controller's metadata (applyPlacement clears it first).
            if (proposedIsr == asked) proposedIsr = null;
        });
    }

    /**
     * The leader's high watermark: the smallest log end offset among the in-sync replicas (it never goes back).
     * Advancing it completes acks=all produces and wakes consumers' fetches.
     */
    private void updateHighWatermark() {
        if (log == null) return;
        Placement p = placement;
        if (p.leader() != self) return;
        long hw = log.logEndOffset();
        for (int r : p.isr()) {
            if (r == self) continue;
            long[] f = followers.get(r);
            hw = Math.min(hw, f == null || f[0] < 0 ? highWatermark : f[0]);
        }
        if (hw > highWatermark) {
            highWatermark = hw;
            pendingFetches.onAppend(hw);
        }
    }

    /**
     * Appends batches fetched from the leader, keeping their offsets and epochs, and takes the leader's high
     * watermark (no higher than what this replica has).
     */
    AppendInfo appendFromLeader(ByteBuffer records, long leaderHighWatermark) throws IOException {
        if (isLeader()) throw new NotLeaderOrFollowerException(tp + " is led by this broker");
        AppendInfo info = null;
        if (records.hasRemaining()) {
            int at = records.position();
            info = log.appendAsFollower(records);
            for (int pos = at; pos < records.limit(); pos += BatchHeader.batchSize(records, pos)) {
                ByteBuffer header = records.duplicate().position(pos).limit(pos + BatchHeader.SIZE).slice();
                assignEpoch(BatchHeader.partitionLeaderEpoch(header, 0), BatchHeader.baseOffset(header, 0));
                producers.replay(header);
            }
            replicaFetches.onAppend(log.logEndOffset());
            afterAppend();
        }
        long hw = Math.min(leaderHighWatermark, log.logEndOffset());
        if (hw > highWatermark) highWatermark = hw;
        return info;
    }

    /**
     * Records that {@code epoch} begins at {@code startOffset}; the checkpoint is written on the worker queue (two
     * fsyncs), ordered before any later flush, so that records on disk never have an epoch the checkpoint lacks
     * except after a crash, which start-up repairs from the unflushed batches ({@link LeaderEpochCache#assignFrom}).
     */
    private void assignEpoch(int epoch, long startOffset) {
        if (!epochs.assign(epoch, startOffset)) return;
        byte[] checkpoint = epochs.checkpoint();
        context.executeBlocking(() -> {
            LeaderEpochCache.writeCheckpoint(dir, checkpoint);
            return null;
        }, true).onFailure(e -> LOG.error("Writing the leader epoch checkpoint of {} failed", tp, e));
    }

    /** Starts this follower's log afresh at the leader's log start {@code offset}, which is past its own log end. */
    Future<Void> restartAt(long offset) {
        if (isLeader() || offset <= log.logEndOffset()) return Future.succeededFuture();
        LOG.info("{} ends at {}, before the leader's log start {}: starting the log afresh there", tp, log.logEndOffset(), offset);
        return exclusively(() -> {
            log.restartAt(offset);
            epochs.truncateFromEnd(0);
            return ProducerStateTable.load(dir, log);
        }, loaded -> {
            producers = loaded;
            highWatermark = offset;
        });
    }

    /** Cuts this replica's log back to {@code offset} (it diverged from the leader's), with its epochs and producer state. */
    Future<Void> truncateTo(long offset) {
        if (offset >= log.logEndOffset()) return Future.succeededFuture();
        LOG.info("Truncating {} from offset {} to {} to match the leader", tp, log.logEndOffset(), offset);
        return exclusively(() -> {
            log.truncateTo(offset);
            epochs.truncateFromEnd(log.logEndOffset());
            return ProducerStateTable.load(dir, log);
        }, loaded -> {
            producers = loaded;
            highWatermark = Math.min(highWatermark, log.logEndOffset());
        });
    }

    /**
     * Runs {@code work} on a worker with the log to itself: ordered after this partition's running flush or
     * compaction (ordered blocking tasks), while calls through the handle wait ({@link #exclusive}) and the
     * retention and flush timers skip their turn. {@code apply} takes the result on this context before anything
     * that waited runs. For a follower's truncation: file truncation, segment deletion and the producer-state
     * replay are disk work that must not hold the event loop.
     */
    private <T> Future<Void> exclusively(Callable<T> work, Consumer<T> apply) {
        Promise<Void> done = Promise.promise();
        exclusive = done.future();
        return context.executeBlocking(work, true).transform(ar -> {
            try {
                if (ar.succeeded()) apply.accept(ar.result());
            } finally {
                exclusive = null;
                done.complete();
            }
            return ar.succeeded() ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(ar.cause());
        });
    }

    /** The exclusive operation running now ({@link #exclusively}), or null. On this context only. */
    Future<Void> exclusive() {
        return exclusive;
    }

    /**
     * Appends a producer's batches on this context: an idempotent producer's retried batch is answered with its
     * original offsets instead of being written again (see {@link ProducerStateTable}).
     */
    AppendInfo append(ByteBuffer records) throws IOException {
        if (!isLeader()) {
            throw new NotLeaderOrFollowerException("Broker " + self + " does not lead " + tp
                    + (placement.hasLeader() ? "; broker " + placement.leader() + " does" : "; it has no leader now"));
        }
        int at = records.position();
        boolean idempotent = records.remaining() >= BatchHeader.SIZE && BatchHeader.magic(records, at) == RecordBatch.MAGIC_VALUE_V2
                && BatchHeader.producerId(records, at) != RecordBatch.NO_PRODUCER_ID;
        if (!idempotent) {
            AppendInfo info = log.appendAsLeader(records, placement.leaderEpoch());
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
        AppendInfo info = log.appendAsLeader(records, placement.leaderEpoch());
        producers.update(pid, epoch, firstSeq, lastSeq, info.firstOffset(), info.lastOffset());
        afterAppend();
        return info;
    }

    private void cancelTimers() {
        if (retentionTimer >= 0) vertx.cancelTimer(retentionTimer);
        if (flushTimer >= 0) vertx.cancelTimer(flushTimer);
        if (isrTimer >= 0) vertx.cancelTimer(isrTimer);
        retentionTimer = flushTimer = isrTimer = -1;
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

    /** The last placement the controller gave this replica, kept for the report after a whole-cluster restart. */
    static final String PLACEMENT = "cluster-placement";

    /**
     * Writes the placement (replicas, ISR, leader epoch) next to the log, on a worker: after a restart of the whole
     * cluster the controller rebuilds the metadata from the brokers' reports, and a report of the real replicas and
     * ISR keeps the replication factor and elects from the in-sync replicas.
     */
    private void persistPlacement(Placement p) {
        String text = "replicas=" + join(p.replicas()) + "\nisr=" + join(p.isr()) + "\nepoch=" + p.leaderEpoch() + "\n";
        context.executeBlocking(() -> {
            if (stopping) return null;
            Checkpoints.writeAtomically(dir.resolve(PLACEMENT), text.getBytes(StandardCharsets.UTF_8));
            return null;
        }, true).onFailure(e -> LOG.debug("Keeping the placement of {} failed", tp, e));
    }

    private static String join(List<Integer> ids) {
        return String.join(",", ids.stream().map(String::valueOf).toList());
    }

    /** The placement {@link #persistPlacement} kept in {@code dir} (leader unknown: -1), if any. */
    static Optional<Placement> persistedPlacement(Path dir) {
        Path f = dir.resolve(PLACEMENT);
        try {
            if (!Files.exists(f)) return Optional.empty();
            Map<String, String> kv = new HashMap<>();
            for (String line : Files.readAllLines(f)) {
                int eq = line.indexOf('=');
                if (eq > 0) kv.put(line.substring(0, eq), line.substring(eq + 1));
            }
            List<Integer> replicas = ids(kv.get("replicas"));
            if (replicas.isEmpty()) return Optional.empty();
            return Optional.of(new Placement(replicas, -1, Integer.parseInt(kv.getOrDefault("epoch", "0")), ids(kv.get("isr"))));
        } catch (IOException | RuntimeException e) {
            LOG.warn("Ignoring the unreadable placement file of {}: {}", dir.getFileName(), e.toString());
            return Optional.empty();
        }
    }

    private static List<Integer> ids(String csv) {
        if (csv == null || csv.isBlank()) return List.of();
        return Arrays.stream(csv.split(",")).map(String::trim).map(Integer::parseInt).toList();
    }

    /** Whether this replica is closing: calls on it are answered NOT_LEADER_OR_FOLLOWER (clients look again). */
    boolean stopping() {
        return stopping;
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
        replicaFetches.onAppend(log.logEndOffset());
        updateHighWatermark();
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
            List<Segment> replaced = new ArrayList<>();
            for (Compactor.Replacement r : ar.result()) replaced.add(log.replaceSegment(r.old(), r.cleaned()));
            retire(new Retired(replaced, false));
        });
    }

    private void maybeFlush() {
        if (exclusive != null) return; // the log is a worker's now; the next append or tick checks again
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
        if (exclusive != null) return; // the next check runs on the timer
        maybeCompact();
        List<Segment> doomed = log.deleteOldSegments(time.milliseconds());
        if (doomed.isEmpty()) return;
        long start = log.logStartOffset();
        LOG.info("Retention deletes {} segment(s) of {}; log start offset is now {}", doomed.size(), tp, start);
        context.executeBlocking(() -> {
            Log.checkpointLogStart(dir, start);
            return null;
        }, true).onFailure(e -> LOG.error("Checkpointing the log start offset of {} failed", tp, e));
        retire(new Retired(doomed, true));
    }

    /** Closes (and for retention deletes) retired segments after {@code log.segment.delete.delay.ms}, on a worker. */
    private void retire(Retired r) {
        if (r.segments().isEmpty()) return;
        retired.add(r);
        vertx.setTimer(Math.max(1, segmentDeleteDelayMs), id -> {
            if (!retired.remove(r)) return; // stopped meanwhile: stop() finished it
            context.executeBlocking(() -> {
                r.finish();
                return null;
            }, false).onFailure(e -> LOG.error("Closing or deleting retired segments of {} failed", tp, e));
        });
    }

    /** Finishes every retired segment now (the partition is stopping). Blocking. */
    private void finishRetired(List<Retired> all) {
        for (Retired r : all) {
            try {
                r.finish();
            } catch (IOException e) {
                LOG.warn("Closing or deleting retired segments of {} failed", tp, e);
            }
        }
    }
}
