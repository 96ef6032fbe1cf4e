package io.runnel.partition;

import io.runnel.log.LeaderEpochCache;
import io.runnel.log.Log;
import io.runnel.log.LogConfig;
import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.EpochEnd;
import io.runnel.log.value.ReadResult;
import io.runnel.log.value.SliceResult;
import io.runnel.log.value.TimestampOffset;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.NotEnoughReplicasAfterAppendException;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.ListOffsetsRequest;

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

    /**
     * Validates and appends producer batches as leader (see {@link Log#appendAsLeader}) and completes once the
     * leader's log has them (acks 0 and 1); the buffer is modified in place.
     */
    public Future<AppendInfo> append(ByteBuffer records) {
        return append(records, TxnVerification.NONE);
    }

    /** {@link #append(ByteBuffer)} of a producer's write that may open its transaction here (see {@link TxnVerification}). */
    public Future<AppendInfo> append(ByteBuffer records, TxnVerification verification) {
        return call(l -> verticle.append(records, verification));
    }

    /**
     * Appends producer batches as leader and completes as {@code acks} says: once the leader's log has them, or with
     * acks=all once every in-sync replica has them (the high watermark passed them in the leader epoch they were
     * written in: Kafka's DelayedProduce). The one place acks=all is decided, for Produce, the group coordinator and
     * the HTTP and WebSocket publishers. Fails, with Kafka's errors:
     * <ul>
     *   <li>NOT_LEADER_OR_FOLLOWER: this replica does not lead, or stopped leading (or closed) before the records were
     *       replicated (they may be lost to the new leader's truncation);</li>
     *   <li>NOT_ENOUGH_REPLICAS: fewer in-sync replicas than {@code acks.minInsyncReplicas()}, before writing;</li>
     *   <li>NOT_ENOUGH_REPLICAS_AFTER_APPEND: replicated, but the ISR shrank below that meanwhile;</li>
     *   <li>REQUEST_TIMED_OUT: not replicated within {@code acks.timeoutMs()}.</li>
     * </ul>
     * A producer retries each of them (the idempotent producer without duplicates).
     */
    public Future<AppendInfo> append(ByteBuffer records, Acks acks) {
        return append(records, acks, TxnVerification.NONE);
    }

    /**
     * {@link #append(ByteBuffer, Acks)} of a producer's write that may open its transaction here: fails
     * INVALID_TXN_STATE, before writing, when it would open one without the coordinator's confirmation under a guard
     * that is still current (see {@link TxnVerification}).
     */
    public Future<AppendInfo> append(ByteBuffer records, Acks acks, TxnVerification verification) {
        if (!acks.all()) return append(records, verification);
        return call(l -> verticle.appendForAll(records, acks.minInsyncReplicas(), verification)).compose(appended -> awaitReplicated(appended, acks));
    }

    /**
     * Writes an end-transaction marker (COMMIT or ABORT) of {@code producerId} as leader and completes once every
     * in-sync replica has it (markers are written with acks=all, as Kafka's WriteTxnMarkers), with the same errors as
     * {@link #append(ByteBuffer, Acks)}, plus INVALID_PRODUCER_EPOCH and TRANSACTION_COORDINATOR_FENCED for a marker
     * older than what the partition has seen.
     */
    public Future<AppendInfo> appendMarker(long producerId, short producerEpoch, int coordinatorEpoch, boolean commit, Acks acks) {
        return appendMarker(producerId, producerEpoch, coordinatorEpoch, commit, (byte) 0, acks);
    }

    /**
     * {@link #appendMarker(long, short, int, boolean, Acks)} of a transaction of {@code transactionVersion}: a version 2
     * marker must carry an epoch above its open transaction's records (INVALID_PRODUCER_EPOCH otherwise).
     */
    public Future<AppendInfo> appendMarker(long producerId, short producerEpoch, int coordinatorEpoch, boolean commit, byte transactionVersion, Acks acks) {
        return call(l -> verticle.appendMarker(producerId, producerEpoch, coordinatorEpoch, commit, transactionVersion, acks.minInsyncReplicas()))
                .compose(appended -> awaitReplicated(appended, acks));
    }

    /**
     * A coordinator's write in a producer's transaction (the group coordinator's TxnOffsetCommit), with acks=all: as
     * {@link #append(ByteBuffer, Acks, TxnVerification)}, but the batch's sequence number is not checked (only its
     * producer epoch).
     */
    public Future<AppendInfo> appendForCoordinator(ByteBuffer records, Acks acks, TxnVerification verification) {
        return call(l -> verticle.appendForAll(records, acks.minInsyncReplicas(), true, verification))
                .compose(appended -> awaitReplicated(appended, acks));
    }

    private Future<AppendInfo> awaitReplicated(PartitionVerticle.Appended appended, Acks acks) {
        long lastOffset = appended.info().lastOffset();
        int epoch = appended.leaderEpoch();
        Vertx vertx = verticle.context().owner();
        Promise<Void> giveUp = Promise.promise();
        long timer = vertx.setTimer(Math.max(1, acks.timeoutMs()), x -> giveUp.tryComplete());
        return awaitReplicated(lastOffset, epoch, giveUp.future()).compose(v -> {
            vertx.cancelTimer(timer);
            giveUp.tryComplete();
            // As Kafka's Partition.checkEnoughReplicasReachOffset: replicated, but by fewer in-sync replicas than
            // min.insync.replicas (the ISR shrank after the append), is not an acknowledgement. The high watermark
            // counts only in the epoch the records were written in: a replica that stopped leading and leads again
            // may have lost them to truncation meanwhile.
            Placement p = verticle.placement();
            boolean sameTerm = verticle.isLeader() && p.leaderEpoch() == epoch;
            if (sameTerm && verticle.highWatermark() > lastOffset && p.isr().size() >= acks.minInsyncReplicas()) {
                return Future.succeededFuture(appended.info());
            }
            if (!sameTerm || verticle.stopping()) {
                return Future.failedFuture(new NotLeaderOrFollowerException("This broker stopped leading " + topicPartition()
                        + " before the records were replicated"));
            }
            if (p.isr().size() < acks.minInsyncReplicas()) {
                return Future.failedFuture(new NotEnoughReplicasAfterAppendException("The in-sync replicas of " + topicPartition() + " fell to "
                        + p.isr() + ", fewer than min.insync.replicas " + acks.minInsyncReplicas()));
            }
            return Future.failedFuture(new TimeoutException("The records of " + topicPartition() + " were not replicated to " + p.isr()
                    + " within " + acks.timeoutMs() + " ms"));
        });
    }

    /**
     * Reads whole batches from {@code offset} for a consumer: below the high watermark only (what every in-sync
     * replica has), and only on the leader; see {@link Log#read}. The result's log end offset is the high watermark.
     */
    public Future<ReadResult> read(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireLeader();
            return l.read(offset, maxBytes, minOneBatch, verticle.highWatermark());
        });
    }

    /**
     * Reads every batch from {@code from} to the log end (the high watermark for what it reads, on the leader), in
     * reads of {@code chunkBytes}, and hands each to {@code visitor} on the caller's context: how a coordinator's
     * shard rebuilds its state from its partition.
     */
    public Future<Void> replay(long from, int chunkBytes, Consumer<RecordBatch> visitor) {
        if (from >= logEndOffset()) return Future.succeededFuture();
        return read(from, chunkBytes, true).compose(rr -> {
            long next = from;
            for (RecordBatch b : MemoryRecords.readableRecords(rr.records()).batches()) {
                visitor.accept(b);
                next = b.lastOffset() + 1;
            }
            if (next == from) {
                // Nothing below the high watermark yet (a new leader whose followers have not caught up): wait for it
                // to pass, rather than read again at once.
                long at = next;
                return awaitDataAfter(at, Promise.promise().future()).compose(v -> replay(at, chunkBytes, visitor));
            }
            return replay(next, chunkBytes, visitor);
        });
    }

    /** {@link #read} as a slice of a segment file, for the zero-copy fetch path (only batch headers are read). */
    public Future<SliceResult> slice(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireLeader();
            return l.slice(offset, maxBytes, minOneBatch, verticle.highWatermark());
        });
    }

    /**
     * A consumer's read from a follower replica (KIP-392, sent here by the leader's preferred read replica): as
     * {@link #slice}, below this replica's high watermark, which the leader's fetch responses move.
     */
    public Future<SliceResult> sliceAsFollower(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireServingFollower();
            return l.slice(offset, maxBytes, minOneBatch, verticle.highWatermark());
        });
    }

    /** A read_committed consumer's read from a follower replica (KIP-392): as {@link #sliceCommitted}, below this replica's last stable offset. */
    public Future<CommittedSlice> sliceCommittedAsFollower(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireServingFollower();
            return committedSlice(l, offset, maxBytes, minOneBatch);
        });
    }

    private CommittedSlice committedSlice(Log l, long offset, int maxBytes, boolean minOneBatch) throws IOException {
        long lso = verticle.lastStableOffset();
        SliceResult rr = l.slice(offset, maxBytes, minOneBatch, lso);
        List<AbortedTxn> aborted = rr.records().size() == 0 ? List.of()
                : verticle.abortedTransactions().overlapping(offset, rr.records().lastOffset() + 1);
        return new CommittedSlice(rr, verticle.highWatermark(), aborted);
    }

    /** What a leader knows of a follower: its log start (-1: unknown) and end offsets and when it last caught up (ms). */
    public record FollowerView(int nodeId, long logStartOffset, long logEndOffset, long lastCaughtUpMs) {
    }

    /**
     * The in-sync followers the leader has heard from in this leader epoch (KIP-392's candidates for a consumer's
     * preferred read replica); empty on a follower.
     */
    public Future<List<FollowerView>> inSyncFollowers() {
        return OnContext.compose(verticle.context(), () -> Future.succeededFuture(verticle.inSyncFollowers()));
    }

    /**
     * A read_committed consumer's read (KIP-98): whole batches from {@code offset} below the last stable offset, on
     * the leader, with the aborted transactions the slice overlaps, whose records the consumer drops. The slice's
     * log end offset is the last stable offset.
     */
    public Future<CommittedSlice> sliceCommitted(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireLeader();
            return committedSlice(l, offset, maxBytes, minOneBatch);
        });
    }

    /**
     * A read_uncommitted read as a slice (below the high watermark) with the aborted transactions it overlaps: for
     * another broker that decodes the records for its HTTP and WebSocket clients and marks the aborted ones.
     */
    public Future<CommittedSlice> sliceWithAborted(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireLeader();
            SliceResult rr = l.slice(offset, maxBytes, minOneBatch, verticle.highWatermark());
            List<AbortedTxn> aborted = rr.records().size() == 0 ? List.of()
                    : verticle.abortedTransactions().overlapping(offset, rr.records().lastOffset() + 1);
            return new CommittedSlice(rr, verticle.highWatermark(), aborted);
        });
    }

    /**
     * Calls {@code listener} (on the partition's context) with the producer id and the outcome of each transaction an
     * end marker written here as leader closes; null stops. One listener: the group coordinator's shard of
     * {@code __consumer_offsets}, whose transactional offset commits become visible, or are dropped, with the marker.
     */
    public void onTransactionEnd(BiConsumer<Long, Boolean> listener) {
        verticle.onTransactionEnd(listener);
    }

    /**
     * {@link #sliceCommitted} as bytes, for readers that decode records (REST, WebSocket): whole batches below the last
     * stable offset, with the aborted transactions they overlap. The result's log end offset is the last stable offset.
     */
    public Future<CommittedRead> readCommitted(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireLeader();
            long lso = verticle.lastStableOffset();
            ReadResult rr = l.read(offset, maxBytes, minOneBatch, lso);
            return new CommittedRead(rr, rr.records().hasRemaining() ? verticle.abortedTransactions().overlapping(offset, lso) : List.of());
        });
    }

    /**
     * A read_uncommitted read (below the high watermark) with the fate of its transactions: the aborted ones it
     * overlaps and those still open, so that a viewer can tell their records apart (the console does).
     */
    public Future<CommittedRead> readWithTransactions(long offset, int maxBytes, boolean minOneBatch) {
        return call(l -> {
            verticle.requireLeader();
            long hw = verticle.highWatermark();
            ReadResult rr = l.read(offset, maxBytes, minOneBatch, hw);
            if (!rr.records().hasRemaining()) return new CommittedRead(rr, List.of());
            Map<Long, Long> open = new HashMap<>();
            verticle.openTransactions().forEach((first, pid) -> open.put(pid, first));
            return new CommittedRead(rr, verticle.abortedTransactions().overlapping(offset, hw), open);
        });
    }

    /** Where a reader of {@code committed} (read_committed) or not may read up to: the last stable offset or the high watermark. */
    public long readableEnd(boolean committed) {
        return committed ? lastStableOffset() : highWatermark();
    }

    /**
     * Completes when a reader at {@code offset} may have more to read: the high watermark passed it, or, for a
     * read_committed reader ({@code committed}), the high watermark moved at all (a marker may have moved the last
     * stable offset), since there is no wait on the last stable offset itself.
     */
    public Future<Void> awaitReadable(long offset, boolean committed, Future<?> giveUp) {
        return awaitDataAfter(committed ? Math.max(offset, highWatermark()) : offset, giveUp);
    }

    /** The last stable offset: below it every transaction is decided and replicated. Thread-safe. */
    public long lastStableOffset() {
        return verticle.lastStableOffset();
    }

    /** The state of the producers that wrote here (DescribeProducers), on the leader. */
    /**
     * Starts the check of a transactional producer's write here (KIP-890, Kafka's maybeStartTransactionVerification):
     * {@link TxnVerification#REQUIRED} when the producer has a transaction open here in {@code epoch} already (no
     * check; should a marker close it meanwhile, the append fails INVALID_TXN_STATE), else the write's guard, to
     * confirm with the coordinator and bring to {@link #append(ByteBuffer, Acks, TxnVerification)}. {@code firstSequence}
     * is the batch's (the transaction's first batch here must be the lowest of those checked), and
     * {@code supportsEpochBump} says that the producer bumps its epoch per transaction (transactions version 2).
     */
    public Future<TxnVerification> startTxnVerification(long producerId, short epoch, int firstSequence, boolean supportsEpochBump) {
        return call(l -> verticle.startTxnVerification(producerId, epoch, firstSequence, supportsEpochBump));
    }

    public Future<List<ProducerState>> producers() {
        return call(l -> {
            verticle.requireLeader();
            return verticle.producerStates().stream().map(v -> new ProducerState(v.producerId(), v.epoch(), v.lastSequence(), v.lastTimestamp(),
                    v.coordinatorEpoch(), v.txnFirstOffset())).toList();
        });
    }

    /**
     * Reads for a follower, as a slice of a segment file (zero-copy replication): up to the log end, on the leader,
     * noting the follower's position (its fetch offset).
     */
    public Future<SliceResult> sliceForReplica(int replica, long offset, int maxBytes) {
        return sliceForReplica(replica, offset, -1, maxBytes);
    }

    /** As {@link #sliceForReplica(int, long, int)}, the follower telling its log start offset (-1: unknown). */
    public Future<SliceResult> sliceForReplica(int replica, long offset, long followerLogStart, int maxBytes) {
        return call(l -> {
            verticle.requireLeader();
            checkFollowerOffset(replica, offset, l);
            verticle.followerFetched(replica, offset, followerLogStart);
            return l.slice(offset, maxBytes, true, Long.MAX_VALUE);
        });
    }

    /**
     * A follower ahead of its leader has a log that diverged (it took records of an older leader that this one never
     * had): its position must not count for the high watermark. Kafka answers the same.
     */
    private void checkFollowerOffset(int replica, long offset, Log l) {
        if (offset > l.logEndOffset()) {
            throw new OffsetOutOfRangeException("Fetch offset " + offset + " of replica " + replica
                    + " is past the log end " + l.logEndOffset() + " of " + topicPartition());
        }
    }

    /** The high watermark: records below it are on every in-sync replica and visible to consumers. Thread-safe. */
    public long highWatermark() {
        return verticle.highWatermark();
    }

    /** Where the partition lives and who leads it, as this replica last heard from the controller. Thread-safe. */
    public Placement placement() {
        return verticle.placement();
    }

    /** Whether this broker's replica leads the partition. Thread-safe. */
    public boolean isLeader() {
        return verticle.isLeader();
    }

    /**
     * Whether this broker's replica leads the partition and knows that no other does: it is the whole ISR, or an
     * in-sync follower fetched from it within {@link io.runnel.config.Limits#LEADER_LEASE_MS}. Thread-safe.
     */
    public boolean leaderInTouch() {
        return verticle.leaderInTouch();
    }

    /** Takes a placement from the controller (become leader or follower). */
    Future<Void> applyPlacement(Placement p) {
        if (verticle.offline() != null) {
            return OnContext.compose(verticle.context(), () -> {
                verticle.applyPlacementOffline(p);
                return Future.succeededFuture();
            });
        }
        return call(l -> {
            verticle.applyPlacement(p);
            return null;
        });
    }

    /** The partition's context (its event loop; its ordered worker queue for blocking work). */
    Context context() {
        return verticle.context();
    }

    /** Sends this leader's ISR changes to {@code proposals} (the controller). */
    void useIsrProposals(BiFunction<Integer, List<Integer>, Future<Integer>> proposals) {
        verticle.useIsrProposals(proposals);
    }

    /**
     * Completes when the high watermark passes {@code lastOffset}, or when {@code giveUp} completes, or at once when
     * this replica does not lead in {@code leaderEpoch} (any more) or is closing; the caller checks which.
     */
    Future<Void> awaitReplicated(long lastOffset, int leaderEpoch, Future<?> giveUp) {
        return park(giveUp, parked -> verticle.awaitReplicated(lastOffset, leaderEpoch, parked));
    }

    /**
     * Completes when the log end passes {@code offset} (a follower's long poll), or {@code giveUp} completes, or at
     * once when this replica does not lead or is closing.
     */
    public Future<Void> awaitLogEndAfter(long offset, Future<?> giveUp) {
        return park(giveUp, parked -> verticle.awaitLogEnd(offset, parked));
    }

    /** Appends batches fetched from the leader (this replica follows); returns null when there were none. */
    public Future<AppendInfo> appendFromLeader(ByteBuffer records, long leaderHighWatermark) {
        return call(l -> verticle.appendFromLeader(records, leaderHighWatermark));
    }

    /** Truncates this follower's log to {@code offset} (where it diverged from the leader's), on a worker. */
    public Future<Void> truncateTo(long offset) {
        return gated(() -> verticle.truncateTo(offset));
    }

    /** Starts this follower's log afresh at {@code offset}, the leader's log start, when it ends before it (on a worker). */
    public Future<Void> restartAt(long offset) {
        return gated(() -> verticle.restartAt(offset));
    }

    /** The newest leader epoch this replica has records of, or -1. */
    public Future<Integer> latestEpoch() {
        return call(l -> verticle.epochs().latestEpoch());
    }

    /** Where {@code epoch} ended in this log (the leader's answer to OffsetForLeaderEpoch). */
    public Future<EpochEnd> endOffsetFor(int epoch) {
        return call(l -> {
            verticle.requireLeader();
            return verticle.epochs().endOffsetFor(epoch, l.logEndOffset());
        });
    }

    /** An answer to ListOffsets: the offset, the timestamp found there (-1 for the log's ends), and its leader epoch. */
    public record ListedOffset(long timestamp, long offset, int leaderEpoch) {
    }

    /**
     * ListOffsets on this replica, as Kafka's {@code Partition.fetchOffsetForTimestamp}: for a client
     * ({@code consumer}) only the leader answers and only offsets below the high watermark count, so LATEST is the
     * high watermark and a record found by timestamp at or past it is not found; otherwise (the debugging replica id)
     * any replica answers up to its log end. The leader epoch is the current one for LATEST, the first epoch for
     * EARLIEST when it covers the log start, and the epoch the found record was written in for timestamp lookups
     * (KIP-320: the consumer validates its position against it).
     */
    public Future<Optional<ListedOffset>> listOffset(long timestamp, boolean consumer) {
        return listOffset(timestamp, consumer, false);
    }

    /** {@link #listOffset(long, boolean)}, where a read_committed client ({@code committed}) is bounded by the last stable offset. */
    public Future<Optional<ListedOffset>> listOffset(long timestamp, boolean consumer, boolean committed) {
        return call(l -> {
            if (consumer) verticle.requireLeader();
            long fetchable = !consumer ? l.logEndOffset() : committed ? verticle.lastStableOffset() : verticle.highWatermark();
            LeaderEpochCache epochs = verticle.epochs();
            if (timestamp == ListOffsetsRequest.EARLIEST_TIMESTAMP
                    || timestamp == ListOffsetsRequest.EARLIEST_LOCAL_TIMESTAMP) {
                return Optional.of(new ListedOffset(-1, l.logStartOffset(), epochs.earliestEpochCovering(l.logStartOffset())));
            }
            if (timestamp == ListOffsetsRequest.LATEST_TIMESTAMP) {
                return Optional.of(new ListedOffset(-1, fetchable, verticle.placement().leaderEpoch()));
            }
            Optional<TimestampOffset> found = timestamp == ListOffsetsRequest.MAX_TIMESTAMP ? l.maxTimestampRecord()
                    : timestamp < 0 ? Optional.empty() : l.offsetForTimestamp(timestamp);
            return found.filter(f -> f.offset() < fetchable).map(f -> new ListedOffset(f.timestamp(), f.offset(), epochs.epochForOffset(f.offset())));
        });
    }

    /**
     * Completes when the high watermark passes {@code offset} (at once if it already has): a long-poll fetch waits
     * on it instead of polling. Completes on the caller's context. When {@code giveUp} completes first (the fetch
     * answered for another reason), the parked entry is released.
     */
    public Future<Void> awaitDataAfter(long offset, Future<?> giveUp) {
        return park(giveUp, parked -> verticle.awaitHighWatermark(offset, parked));
    }

    /**
     * Parks a waiter on the partition's context with {@code parker}; {@code giveUp} completing releases the parked
     * entry. Completes on the caller's context.
     */
    private Future<Void> park(Future<?> giveUp, Consumer<Promise<Void>> parker) {
        Promise<Void> parked = Promise.promise();
        giveUp.onComplete(x -> parked.tryComplete());
        return OnContext.compose(verticle.context(), () -> {
            assert verticle.onContext() : "partition " + topicPartition() + " parked a wait off its event loop";
            parker.accept(parked);
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
        return log == null ? 0 : log.logStartOffset(); // no log: offline since start
    }

    /** The offset of the next record; a volatile read, safe from any thread. */
    public long logEndOffset() {
        return log == null ? 0 : log.logEndOffset(); // no log: offline since start
    }

    /** The fsynced offset; a volatile read, safe from any thread. */
    public long recoveryPoint() {
        return log == null ? 0 : log.recoveryPoint(); // no log: offline since start
    }

    /** Applies a changed topic configuration to this partition. */
    Future<Void> updateConfig(LogConfig config) {
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
        return gated(() -> Future.succeededFuture(call.apply(verticle.log())));
    }

    /**
     * Runs {@code op} on the partition's context once no exclusive operation (a follower's truncation on a worker)
     * holds the log; calls that arrive meanwhile wait for it, in order.
     */
    private <T> Future<T> gated(Callable<Future<T>> op) {
        return OnContext.compose(verticle.context(), () -> whenFree(op));
    }

    private <T> Future<T> whenFree(Callable<Future<T>> op) {
        assert verticle.onContext() : "partition " + topicPartition() + " called off its event loop";
        Future<Void> busy = verticle.exclusive();
        if (busy != null) return busy.transform(x -> whenFree(op));
        if (verticle.stopping()) {
            // Deleted, reassigned away or shutting down: its log is closed; a client asks the metadata again.
            return Future.failedFuture(new NotLeaderOrFollowerException("This broker's replica of "
                    + topicPartition() + " is closing"));
        }
        String offline = verticle.offline();
        if (offline != null) return Future.failedFuture(offlineError(offline));
        try {
            return op.call().recover(e -> e instanceof IOException io ? storageFailure(io)
                    : e instanceof UncheckedIOException u ? storageFailure(u.getCause()) : Future.failedFuture(e));
        } catch (IOException e) {
            return storageFailure(e);
        } catch (Exception e) {
            return Future.failedFuture(e);
        }
    }

    /**
     * KAFKA_STORAGE_ERROR, which clients retry (Kafka answers so for a log directory it cannot write). A full disk
     * (or another error that passes by itself, {@link DiskErrors#transientReason}) only refuses the call (nothing of a
     * failed append counts, Segment#append, so a retry is safe); any other I/O error takes this replica offline
     * ({@link PartitionVerticle#goOffline}).
     */
    private <T> Future<T> storageFailure(IOException e) {
        String passing = DiskErrors.transientReason(e);
        if (passing != null) {
            return Future.failedFuture(new KafkaStorageException("Storage of " + topicPartition() + " refused the call (" + passing + "): "
                    + e.getMessage(), e));
        }
        verticle.goOffline(e);
        return Future.failedFuture(offlineError(e.toString()));
    }

    private KafkaStorageException offlineError(String reason) {
        return new KafkaStorageException("The replica of " + topicPartition() + " on this broker is offline after an I/O error (" + reason
                + "); it serves again once the broker restarts with the disk repaired");
    }

    /** Why this replica is offline after an I/O error (it then serves nothing until the broker restarts), or null. */
    public String offline() {
        return verticle.offline();
    }
}
