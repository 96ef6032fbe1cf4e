package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.AbortedTxnIndex;
import io.runnel.log.BatchHeader;
import io.runnel.log.Checkpoints;
import io.runnel.log.Compactor;
import io.runnel.log.LeaderEpochCache;
import io.runnel.log.Log;
import io.runnel.log.LogConfig;
import io.runnel.log.Segment;
import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.LastRecord;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import org.apache.kafka.common.errors.IneligibleReplicaException;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One replica of a partition on its event-loop context: it owns the partition's {@link Log} (the single writer, so
 * the log needs no locks), appends as leader or follower, and parks the waits for its offsets. Opening (recovery),
 * fsync, segment deletion and closing run on worker threads, ordered per partition, so the event loop never waits
 * for the disk. Retention runs on a timer every {@code log.retention.check.interval.ms}; flushes follow
 * {@link FlushPolicy}. What replication decides (high watermark, ISR changes) is computed by
 * {@link ReplicationState}; the controller's last placement is kept in a {@link PlacementFile}. Everyone else
 * reaches a replica through its {@link PartitionHandle}.
 */
public final class PartitionVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(PartitionVerticle.class);
    /** The high-watermark checkpoint (Kafka keeps one file per log dir; one per partition here). */
    static final String HIGH_WATERMARK = "high-watermark";

    private final TopicPartition tp;
    private final Path dir;
    private final Time time;
    private final long retentionCheckIntervalMs;
    private final long producerIdExpirationMs;
    private final long producerIdExpirationCheckIntervalMs;
    private final long segmentDeleteDelayMs;
    /**
     * Segments taken out of the log by retention (files to delete) or compaction (channels to close) that stay open
     * for {@code log.segment.delete.delay.ms}: fetch responses may still be sending from them (zero-copy).
     */
    private final List<Retired> retired = new ArrayList<>();

    private volatile LogConfig config;
    private volatile Log log;
    private ProducerStateTable producers;
    /** The aborted transactions still in the log (read_committed fetches); on this context. */
    private AbortedTxnIndex aborted;
    /** Whether an abort was appended to the index file since the last flush (which then fsyncs it). */
    private boolean abortedUnflushed;
    /** The last stable offset: below it every transaction is decided and replicated (read_committed reads to it). */
    private volatile long lastStableOffset;
    private boolean flushing;
    /** Set while a follower's truncation runs on a worker ({@link #exclusively}). */
    private Future<Void> exclusive;
    private boolean compacting;
    /** A roll happened while {@link #compacting}: one more pass follows. */
    private boolean compactAgain;
    private int segmentsAtLastAppend;
    private boolean flushAgain;
    private final PartitionTicker ticker;
    /** The periodic checks on the broker's ticker (retention, producer expiry, ISR); on this context. */
    private final List<PartitionTicker.Registration> checks = new ArrayList<>(3);
    private long flushTimer = -1;
    private volatile boolean deleteOnStop;
    /** Set when the verticle starts stopping (the replica is deleted, moved away or the broker stops). */
    private volatile boolean stopping;
    /** Told when this replica goes offline (the broker reports it to the controller). */
    private final Runnable onOffline;
    private final IsrChanges isrChanges;
    /** Why this replica went offline ({@link #goOffline}), null while online. */
    private volatile String offline;
    /** Consumer fetches and acks=all produces, waiting for the high watermark to pass an offset. */
    private final OffsetWaiters highWatermarkWaiters = new OffsetWaiters();
    /** Followers' fetches, waiting for the log end offset to pass an offset. */
    private final OffsetWaiters logEndWaiters = new OffsetWaiters();

    // ---- replication: this broker's replica of the partition (a broker alone always leads it) ----
    private final int self;
    private volatile Placement placement;
    private final ReplicationState replication;
    /** The log start offset each follower last told in its fetch (on this context; KIP-392's candidates need it). */
    private final Map<Integer, Long> followerLogStarts = new HashMap<>();
    private LeaderEpochCache epochs;
    /** Told (on this context) of each transaction an end marker written here closes: producer id, committed. */
    private volatile BiConsumer<Long, Boolean> transactionEnds;
    /** Where the leader sends ISR changes (the controller); null when the broker runs alone. */
    /** Sends (leader epoch, ISR) to the controller; completes with the partition epoch of the placement holding it. */
    private volatile BiFunction<Integer, List<Integer>, Future<Integer>> isrProposals;

    /** A replica's fixed settings: its broker's node id and the broker-level timings it runs by. */
    record Settings(int self, long retentionCheckIntervalMs, long segmentDeleteDelayMs, long replicaLagTimeMaxMs, long producerIdExpirationMs,
                    long producerIdExpirationCheckIntervalMs, Runnable onOffline, IsrChanges isrChanges, PartitionTicker ticker) {
    }

    /** Told when the ISR of a partition this broker leads loses or gains members (Kafka's IsrShrinksPerSec, IsrExpandsPerSec). */
    public record IsrChanges(Runnable shrunk, Runnable expanded) {
        public static final IsrChanges NONE = new IsrChanges(() -> { }, () -> { });
    }

    /** Segments out of the log whose files wait {@code log.segment.delete.delay.ms} to be closed (and deleted). */
    private record Retired(List<Segment> segments, boolean deleteFiles) {
        void finish() throws IOException {
            if (deleteFiles) Log.deleteSegmentFiles(segments);
            else Log.closeSegments(segments);
        }
    }

    PartitionVerticle(TopicPartition tp, Path dir, LogConfig config, Time time, Settings settings, Placement placement) {
        this.tp = tp;
        this.dir = dir;
        this.config = config;
        this.time = time;
        this.self = settings.self();
        this.retentionCheckIntervalMs = settings.retentionCheckIntervalMs();
        this.segmentDeleteDelayMs = settings.segmentDeleteDelayMs();
        this.replication = new ReplicationState(self, time, settings.replicaLagTimeMaxMs());
        this.onOffline = settings.onOffline();
        this.ticker = settings.ticker();
        this.isrChanges = settings.isrChanges();
        this.producerIdExpirationMs = settings.producerIdExpirationMs();
        this.producerIdExpirationCheckIntervalMs = settings.producerIdExpirationCheckIntervalMs();
        this.placement = placement;
    }

    @Override
    public Future<?> start() {
        return open().recover(e -> {
            // Files that cannot be read (a failing disk, a damaged directory): this replica starts offline and the
            // broker with every other partition, as Kafka starts with a failed log directory offline.
            if (!(e instanceof IOException io)) return Future.failedFuture(e);
            goOffline(io);
            return Future.succeededFuture();
        });
    }

    private Future<?> open() {
        return context.executeBlocking(() -> {
            Log opened = Log.open(dir, config, time);
            aborted = AbortedTxnIndex.load(dir, opened);
            producers = ProducerStateTable.load(dir, opened, aborted);
            LeaderEpochCache cache = LeaderEpochCache.load(dir);
            epochs = cache != null ? cache : LeaderEpochCache.rebuild(dir, opened);
            epochs.truncateFromEnd(opened.logEndOffset()); // epochs of records a crash lost
            epochs.assignFrom(opened, opened.recoveryPoint()); // epochs whose checkpoint a crash kept from being written
            if (placement.leader() == self && epochs.assign(placement.leaderEpoch(), opened.logEndOffset())) epochs.write(); // a leader's epoch starts here
            // The placement it was created with is a controller's decision too (a new topic, a reassignment): kept at
            // once, since a replica whose placement never changes would otherwise report itself alone after a
            // whole-cluster restart and be elected with an ISR of one. A replica opened at start has a stand-in
            // placement (Placement#standIn), which is no decision: it keeps the file it has, or none.
            if (!placement.replicas().isEmpty() && !placement.standIn(self) && !Files.exists(dir.resolve(PlacementFile.NAME))) {
                try {
                    PlacementFile.write(dir, placement);
                } catch (IOException e) {
                    LOG.warn("Keeping the placement of {} failed: {}", tp, e.getMessage()); // as persistPlacement: the replica still serves
                }
            }
            long checkpointed = Checkpoints.read(dir.resolve(HIGH_WATERMARK)).orElse(opened.logEndOffset());
            replication.resetHighWatermark(Math.min(checkpointed, opened.logEndOffset()));
            return opened;
        }, true).map(opened -> {
            this.log = opened;
            if (isLeader()) replication.startLeading(placement);
            advanceHighWatermark();
            updateLastStableOffset();
            if (!stopping) {
                checks.add(ticker.every(context, retentionCheckIntervalMs, this::checkRetention));
                checks.add(ticker.every(context, producerIdExpirationCheckIntervalMs, this::expireProducers));
                // Kafka checks for lagging followers every replica.lag.time.max.ms / 2.
                checks.add(ticker.every(context, Math.max(Limits.ISR_CHECK_MIN_INTERVAL_MS, replication.replicaLagTimeMaxMs() / 2), this::checkIsr));
            }
            scheduleFlushTimer();
            return null;
        });
    }

    @Override
    public Future<?> stop() {
        stopping = true;
        cancelTimers();
        highWatermarkWaiters.completeAll();
        logEndWaiters.completeAll();
        List<Retired> retiring = List.copyOf(retired);
        retired.clear();
        Callable<Void> closing;
        if (deleteOnStop) {
            Path doomed = dir.resolveSibling(dir.getFileName() + "." + System.nanoTime() + "-delete");
            closing = () -> {
                finishRetired(retiring);
                // Renamed first, so that a crash in the middle leaves a directory start-up recognises and deletes.
                if (log != null) log.closeForDeletion(); // none when offline since start
                Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
                Log.deleteDirectory(doomed);
                return null;
            };
        } else if (offline != null) {
            // Offline: nothing more is written to a disk that failed; the log (if it opened) is closed.
            Log opened = log;
            if (opened == null) return Future.succeededFuture();
            closing = () -> {
                finishRetired(retiring);
                try {
                    opened.close();
                } catch (IOException e) {
                    LOG.warn("Closing the offline replica of {} failed: {}", tp, e.toString()); // expected of a failed disk
                }
                return null;
            };
        } else {
            byte[] snapshot = producers.producerCount() > 0 ? producers.snapshot() : null;
            long hw = replication.highWatermark();
            closing = () -> {
                finishRetired(retiring);
                log.close();
                aborted.sync();
                if (snapshot != null) ProducerStateTable.writeSnapshot(dir, log.logEndOffset(), snapshot);
                Checkpoints.write(dir.resolve(HIGH_WATERMARK), hw);
                return null;
            };
        }
        // First every blocking task queued before (a flush, a retention pass) finishes, in order; then the closing
        // runs outside the context's ordered queue. Vert.x closes a verticle's context once stop() completes and
        // interrupts the thread it still sees running that queue: inside the queue, the closing's own thread could
        // be interrupted while it had already moved on to close another partition, whose file channels an
        // interrupt closes (ClosedByInterruptException) before its log is flushed.
        return context.executeBlocking(() -> null, true).compose(v -> context.executeBlocking(() -> {
            Thread.interrupted(); // an interrupt left on this pool thread by an earlier task is not for this one
            return closing.call();
        }, false));
    }

    // ---------------------------------------------------------------- replication

    /** Whether this replica leads the partition now. */
    boolean isLeader() {
        return placement.leader() == self;
    }

    /** {@link ReplicationState#inTouch} with the coordinators' lease. Thread-safe. */
    boolean leaderInTouch() {
        return replication.inTouch(placement, Limits.LEADER_LEASE_MS);
    }

    Placement placement() {
        return placement;
    }

    long highWatermark() {
        return replication.highWatermark();
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
        highWatermarkWaiters.await(lastOffset, replication.highWatermark(), waiter);
    }

    /** Parks a consumer's long poll until the high watermark passes {@code offset}. */
    void awaitHighWatermark(long offset, Promise<Void> waiter) {
        highWatermarkWaiters.await(offset, replication.highWatermark(), waiter);
    }

    /** Parks a follower's long poll until the log end passes {@code offset}; at once when not leading or closing. */
    void awaitLogEnd(long offset, Promise<Void> waiter) {
        if (stopping || !isLeader()) {
            waiter.tryComplete();
            return;
        }
        logEndWaiters.await(offset, log.logEndOffset(), waiter);
    }

    /** Tells {@code listener} of each transaction a marker written here as leader ends (the group coordinator's offsets). */
    void onTransactionEnd(BiConsumer<Long, Boolean> listener) {
        this.transactionEnds = listener;
    }

    void useIsrProposals(BiFunction<Integer, List<Integer>, Future<Integer>> proposals) {
        this.isrProposals = proposals;
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
        replication.placementChanged(next);
        if (next.leader() == self) {
            if (before.leader() != self || before.leaderEpoch() != next.leaderEpoch()) {
                assignEpoch(next.leaderEpoch(), log.logEndOffset());
                replication.startLeading(next);
                LOG.info("Broker {} leads {} in epoch {} with ISR {}", self, tp, next.leaderEpoch(), next.isr());
            } else if (!before.isr().equals(next.isr())) {
                LOG.info("ISR of {} is now {}", tp, next.isr());
                if (!next.isr().containsAll(before.isr())) isrChanges.shrunk().run();
                if (!before.isr().containsAll(next.isr())) isrChanges.expanded().run();
            }
            advanceHighWatermark();
        } else if (before.leader() == self) {
            LOG.info("Broker {} follows {} (leader {}, epoch {})", self, tp, next.leader(), next.leaderEpoch());
            replication.stopLeading();
            highWatermarkWaiters.completeAll();
            logEndWaiters.completeAll();
        }
    }

    /**
     * Takes a placement while offline ({@link #goOffline}): the log is not touched; a leader that was moved away
     * stops leading, and what waited on it is answered (the controller elects no offline replica).
     */
    void applyPlacementOffline(Placement next) {
        Placement before = placement;
        placement = next;
        if (before.leader() == self && next.leader() != self) {
            replication.stopLeading();
            highWatermarkWaiters.completeAll();
            logEndWaiters.completeAll();
        }
    }

    /**
     * The leader learns a follower's log end offset from its fetch (the offset it asks for). The high watermark
     * may advance; a follower outside the ISR that has caught up to it is proposed back in.
     */
    void followerFetched(int replica, long fetchOffset, long followerLogStart) {
        followerLogStarts.put(replica, followerLogStart);
        followerFetched(replica, fetchOffset);
    }

    /**
     * Refuses a consumer's read from this replica as a follower (KIP-392) unless the controller's placement names a
     * leader, this broker among the replicas and in the ISR: a stand-in replica at start, or a follower that left the
     * ISR, would serve stale records (the leader only sends consumers to in-sync followers).
     */
    void requireServingFollower() {
        Placement p = placement;
        if (!p.hasLeader() || p.leader() == self || !p.replicas().contains(self) || !p.isr().contains(self)) {
            throw new NotLeaderOrFollowerException("This broker's replica of " + tp + " does not serve reads now (leader "
                    + p.leader() + ", in-sync replicas " + p.isr() + ")");
        }
    }

    void followerFetched(int replica, long fetchOffset) {
        if (!isLeader()) return;
        replication.followerFetched(replica, fetchOffset, log.logEndOffset(), placement.isr().contains(replica));
        advanceHighWatermark();
        List<Integer> wider = replication.expandedIsr(placement, replica);
        if (wider != null) propose(wider);
    }

    /** Drops followers that have not caught up for replica.lag.time.max.ms from the ISR (checked periodically). */
    void checkIsr() {
        if (!isLeader()) return;
        Placement p = placement;
        List<Integer> kept = replication.shrunkIsr(p);
        if (kept != null) {
            LOG.info("{}: followers {} fell behind; proposing ISR {}", tp, p.isr().stream().filter(r -> !kept.contains(r)).toList(), kept);
            propose(kept);
        }
    }

    /** Sends an ISR change to the controller, one at a time; a refused one may be proposed again. */
    private void propose(List<Integer> isr) {
        var proposals = isrProposals;
        if (proposals == null) return;
        Placement p = placement;
        List<Integer> proposal = replication.beginProposal(isr, p.leaderEpoch());
        if (proposal == null) return;
        // Accepted: the leader goes by the proposed ISR too until the placement that holds it arrives (maximal ISR).
        proposals.apply(p.leaderEpoch(), proposal).onComplete(ar -> {
            if (ar.failed() && ar.cause() instanceof IneligibleReplicaException) {
                replication.refusedAsIneligible(proposal, placement, Limits.ISR_INELIGIBLE_BACKOFF_MS);
            }
            replication.proposalAnswered(proposal, ar.succeeded() ? ar.result() : -1, placement);
            advanceHighWatermark();
        });
    }

    /**
     * Advances the leader's high watermark ({@link ReplicationState#advance}); advancing it completes acks=all
     * produces and wakes consumers' fetches.
     */
    private void advanceHighWatermark() {
        if (log != null && replication.advance(placement, log.logEndOffset())) {
            producers.highWatermarkAt(replication.highWatermark());
            updateLastStableOffset();
            highWatermarkWaiters.advancedTo(replication.highWatermark());
        }
    }

    /**
     * The last stable offset (Kafka's LSO): the high watermark, or the first offset of a transaction not yet decided
     * and replicated when that is lower. A read_committed consumer reads below it.
     */
    long lastStableOffset() {
        return lastStableOffset;
    }

    private void updateLastStableOffset() {
        lastStableOffset = Math.min(replication.highWatermark(), producers.firstUnstableOffset());
    }

    /** The in-sync followers this leader has heard from in its epoch, with what it knows of them (on this context). */
    List<PartitionHandle.FollowerView> inSyncFollowers() {
        List<PartitionHandle.FollowerView> out = new ArrayList<>();
        if (!isLeader()) return out;
        for (int r : placement.isr()) {
            if (r == self) continue;
            ReplicationState.Follower f = replication.follower(r);
            if (f != null && f.logEndOffset() >= 0) {
                out.add(new PartitionHandle.FollowerView(r, followerLogStarts.getOrDefault(r, -1L), f.logEndOffset(), f.lastCaughtUpMs()));
            }
        }
        return out;
    }

    /** The open transactions: first offset here to producer id (on this context). */
    Map<Long, Long> openTransactions() {
        return producers.openTransactions();
    }

    /** The aborted transactions still in the log (on this context). */
    AbortedTxnIndex abortedTransactions() {
        return aborted;
    }

    /** What DescribeProducers tells of this partition's producers (on this context). */
    List<ProducerStateTable.ProducerView> producerStates() {
        return producers.describe();
    }

    /**
     * Adds a transaction an ABORT marker closed to the aborted-transaction index, written on the worker queue (in
     * order with the flushes that fsync it). Commits and markers of transactions with no record here add nothing.
     */
    private void indexIfAborted(ProducerStateTable.CompletedTxn done) {
        if (done == null || done.committed() || done.firstOffset() < 0) return;
        AbortedTxnIndex.Append bytes = aborted.add(new AbortedTxn(done.producerId(), done.firstOffset(), done.markerOffset(),
                producers.stableOffsetAfter(done.markerOffset())), log.segmentBaseFor(done.markerOffset()));
        if (bytes == null) return;
        abortedUnflushed = true;
        AbortedTxnIndex index = aborted;
        context.executeBlocking(() -> {
            index.writeAppend(bytes);
            return null;
        }, true).onFailure(e -> LOG.error("Writing the aborted-transaction index of {} failed", tp, e));
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
                int from = pos;
                assignEpoch(BatchHeader.partitionLeaderEpoch(header, 0), BatchHeader.baseOffset(header, 0));
                // The whole batch is decoded only for a control batch (its marker).
                indexIfAborted(producers.replay(header, () -> MemoryRecords.readableRecords(
                        records.duplicate().position(from).limit(from + BatchHeader.batchSize(records, from)).slice()).batchIterator().next()));
            }
            logEndWaiters.advancedTo(log.logEndOffset());
            afterAppend();
        }
        replication.followLeader(leaderHighWatermark, log.logEndOffset());
        producers.highWatermarkAt(replication.highWatermark());
        updateLastStableOffset();
        highWatermarkWaiters.advancedTo(replication.highWatermark()); // consumers reading from this follower (KIP-392)
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
            if (aborted.truncateTo(0)) aborted.writeAll(aborted.snapshot(), log.segmentBaseOffsets());
            return ProducerStateTable.load(dir, log, aborted);
        }, loaded -> {
            producers = loaded;
            replication.resetHighWatermark(offset);
            updateLastStableOffset();
        });
    }

    /** Cuts this replica's log back to {@code offset} (it diverged from the leader's), with its epochs and producer state. */
    Future<Void> truncateTo(long offset) {
        if (offset >= log.logEndOffset()) return Future.succeededFuture();
        LOG.info("Truncating {} from offset {} to {} to match the leader", tp, log.logEndOffset(), offset);
        return exclusively(() -> {
            log.truncateTo(offset);
            epochs.truncateFromEnd(log.logEndOffset());
            if (aborted.truncateTo(log.logEndOffset())) aborted.writeAll(aborted.snapshot(), log.segmentBaseOffsets());
            return ProducerStateTable.load(dir, log, aborted);
        }, loaded -> {
            producers = loaded;
            replication.truncatedTo(log.logEndOffset());
            updateLastStableOffset();
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

    /** An append as leader and the leader epoch it was made in: acks=all counts the high watermark in that epoch only. */
    record Appended(AppendInfo info, int leaderEpoch) {
    }

    /**
     * An acks=all append: refused before writing, with NOT_ENOUGH_REPLICAS, when fewer replicas than
     * {@code minInsyncReplicas} are in sync (Kafka's Partition.appendRecordsToLeader checks the same, after the
     * leadership check).
     */
    Appended appendForAll(ByteBuffer records, int minInsyncReplicas, TxnVerification verification) throws IOException {
        return appendForAll(records, minInsyncReplicas, false, verification);
    }

    /** {@link #appendForAll(ByteBuffer, int, TxnVerification)}; {@code coordinator}: see {@link #append(ByteBuffer, boolean, TxnVerification)}. */
    Appended appendForAll(ByteBuffer records, int minInsyncReplicas, boolean coordinator, TxnVerification verification) throws IOException {
        requireLeader();
        Placement p = placement;
        if (p.isr().size() < minInsyncReplicas) {
            throw new NotEnoughReplicasException("The in-sync replicas of " + tp + " are " + p.isr() + ", fewer than min.insync.replicas "
                    + minInsyncReplicas);
        }
        return new Appended(append(records, coordinator, verification), p.leaderEpoch());
    }

    /** See {@link PartitionHandle#startTxnVerification}. */
    TxnVerification startTxnVerification(long producerId, short epoch, int firstSequence, boolean supportsEpochBump) {
        requireLeader();
        return producers.hasOngoingTxn(producerId, epoch) ? TxnVerification.REQUIRED
                : TxnVerification.guarded(producers.verificationGuard(producerId, epoch, firstSequence, supportsEpochBump));
    }

    /** Fails with NOT_LEADER_OR_FOLLOWER unless this replica leads, naming the leader when there is one. */
    void requireLeader() {
        if (isLeader()) return;
        Placement p = placement;
        throw new NotLeaderOrFollowerException("Broker " + self + " does not lead " + tp
                + (p.hasLeader() ? "; broker " + p.leader() + " does" : "; it has no leader now"));
    }

    /**
     * Appends a producer's batches on this context: an idempotent producer's retried batch is answered with its
     * original offsets instead of being written again (see {@link ProducerStateTable}).
     */
    AppendInfo append(ByteBuffer records, TxnVerification verification) throws IOException {
        return append(records, false, verification);
    }

    /**
     * {@link #append(ByteBuffer, TxnVerification)}; a {@code coordinator}'s write in a producer's transaction (the
     * group coordinator's TxnOffsetCommit) is checked for its producer epoch but not its sequence number, as Kafka
     * checks sequences of clients' appends only. A transactional batch that would open its producer's transaction
     * here needs the coordinator's confirmation when {@code verification} requires one (KIP-890, Kafka's
     * UnifiedLog.analyzeAndValidateProducerState): without the producer's current guard it fails INVALID_TXN_STATE.
     * A retried duplicate is answered before that check, as Kafka's.
     */
    AppendInfo append(ByteBuffer records, boolean coordinator, TxnVerification verification) throws IOException {
        requireLeader();
        int at = records.position();
        boolean v2 = records.remaining() >= BatchHeader.SIZE && BatchHeader.magic(records, at) == RecordBatch.MAGIC_VALUE_V2;
        if (v2 && BatchHeader.isControl(records, at)) {
            // Only transaction coordinators write markers (WriteTxnMarkers); a producer may not (Kafka refuses them too).
            throw new InvalidRecordException("A produce request may not carry control batches");
        }
        boolean idempotent = v2 && BatchHeader.producerId(records, at) != RecordBatch.NO_PRODUCER_ID;
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
        boolean transactional = BatchHeader.isTransactional(records, at);
        boolean epochBumpKeepsSequence = false;
        if (transactional && verification.required() && !producers.hasOngoingTxn(pid, epoch)) {
            // The batch would open its producer's transaction here: the coordinator must have confirmed the partition
            // under a guard no marker has dropped since. A retried first batch is answered as the first time.
            Optional<ProducerStateTable.BatchMeta> retried = coordinator ? Optional.empty() : producers.duplicateOf(pid, epoch, firstSeq, lastSeq);
            if (retried.isPresent()) return duplicateInfo(pid, firstSeq, retried.get());
            ProducerStateTable.Verification v = producers.verified(pid, verification.guard());
            if (v == null) {
                throw new InvalidTxnStateException("The batch of producer " + pid + " (epoch " + epoch + ") is not part of an ongoing transaction in "
                        + tp + " that its coordinator confirmed");
            }
            if (!coordinator && epoch == v.epoch && firstSeq > v.lowestSequence) {
                throw new OutOfOrderSequenceException("Producer " + pid + " opens its transaction in " + tp + " with sequence " + firstSeq
                        + " while its batch from sequence " + v.lowestSequence + " is still to come");
            }
            epochBumpKeepsSequence = v.supportsEpochBump;
        }
        Optional<ProducerStateTable.BatchMeta> duplicate = coordinator ? producers.checkEpoch(pid, epoch)
                : producers.check(pid, epoch, firstSeq, lastSeq, epochBumpKeepsSequence);
        if (duplicate.isPresent()) return duplicateInfo(pid, firstSeq, duplicate.get());
        long batchTimestamp = BatchHeader.maxTimestamp(records, at); // read before the append, which may consume the buffer
        AppendInfo info = log.appendAsLeader(records, placement.leaderEpoch());
        // The batch's timestamp (its log append time when the topic uses LogAppendTime), as the followers and a replay
        // of the log record it: every replica then expires the producer at the same time (producer.id.expiration.ms).
        long timestamp = info.logAppendTimeMs() != RecordBatch.NO_TIMESTAMP ? info.logAppendTimeMs() : batchTimestamp;
        producers.update(pid, epoch, firstSeq, lastSeq, info.firstOffset(), info.lastOffset(), transactional, timestamp);
        afterAppend();
        return info;
    }

    private AppendInfo duplicateInfo(long pid, int firstSeq, ProducerStateTable.BatchMeta d) {
        LOG.debug("Duplicate batch of producer {} on {} (sequence {}); answered with offset {}", pid, tp, firstSeq, d.firstOffset());
        return new AppendInfo(d.firstOffset(), d.lastOffset(), (int) (d.lastOffset() - d.firstOffset() + 1), RecordBatch.NO_TIMESTAMP, log.logStartOffset());
    }

    /**
     * Appends an end-transaction marker of producer {@code producerId} as leader (WriteTxnMarkers): a COMMIT or
     * ABORT control batch in the producer's epoch, which closes its transaction in this partition. Refused, before
     * writing, when the producer's epoch or the coordinator's epoch is older than the partition has seen, or when
     * fewer replicas than {@code minInsyncReplicas} are in sync (markers are written with acks=all, as Kafka's).
     */
    Appended appendMarker(long producerId, short producerEpoch, int coordinatorEpoch, boolean commit, byte transactionVersion, int minInsyncReplicas)
            throws IOException {
        requireLeader();
        Placement p = placement;
        if (p.isr().size() < minInsyncReplicas) {
            throw new NotEnoughReplicasException("The in-sync replicas of " + tp + " are " + p.isr() + ", fewer than min.insync.replicas "
                    + minInsyncReplicas);
        }
        producers.checkMarker(producerId, producerEpoch, coordinatorEpoch, transactionVersion);
        long now = time.milliseconds();
        ByteBuffer marker = MemoryRecords.withEndTransactionMarker(now, producerId, producerEpoch,
                new EndTransactionMarker(commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT, coordinatorEpoch)).buffer();
        AppendInfo info = log.appendAsLeader(marker, p.leaderEpoch());
        indexIfAborted(producers.completeTxn(producerId, producerEpoch, coordinatorEpoch, commit, info.firstOffset(), now));
        afterAppend();
        updateLastStableOffset();
        BiConsumer<Long, Boolean> ends = transactionEnds;
        if (ends != null) ends.accept(producerId, commit);
        return new Appended(info, p.leaderEpoch());
    }

    private void cancelTimers() {
        checks.forEach(PartitionTicker.Registration::cancel);
        checks.clear();
        if (flushTimer >= 0) vertx.cancelTimer(flushTimer);
        flushTimer = -1;
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

    /** Whether the caller runs on this replica's event loop, which owns its log and state. */
    boolean onContext() {
        return Vertx.currentContext() == context;
    }

    TopicPartition topicPartition() {
        return tp;
    }

    /**
     * Keeps the placement next to the log ({@link PlacementFile}), on the worker queue: after a restart of the whole
     * cluster the broker's report of it lets the controller rebuild the metadata with the real replicas and ISR.
     */
    private void persistPlacement(Placement p) {
        context.executeBlocking(() -> {
            if (stopping) return null;
            PlacementFile.write(dir, p);
            return null;
        }, true).onFailure(e -> LOG.debug("Keeping the placement of {} failed", tp, e));
    }

    /** Why this replica is offline (see {@link #goOffline}), or null while it is online. */
    String offline() {
        return offline;
    }

    /**
     * Takes this replica offline after an I/O error other than a full disk (a failing disk, files gone or unreadable),
     * as Kafka takes a log directory offline after one: what is on disk can no longer be trusted, so the replica
     * serves nothing and takes no writes until the broker restarts and opens its log again. Other partitions go on.
     * The first error is kept; callable from any thread.
     */
    void goOffline(IOException e) {
        if (offline != null) return;
        offline = e.toString();
        LOG.error("The replica of {} on this broker is offline after an I/O error; it serves nothing until the broker restarts", tp, e);
        context.runOnContext(x -> cancelTimers());
        onOffline.run();
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

    /** Called on this context after every append: wakes parked fetches, applies the flush policy, compacts after a roll. */
    void afterAppend() {
        logEndWaiters.advancedTo(log.logEndOffset());
        advanceHighWatermark();
        updateLastStableOffset();
        maybeFlush();
        int segments = log.segmentCount();
        if (segments != segmentsAtLastAppend) {
            segmentsAtLastAppend = segments;
            maybeCompact();
        }
    }

    /** Compacts the closed segments on a worker (cleanup.policy=compact), one pass at a time. */
    void maybeCompact() {
        if (compacting) {
            // A roll during a pass: the segment it closed is compacted by one more pass when this one ends (it was
            // left for the next retention check, minutes later, and the log stayed larger until then).
            compactAgain = true;
            return;
        }
        long stable = lastStableOffset;
        // Kafka's cleaner stops at the last stable offset: an open transaction's records are not yet kept or dropped.
        List<Segment> closed = log.compactionCandidates().stream().takeWhile(seg -> seg.nextOffset() <= stable).toList();
        if (closed.isEmpty()) return;
        compacting = true;
        LogConfig cfg = config;
        long now = time.milliseconds();
        List<AbortedTxn> abortedNow = aborted.snapshot();
        Map<Long, LastRecord> lastBatches = producers.lastRecords();
        context.executeBlocking(() -> Compactor.clean(dir, closed, cfg, now, abortedNow, lastBatches), true).onComplete(ar -> {
            compacting = false;
            if (ar.failed()) {
                LOG.error("Compacting {} failed; the log is unchanged", tp, ar.cause());
                return;
            }
            List<Segment> replaced = new ArrayList<>();
            List<Long> removedMarkers = new ArrayList<>();
            for (Compactor.Replacement r : ar.result()) {
                replaced.add(log.replaceSegment(r.old(), r.cleaned()));
                removedMarkers.addAll(r.removedMarkers());
            }
            retire(new Retired(replaced, false));
            if (aborted.removeMarkers(removedMarkers)) {
                // The index follows the log: an abort whose marker compaction removed is no longer listed (a crash before
                // this rewrite leaves an entry without its marker, which the next start finds and rebuilds from the log).
                List<AbortedTxn> kept = aborted.snapshot();
                List<Long> bases = log.segmentBaseOffsets();
                AbortedTxnIndex index = aborted;
                context.executeBlocking(() -> {
                    index.writeAll(kept, bases);
                    return null;
                }, true).onFailure(e -> LOG.error("Rewriting the transaction index of {} after compaction failed", tp, e));
            }
            if (compactAgain && exclusive == null) {
                compactAgain = false;
                maybeCompact();
            }
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
        boolean syncAborted = abortedUnflushed;
        abortedUnflushed = false;
        AbortedTxnIndex index = aborted;
        context.executeBlocking(() -> {
            if (syncAborted) index.sync(); // before the log: a marker on disk never lacks its index entry for long
            long upTo = task.run();
            if (snapshot != null) ProducerStateTable.writeSnapshot(dir, task.upTo(), snapshot);
            return upTo;
        }, true).onComplete(ar -> {
            flushing = false;
            if (ar.succeeded()) {
                log.onFlushed(ar.result());
            } else if (ar.cause() instanceof IOException io && DiskErrors.transientReason(io) == null) {
                goOffline(io); // a failed fsync may have dropped written pages: the log is not to be trusted
            } else {
                LOG.error("Flush of {} failed", tp, ar.cause());
            }
            if (flushAgain) {
                flushAgain = false;
                flush();
            }
        });
    }

    /** Forgets the producer state older than {@code producer.id.expiration.ms} (see {@link ProducerStateTable#removeExpired}). */
    private void expireProducers() {
        if (producers == null) return;
        int n = producers.removeExpired(time.milliseconds(), producerIdExpirationMs);
        if (n > 0) LOG.debug("{}: forgot {} producer(s) idle for producer.id.expiration.ms", tp, n);
    }

    /** Deletes what retention allows (the files go on a worker), then compacts when the topic is compacted. */
    void checkRetention() {
        if (exclusive != null) return; // the next check runs on the timer
        maybeCompact();
        List<Segment> doomed = log.deleteOldSegments(time.milliseconds());
        if (doomed.isEmpty()) return;
        long start = log.logStartOffset();
        LOG.info("Retention deletes {} segment(s) of {}; log start offset is now {}", doomed.size(), tp, start);
        aborted.dropBefore(start); // the files go with their segments
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
