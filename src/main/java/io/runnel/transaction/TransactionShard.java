package io.runnel.transaction;

import io.runnel.config.Limits;
import io.runnel.partition.Acks;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
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
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.ProducerFencedException;
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
                .recover(e -> Future.failedFuture(e instanceof NotLeaderOrFollowerException
                        ? new NotCoordinatorException("This broker stopped coordinating the transaction: " + e.getMessage()) : e))
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

    Future<ProducerIdEpoch> initProducerId(String id, int timeoutMs, long requestPid, short requestEpoch) {
        assert onContext() : "transaction shard called off its event loop";
        if (timeoutMs <= 0 || timeoutMs > settings.maxTimeoutMs()) {
            return Future.failedFuture(new InvalidTxnTimeoutException("transaction.timeout.ms " + timeoutMs + " is not within (0, "
                    + settings.maxTimeoutMs() + "] (transaction.max.timeout.ms)"));
        }
        TxnMetadata m = txns.get(id);
        long now = time.milliseconds();
        if (m == null) {
            return exclusively(id, () -> producerIds.get().compose(pid -> store(new TxnMetadata(id, pid, RecordBatch.NO_PRODUCER_ID, (short) 0,
                    RecordBatch.NO_PRODUCER_EPOCH, timeoutMs, TxnState.EMPTY, Set.of(), -1, now)))).map(TransactionShard::idAndEpoch);
        }
        if (requestPid != RecordBatch.NO_PRODUCER_ID) {
            boolean current = requestPid == m.producerId() && requestEpoch == m.producerEpoch();
            // KIP-360: this producer's previous InitProducerId bumped the epoch but the answer was lost.
            boolean retried = requestPid == m.producerId() && requestEpoch == m.lastProducerEpoch() && m.state().idle() && !pending.contains(id);
            if (retried) return Future.succeededFuture(idAndEpoch(m));
            if (!current) {
                return Future.failedFuture(new ProducerFencedException("Producer " + requestPid + " with epoch " + requestEpoch
                        + " is not the current producer of " + id));
            }
        }
        if (m.state().preparing() || pending.contains(id)) {
            return Future.failedFuture(new ConcurrentTransactionsException("The last transaction of " + id + " is still being completed"));
        }
        if (m.state() == TxnState.ONGOING) {
            // A new producer instance: the old one's open transaction is aborted, its epoch fenced; the new one retries.
            TxnMetadata fenced = m.bumped(now).with(TxnState.PREPARE_ABORT, m.partitions(), m.txnStartTimestamp(), now);
            LOG.info("Transactional id {}: aborting the open transaction of the previous producer (epoch {})", id, m.producerEpoch());
            return exclusively(id, () -> store(fenced)).compose(stored -> {
                complete(stored);
                return Future.failedFuture(new ConcurrentTransactionsException("The previous producer's transaction of " + id + " is being aborted"));
            });
        }
        return exclusively(id, () -> {
            if (m.producerEpoch() >= Short.MAX_VALUE - 1) {
                // The epoch is exhausted: a new producer id, epoch 0 (Kafka does the same).
                return producerIds.get().compose(pid -> store(new TxnMetadata(id, pid, m.producerId(), (short) 0, m.producerEpoch(), timeoutMs,
                        TxnState.EMPTY, Set.of(), -1, now)));
            }
            return store(new TxnMetadata(id, m.producerId(), m.producerId(), (short) (m.producerEpoch() + 1), m.producerEpoch(), timeoutMs,
                    TxnState.EMPTY, Set.of(), -1, now));
        }).map(TransactionShard::idAndEpoch);
    }

    private static ProducerIdEpoch idAndEpoch(TxnMetadata m) {
        return new ProducerIdEpoch(m.producerId(), m.producerEpoch());
    }

    /** The id's metadata when {@code producerId} and {@code epoch} are its current producer's; else Kafka's error. */
    private TxnMetadata current(String id, long producerId, short epoch) {
        TxnMetadata m = txns.get(id);
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

    /** Adds partitions to the id's transaction, opening it if none is open. */
    Future<Void> addPartitions(String id, long producerId, short epoch, Set<TopicPartition> partitions) {
        assert onContext() : "transaction shard called off its event loop";
        return currentFuture(id, producerId, epoch).compose(m -> addPartitions(m, partitions));
    }

    private Future<Void> addPartitions(TxnMetadata m, Set<TopicPartition> partitions) {
        String id = m.transactionalId();
        if (pending.contains(id) || m.state().preparing()) {
            return Future.failedFuture(new ConcurrentTransactionsException("The last transaction of " + id + " is still being completed"));
        }
        if (m.state() == TxnState.ONGOING && m.partitions().containsAll(partitions)) return Future.succeededFuture();
        long now = time.milliseconds();
        Set<TopicPartition> all = new LinkedHashSet<>(m.state() == TxnState.ONGOING ? m.partitions() : Set.of());
        all.addAll(partitions);
        long start = m.state() == TxnState.ONGOING ? m.txnStartTimestamp() : now;
        return exclusively(id, () -> store(m.with(TxnState.ONGOING, all, start, now))).mapEmpty();
    }

    // ------------------------------------------------------------------------------------ EndTxn

    /**
     * Ends the id's transaction: answered once the decision is stored; the markers follow. A retried EndTxn whose
     * decision was already taken is answered at once (or told to retry while its markers are written).
     */
    Future<Void> endTransaction(String id, long producerId, short epoch, boolean commit) {
        assert onContext() : "transaction shard called off its event loop";
        return currentFuture(id, producerId, epoch).compose(m -> endTransaction(m, commit));
    }

    private Future<Void> endTransaction(TxnMetadata m, boolean commit) {
        String id = m.transactionalId();
        TxnState state = m.state();
        boolean committing = state == TxnState.PREPARE_COMMIT || state == TxnState.COMPLETE_COMMIT;
        boolean aborting = state == TxnState.PREPARE_ABORT || state == TxnState.COMPLETE_ABORT;
        if (committing || aborting) {
            if (committing != commit) return Future.failedFuture(cannotEnd(id, commit, state));
            // A retried EndTxn: answered at once when its markers are written, else told to retry.
            if (state == TxnState.COMPLETE_COMMIT || state == TxnState.COMPLETE_ABORT) return Future.succeededFuture();
            return Future.failedFuture(new ConcurrentTransactionsException("The transaction of " + id + " is being completed"));
        }
        if (state != TxnState.ONGOING) return Future.failedFuture(cannotEnd(id, commit, state));
        if (pending.contains(id)) {
            return Future.failedFuture(new ConcurrentTransactionsException("Transactional id " + id + " has a change in progress"));
        }
        long now = time.milliseconds();
        TxnMetadata decided = m.with(commit ? TxnState.PREPARE_COMMIT : TxnState.PREPARE_ABORT, m.partitions(), m.txnStartTimestamp(), now);
        return exclusively(id, () -> store(decided)).map(stored -> {
            complete(stored);
            return null;
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
        String id = decided.transactionalId();
        if (stopped) return;
        boolean commit = decided.state() == TxnState.PREPARE_COMMIT;
        Future<Set<TopicPartition>> round = remaining.isEmpty() ? Future.succeededFuture(Set.of())
                : markers.write(decided.producerId(), decided.producerEpoch(), coordinatorEpoch, commit, Set.copyOf(remaining));
        round.onComplete(ar -> {
            if (ar.succeeded()) remaining.removeAll(ar.result());
            else LOG.debug("Writing the markers of {} failed; retrying", id, ar.cause());
            if (!remaining.isEmpty()) {
                vertx.setTimer(Limits.TXN_MARKER_RETRY_MS, t -> writeMarkers(decided, remaining));
                return;
            }
            long now = time.milliseconds();
            store(decided.with(commit ? TxnState.COMPLETE_COMMIT : TxnState.COMPLETE_ABORT, Set.of(), decided.txnStartTimestamp(), now))
                    .onComplete(done -> {
                        pending.remove(id);
                        if (done.failed()) LOG.warn("Storing the completion of {}'s transaction failed", id, done.cause());
                    });
        });
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
                TxnMetadata fenced = m.bumped(now).with(TxnState.PREPARE_ABORT, m.partitions(), m.txnStartTimestamp(), now);
                exclusively(m.transactionalId(), () -> store(fenced)).onSuccess(this::complete)
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
