package io.runnel.transaction;

import io.runnel.config.Limits;
import io.runnel.partition.Acks;
import io.runnel.partition.CoordinatorWrites;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ConcurrentTransactionsException;
import org.apache.kafka.common.errors.InvalidPidMappingException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.InvalidTxnTimeoutException;
import org.apache.kafka.common.errors.NotCoordinatorException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transaction coordinator of one {@code __transaction_state} partition, on its own event loop while this broker
 * leads the partition (as {@code GroupShard} for groups): the transactional ids that hash to it, rebuilt from the
 * partition at start, and Kafka's state machine for them (its {@code TransactionCoordinator}, transactions version 1):
 * <ul>
 *   <li>InitProducerId hands out a producer id and epoch for an id, bumping the epoch each time (which fences the
 *       producer that held the previous one); an open transaction of the previous producer is aborted first, and the
 *       new producer retries until that is done (CONCURRENT_TRANSACTIONS). KIP-360: a producer that sends its id and
 *       epoch gets them bumped, or gets the current ones back when its previous call did bump them.</li>
 *   <li>AddPartitionsToTxn opens the transaction (ONGOING) and records the partitions it writes to.</li>
 *   <li>EndTxn stores the decision (PREPARE_COMMIT or PREPARE_ABORT) and answers; the markers are then written to
 *       every partition of the transaction ({@link MarkerWriter}), retried until each is written, and the transaction
 *       is stored as COMPLETE_COMMIT or COMPLETE_ABORT. A coordinator that takes over finishes what its predecessor
 *       had decided.</li>
 *   <li>Every {@code transaction.abort.timed.out.transaction.cleanup.interval.ms}, transactions open for longer than
 *       their timeout are aborted with the epoch bumped (their producer is fenced), and ids idle for
 *       {@code transactional.id.expiration.ms} are removed.</li>
 * </ul>
 * Every change is stored in the partition with acks=all before it takes effect or is answered; a request for an id
 * with a change in flight gets CONCURRENT_TRANSACTIONS, which clients retry.
 */
final class TransactionShard extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionShard.class);

    private final PartitionHandle partition;
    private final TransactionSettings settings;
    private final int minIsr;
    private final Time time;
    private final Supplier<Future<Long>> producerIds;
    private final MarkerWriter markers;
    private final Map<String, TxnMetadata> txns = new HashMap<>();
    /** Ids with a change or a round of markers in flight. */
    private final Set<String> pending = new HashSet<>();
    private int coordinatorEpoch;
    private long timer = -1;
    private volatile boolean stopped;

    TransactionShard(PartitionHandle partition, TransactionSettings settings, int minIsr, Time time, Supplier<Future<Long>> producerIds,
                     MarkerWriter markers) {
        this.partition = partition;
        this.settings = settings;
        this.minIsr = minIsr;
        this.time = time;
        this.producerIds = producerIds;
        this.markers = markers;
    }

    Context context() {
        return context;
    }

    private boolean onContext() {
        return Vertx.currentContext() == context;
    }

    @Override
    public Future<?> start() {
        // Kafka's coordinator epoch is the leader epoch of the coordinator's partition: markers from a deposed
        // coordinator are refused by the partitions (TRANSACTION_COORDINATOR_FENCED).
        coordinatorEpoch = partition.placement().leaderEpoch();
        return load(partition.logStartOffset()).onSuccess(v -> {
            for (TxnMetadata m : List.copyOf(txns.values())) if (m.state() == TxnState.PREPARE_COMMIT || m.state() == TxnState.PREPARE_ABORT) complete(m);
            timer = vertx.setPeriodic(settings.abortTimedOutIntervalMs(), id -> expire());
        });
    }

    @Override
    public Future<?> stop() {
        stopped = true;
        if (timer >= 0) vertx.cancelTimer(timer);
        return Future.succeededFuture();
    }

    /** Replays the partition: the latest record per id wins. */
    private Future<Void> load(long from) {
        return partition.replay(from, Limits.GROUP_LOAD_READ_BYTES, b -> {
            for (Record r : b) {
                TxnRecords.Entry e = TxnRecords.decode(r);
                if (e == null) continue;
                if (e.metadata() == null) txns.remove(e.transactionalId());
                else txns.put(e.transactionalId(), e.metadata());
            }
        }).onSuccess(v -> {
            if (!txns.isEmpty()) LOG.info("Loaded {} transactional id(s) from {}", txns.size(), partition.topicPartition());
        });
    }

    /** Stores {@code next} (acks=all) and then takes it as the id's metadata. */
    private Future<TxnMetadata> store(TxnMetadata next) {
        return partition.append(TxnRecords.batch(List.of(next), time.milliseconds()), Acks.all(minIsr, Limits.OFFSET_COMMIT_TIMEOUT_MS))
                .recover(e -> CoordinatorWrites.<io.runnel.log.value.AppendInfo>failed(e, "the transaction"))
                .map(info -> {
                    if (next.state() == TxnState.DEAD) txns.remove(next.transactionalId());
                    else txns.put(next.transactionalId(), next);
                    return next;
                });
    }

    /** Runs {@code change} with the id marked busy: other requests for it meanwhile get CONCURRENT_TRANSACTIONS. */
    private <T> Future<T> exclusively(String id, Supplier<Future<T>> change) {
        if (!pending.add(id)) {
            return Future.failedFuture(new ConcurrentTransactionsException("Transactional id " + id + " has a change in progress"));
        }
        Future<T> f;
        try {
            f = change.get();
        } catch (RuntimeException e) {
            f = Future.failedFuture(e);
        }
        return f.andThen(ar -> pending.remove(id));
    }

    // ------------------------------------------------------------------------------------ InitProducerId

    /**
     * InitProducerId for {@code id} (Kafka's {@code handleInitProducerId}): a new id gets a new producer id at epoch 0;
     * otherwise the epoch is bumped (a new producer id once it is exhausted), which fences the previous producer. A
     * request that carries the producer's id and epoch (KIP-360) gets them bumped, or, when its previous call did bump
     * them and the answer was lost, the current ones back; an open transaction of the previous producer is aborted
     * first and the caller retries (CONCURRENT_TRANSACTIONS).
     */
    Future<ProducerIdEpoch> initProducerId(String id, int timeoutMs, long requestPid, short requestEpoch) {
        assert onContext() : "transaction shard called off its event loop";
        if (timeoutMs <= 0 || timeoutMs > settings.maxTimeoutMs()) {
            return Future.failedFuture(new InvalidTxnTimeoutException("transaction.timeout.ms " + timeoutMs + " is not within (0, "
                    + settings.maxTimeoutMs() + "] (transaction.max.timeout.ms)"));
        }
        TxnMetadata m = txns.get(id);
        long now = time.milliseconds();
        boolean expected = requestPid != RecordBatch.NO_PRODUCER_ID;
        if (m == null) {
            return exclusively(id, () -> producerIds.get().compose(pid -> store(TxnMetadata.fresh(id, pid, RecordBatch.NO_PRODUCER_ID, (short) 0,
                    timeoutMs, now)))).map(TransactionShard::idAndEpoch);
        }
        if (pending.contains(id) || m.state().preparing()) {
            return Future.failedFuture(new ConcurrentTransactionsException("The last transaction of " + id + " is still being completed"));
        }
        // Kafka's isValidProducerId: the current producer id, or the previous one with an exhausted epoch (a retry after
        // the id was rotated).
        if (expected && m.producerEpoch() != RecordBatch.NO_PRODUCER_EPOCH && requestPid != m.producerId()
                && !(requestPid == m.lastProducerId() && requestEpoch >= Short.MAX_VALUE - 1)) {
            return Future.failedFuture(new ProducerFencedException("Producer " + requestPid + " is not the current producer of " + id));
        }
        if (m.state() == TxnState.ONGOING) {
            // A new producer instance: the old one's open transaction is aborted, its epoch fenced; the new one retries.
            LOG.info("Transactional id {}: aborting the open transaction of the previous producer (epoch {})", id, m.producerEpoch());
            return exclusively(id, () -> store(fenced(m, now))).compose(stored -> {
                complete(stored);
                return Future.failedFuture(new ConcurrentTransactionsException("The previous producer's transaction of " + id + " is being aborted"));
            });
        }
        if (m.epochExhausted() && (!expected || requestEpoch == m.producerEpoch())) {
            // The epoch is exhausted: a new producer id at epoch 0 (Kafka's prepareProducerIdRotation); the previous
            // epoch is kept only for a producer that asked, so that its retry is recognised.
            short last = expected ? m.producerEpoch() : RecordBatch.NO_PRODUCER_EPOCH;
            return exclusively(id, () -> producerIds.get().compose(pid -> store(new TxnMetadata(id, pid, m.producerId(), (short) 0, last, timeoutMs,
                    TxnState.EMPTY, Set.of(), -1, now, m.clientTransactionVersion(), RecordBatch.NO_PRODUCER_ID)))).map(TransactionShard::idAndEpoch);
        }
        // Kafka's prepareIncrementProducerEpoch.
        short epoch;
        short last;
        if (!expected) {
            // A new producer instance: no previous epoch, so that the fenced one cannot pass for a retry.
            epoch = (short) (m.producerEpoch() + 1);
            last = RecordBatch.NO_PRODUCER_EPOCH;
        } else if (m.producerEpoch() == RecordBatch.NO_PRODUCER_EPOCH || requestEpoch == m.producerEpoch()) {
            epoch = (short) (m.producerEpoch() + 1);
            last = m.producerEpoch();
        } else if (requestEpoch == m.lastProducerEpoch()) {
            return Future.succeededFuture(idAndEpoch(m)); // KIP-360: the previous call bumped the epoch and its answer was lost
        } else {
            return Future.failedFuture(new ProducerFencedException("Producer " + requestPid + " with epoch " + requestEpoch
                    + " is not the current producer of " + id));
        }
        TxnMetadata next = new TxnMetadata(id, m.producerId(), m.lastProducerId(), epoch, last, timeoutMs, TxnState.EMPTY, Set.of(), -1, now,
                m.clientTransactionVersion(), RecordBatch.NO_PRODUCER_ID);
        return exclusively(id, () -> store(next)).map(TransactionShard::idAndEpoch);
    }

    private static ProducerIdEpoch idAndEpoch(TxnMetadata m) {
        return new ProducerIdEpoch(m.producerId(), m.producerEpoch());
    }

    /**
     * The open transaction of {@code m} decided for abort by the coordinator itself, its producer fenced (Kafka's
     * epoch fence): the epoch is bumped once, and once more when the coordinator runs transactions version 2 (which
     * bumps at every end), so that the fenced producer's epoch is not taken for a retry of its own EndTxn.
     */
    private TxnMetadata fenced(TxnMetadata m, long now) {
        // Near the end of the epoch range a version 2 fence cannot bump twice: it is then stored as a version 1 one
        // (one bump, no previous epoch), which no EndTxn can pass for a retry; the next InitProducerId rotates the id.
        boolean v2 = settings.version() >= TxnMetadata.TV_2 && m.producerEpoch() <= Short.MAX_VALUE - 2;
        int bump = Math.min(v2 ? 2 : 1, Short.MAX_VALUE - m.producerEpoch());
        short epoch = (short) (m.producerEpoch() + bump);
        short last = v2 ? (short) (epoch - 1) : RecordBatch.NO_PRODUCER_EPOCH;
        return m.withEpochs(epoch, last, now).withVersion(v2 ? TxnMetadata.TV_2 : TxnMetadata.TV_1)
                .with(TxnState.PREPARE_ABORT, m.partitions(), m.txnStartTimestamp(), now);
    }

    /**
     * The id's metadata when {@code producerId} and {@code epoch} are its current producer's; else Kafka's error
     * (CONCURRENT_TRANSACTIONS for the producer id that takes over once the transaction being completed is).
     */
    private TxnMetadata current(String id, long producerId, short epoch) {
        TxnMetadata m = txns.get(id);
        if (m != null && m.producerId() != producerId && m.nextProducerId() == producerId && m.state().preparing()) {
            throw new ConcurrentTransactionsException("The last transaction of " + id + " is still being completed");
        }
        if (m == null || m.producerId() != producerId) {
            throw new InvalidPidMappingException("Producer id " + producerId + " does not belong to transactional id " + id);
        }
        if (epoch != m.producerEpoch()) {
            throw new ProducerFencedException("Producer epoch " + epoch + " of " + id + " is not the current " + m.producerEpoch());
        }
        return m;
    }

    /** {@link #current} as a future: its error fails it. */
    private Future<TxnMetadata> currentFuture(String id, long producerId, short epoch) {
        try {
            return Future.succeededFuture(current(id, producerId, epoch));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    // ------------------------------------------------------------------------------------ AddPartitionsToTxn

    /**
     * Adds partitions to the id's transaction, opening it if none is open: for the producer (transactions version 1,
     * AddPartitionsToTxn up to v3 and AddOffsetsToTxn) or for a partition leader or the group coordinator on the
     * producer's behalf (version 2, the broker form with {@code verifyOnly} false, and TxnOffsetCommit v5).
     */
    Future<Void> addPartitions(String id, long producerId, short epoch, Set<TopicPartition> partitions, byte clientVersion) {
        assert onContext() : "transaction shard called off its event loop";
        return currentFuture(id, producerId, epoch).compose(m -> addPartitions(m, partitions, clientVersion));
    }

    private Future<Void> addPartitions(TxnMetadata m, Set<TopicPartition> partitions, byte clientVersion) {
        String id = m.transactionalId();
        if (pending.contains(id) || m.state().preparing()) {
            return Future.failedFuture(new ConcurrentTransactionsException("The last transaction of " + id + " is still being completed"));
        }
        if (m.state() == TxnState.ONGOING && m.partitions().containsAll(partitions)) return Future.succeededFuture();
        long now = time.milliseconds();
        boolean open = m.state() == TxnState.ONGOING;
        Set<TopicPartition> all = new LinkedHashSet<>(open ? m.partitions() : Set.of());
        all.addAll(partitions);
        long start = open ? m.txnStartTimestamp() : now;
        TxnMetadata next = (open ? m : m.withVersion(clientVersion)).with(TxnState.ONGOING, all, start, now);
        return exclusively(id, () -> store(next)).mapEmpty();
    }

    /**
     * Whether each partition is in the id's open transaction (the broker form of AddPartitionsToTxn with
     * {@code verifyOnly}, KIP-890 part 1): NONE, or TRANSACTION_ABORTABLE for a partition that is not; the whole request
     * fails with INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED or CONCURRENT_TRANSACTIONS (Kafka's
     * {@code handleVerifyPartitionsInTransaction}).
     */
    Future<Map<TopicPartition, Errors>> verify(String id, long producerId, short epoch, Set<TopicPartition> partitions) {
        assert onContext() : "transaction shard called off its event loop";
        return currentFuture(id, producerId, epoch).compose(m -> {
            if (m.state().preparing() || pending.contains(id)) {
                return Future.failedFuture(new ConcurrentTransactionsException("The last transaction of " + id + " is still being completed"));
            }
            Map<TopicPartition, Errors> out = new LinkedHashMap<>();
            for (TopicPartition tp : partitions) out.put(tp, m.partitions().contains(tp) ? Errors.NONE : Errors.TRANSACTION_ABORTABLE);
            return Future.succeededFuture(out);
        });
    }

    // ------------------------------------------------------------------------------------ EndTxn

    /**
     * Ends the id's transaction (Kafka's {@code endTransaction}): answered once the decision is stored, the markers
     * following. Under transactions version 2 ({@code clientVersion} 2, EndTxn v5) every end bumps the epoch, and the
     * answer carries the producer id and epoch for the next transaction; a retried EndTxn is recognised by its epoch
     * being one below the current one (or by the exhausted epoch of the producer id that was replaced), and an abort with
     * the current epoch when no transaction is open still bumps it, fencing any write of the producer still in flight.
     * Under version 1 a retried EndTxn is recognised by the state alone.
     */
    Future<ProducerIdEpoch> endTransaction(String id, long producerId, short epoch, boolean commit, byte clientVersion) {
        assert onContext() : "transaction shard called off its event loop";
        TxnMetadata m = txns.get(id);
        if (m == null) return Future.failedFuture(new InvalidPidMappingException("Transactional id " + id + " has no producer id"));
        TxnState state = m.state();
        boolean v2 = m.v2();
        boolean retryOnOverflow = v2 && m.lastProducerId() == producerId && epoch == Short.MAX_VALUE - 1 && m.producerEpoch() == 0;
        boolean retryOnBump = v2 && m.producerEpoch() == epoch + 1;
        boolean retry = retryOnBump || retryOnOverflow;
        boolean validEpoch;
        if (v2) {
            validEpoch = switch (state) {
                case ONGOING, EMPTY, DEAD, PREPARE_EPOCH_FENCE -> epoch == m.producerEpoch();
                case PREPARE_COMMIT, PREPARE_ABORT -> retryOnBump;
                case COMPLETE_COMMIT, COMPLETE_ABORT -> retry || epoch == m.producerEpoch();
            };
        } else {
            validEpoch = epoch == m.producerEpoch();
        }
        // As Kafka 4: a change in progress (the markers of the last transaction, say) is waited for first, so that a
        // producer that already holds the epoch or producer id it leads to is told to retry rather than fenced.
        if (pending.contains(id)) {
            return Future.failedFuture(new ConcurrentTransactionsException("Transactional id " + id + " has a change in progress"));
        }
        if (m.producerId() != producerId && !retryOnOverflow) {
            return Future.failedFuture(new InvalidPidMappingException("Producer id " + producerId + " does not belong to transactional id " + id));
        }
        if (!validEpoch) {
            return Future.failedFuture(new ProducerFencedException("Producer epoch " + epoch + " of " + id + " is not the current " + m.producerEpoch()));
        }
        boolean requestV2 = clientVersion >= TxnMetadata.TV_2;
        switch (state) {
            case ONGOING:
                return prepare(m, commit, requestV2);
            case COMPLETE_COMMIT:
                if (commit) return retry || !v2 ? Future.succeededFuture(idAndEpoch(m)) : Future.failedFuture(cannotEnd(id, true, state));
                return v2 && !retry ? prepare(m, false, requestV2) : Future.failedFuture(cannotEnd(id, false, state));
            case COMPLETE_ABORT:
                if (commit) return Future.failedFuture(cannotEnd(id, true, state));
                return retry || !v2 ? Future.succeededFuture(idAndEpoch(m)) : prepare(m, false, requestV2);
            case PREPARE_COMMIT:
            case PREPARE_ABORT:
                // A retried EndTxn while the markers are written: the client retries until they are.
                if (commit == (state == TxnState.PREPARE_COMMIT)) {
                    return Future.failedFuture(new ConcurrentTransactionsException("The transaction of " + id + " is being completed"));
                }
                return Future.failedFuture(cannotEnd(id, commit, state));
            case EMPTY:
                // Version 2: an abort before any partition joined still bumps the epoch (a write may be on its way).
                if (!commit && requestV2) return prepare(m, false, true);
                return Future.failedFuture(cannotEnd(id, commit, state));
            default:
                return Future.failedFuture(cannotEnd(id, commit, state));
        }
    }

    /**
     * Stores the decision (PREPARE_COMMIT or PREPARE_ABORT) and starts the markers; under version 2 with the epoch
     * bumped, and with a new producer id to take over when the bump exhausts the epoch. Answers the producer id and
     * epoch for the producer's next transaction.
     */
    private Future<ProducerIdEpoch> prepare(TxnMetadata m, boolean commit, boolean v2) {
        String id = m.transactionalId();
        long now = time.milliseconds();
        TxnState next = commit ? TxnState.PREPARE_COMMIT : TxnState.PREPARE_ABORT;
        Set<TopicPartition> partitions = m.state() == TxnState.ONGOING ? m.partitions() : Set.of();
        long start = m.state() == TxnState.ONGOING ? m.txnStartTimestamp() : now;
        if (v2 && m.producerEpoch() == Short.MAX_VALUE) {
            // Only a coordinator's own fence reaches the last epoch, and it gives no producer that epoch.
            return Future.failedFuture(new ProducerFencedException("Producer epoch of " + id + " is exhausted"));
        }
        return exclusively(id, () -> {
            if (!v2) return store(m.withVersion(TxnMetadata.TV_1).with(next, partitions, start, now));
            Future<Long> nextPid = m.epochExhausted() ? producerIds.get() : Future.succeededFuture(RecordBatch.NO_PRODUCER_ID);
            return nextPid.compose(pid -> store(m.bumped(now).withVersion(TxnMetadata.TV_2).withNextProducerId(pid).with(next, partitions, start, now)));
        }).map(stored -> {
            complete(stored);
            // The producer's next transaction runs with the bumped epoch, or at epoch 0 of the new producer id.
            return stored.nextProducerId() != RecordBatch.NO_PRODUCER_ID ? new ProducerIdEpoch(stored.nextProducerId(), (short) 0) : idAndEpoch(stored);
        });
    }

    private static InvalidTxnStateException cannotEnd(String id, boolean commit, TxnState state) {
        return new InvalidTxnStateException("Transactional id " + id + " cannot " + (commit ? "commit" : "abort") + " in state " + state.kafkaName());
    }

    /**
     * Writes the markers of a decided transaction to its partitions until each has one (retrying the others every
     * {@link Limits#TXN_MARKER_RETRY_MS}), then stores it as complete. Stops when this shard stops: the next
     * coordinator of the partition finishes from the stored decision.
     */
    private void complete(TxnMetadata decided) {
        if (!pending.add(decided.transactionalId())) return;
        writeMarkers(decided, new LinkedHashSet<>(decided.partitions()));
    }

    private void writeMarkers(TxnMetadata decided, Set<TopicPartition> remaining) {
        writeMarkers(decided, remaining, 0);
    }

    /** {@code storeFailures}: how often storing the completion failed so far (its retries back off, and log once). */
    private void writeMarkers(TxnMetadata decided, Set<TopicPartition> remaining, int storeFailures) {
        String id = decided.transactionalId();
        if (stopped) return;
        boolean commit = decided.state() == TxnState.PREPARE_COMMIT;
        Future<Set<TopicPartition>> round = remaining.isEmpty() ? Future.succeededFuture(Set.of())
                : markers.write(decided.producerId(), decided.producerEpoch(), coordinatorEpoch, commit, decided.clientTransactionVersion(),
                Set.copyOf(remaining));
        round.onComplete(ar -> {
            if (ar.succeeded()) remaining.removeAll(ar.result());
            else LOG.debug("Writing the markers of {} failed; retrying", id, ar.cause());
            if (!remaining.isEmpty()) {
                vertx.setTimer(Limits.TXN_MARKER_RETRY_MS, t -> writeMarkers(decided, remaining, storeFailures));
                return;
            }
            store(completed(decided, time.milliseconds())).onComplete(done -> {
                if (done.failed() && !stopped && !(done.cause() instanceof NotCoordinatorException)) {
                    // As Kafka's marker channel retries the log append (TransactionMarkerChannelManager): left undone,
                    // the transaction stayed prepared for good, its producer got CONCURRENT_TRANSACTIONS on every
                    // call and read_committed readers waited at its first offset. The id stays busy meanwhile.
                    long backoffMs = Math.min(Limits.TXN_MARKER_RETRY_MS << Math.min(storeFailures, 5), Limits.TXN_COMPLETION_RETRY_MAX_MS);
                    if (storeFailures == 0) {
                        LOG.warn("Storing the completion of {}'s transaction failed; trying again until it is stored: {}", id, done.cause().toString());
                    } else {
                        LOG.debug("Storing the completion of {}'s transaction failed again ({} times)", id, storeFailures + 1, done.cause());
                    }
                    vertx.setTimer(backoffMs, t -> writeMarkers(decided, remaining, storeFailures + 1));
                    return;
                }
                pending.remove(id);
                // Not the coordinator any more: the next one completes the transaction from the stored decision.
                if (done.failed()) LOG.info("Storing the completion of {}'s transaction failed: {}", id, done.cause().toString());
            });
        });
    }

    /**
     * The transaction whose markers are all written, complete (Kafka's {@code prepareComplete}): a producer id that
     * replaces an exhausted one takes over at epoch 0.
     */
    private static TxnMetadata completed(TxnMetadata decided, long now) {
        TxnState done = decided.state() == TxnState.PREPARE_COMMIT ? TxnState.COMPLETE_COMMIT : TxnState.COMPLETE_ABORT;
        boolean rotate = decided.v2() && decided.nextProducerId() != RecordBatch.NO_PRODUCER_ID;
        // The previous epoch stays what the decision made it (Kafka 4's prepareComplete): under version 2 the epoch the
        // producer held before EndTxn's bump, so that its InitProducerId with that epoch is taken for a retry of a
        // successful call; after a coordinator's fence, none. On rotation, the exhausted epoch's last (MAX - 1).
        short last = rotate ? (short) (decided.producerEpoch() - 1) : decided.lastProducerEpoch();
        return new TxnMetadata(decided.transactionalId(), rotate ? decided.nextProducerId() : decided.producerId(),
                rotate ? decided.producerId() : decided.lastProducerId(), rotate ? 0 : decided.producerEpoch(), last,
                decided.timeoutMs(), done, Set.of(), decided.txnStartTimestamp(), now, decided.clientTransactionVersion(), RecordBatch.NO_PRODUCER_ID);
    }

    // ------------------------------------------------------------------------------------ timeouts, expiry

    /** Aborts transactions open past their timeout (fencing their producer) and removes expired ids. */
    private void expire() {
        long now = time.milliseconds();
        List<TxnMetadata> expired = new ArrayList<>();
        for (TxnMetadata m : txns.values()) {
            if (pending.contains(m.transactionalId())) continue;
            if (m.timedOut(now)) {
                LOG.info("Transaction of {} (producer {}, epoch {}) timed out after {} ms; aborting it", m.transactionalId(), m.producerId(),
                        m.producerEpoch(), m.timeoutMs());
                exclusively(m.transactionalId(), () -> store(fenced(m, now))).onSuccess(this::complete)
                        .onFailure(e -> LOG.warn("Aborting the timed-out transaction of {} failed", m.transactionalId(), e));
            } else if (m.state().idle() && now - m.lastUpdateTimestamp() > settings.idExpirationMs()) {
                expired.add(m.with(TxnState.DEAD, Set.of(), -1, now));
            }
        }
        for (TxnMetadata dead : expired) {
            exclusively(dead.transactionalId(), () -> store(dead))
                    .onFailure(e -> LOG.debug("Expiring transactional id {} failed", dead.transactionalId(), e));
        }
    }

    // ------------------------------------------------------------------------------------ administration

    /** The id's metadata, or null. */
    TxnMetadata describe(String id) {
        return txns.get(id);
    }

    /** Every id's metadata. */
    List<TxnMetadata> list() {
        return List.copyOf(txns.values());
    }
}
