package io.runnel.http;

import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.http.Publisher.Result;
import io.runnel.http.RecordJson.Outgoing;
import io.runnel.log.value.AppendInfo;
import io.runnel.partition.Acks;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TxnVerification;
import io.runnel.transaction.ProducerIdEpoch;
import io.runnel.transaction.TxnVerifier;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.ConcurrentTransactionsException;
import org.apache.kafka.common.errors.CoordinatorLoadInProgressException;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.InvalidPidMappingException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.NotCoordinatorException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;

/**
 * A WebSocket session's transactional producers: a {@code produce} frame with a {@code transactionalId} is written as
 * one Kafka transaction, all its records or none, exactly as a Kafka transactional producer would write it (the broker
 * is that producer for the page). The first frame of an id in the session initializes it (InitProducerId: the id's
 * previous holder, any other session or Kafka producer, is fenced, and its open transaction aborted); each frame then
 * adds its partitions at the coordinator (transactions version 2), appends transactional batches under the partitions'
 * verification guards, and commits (EndTxn, which bumps the epoch for the next frame), or aborts when any append
 * failed. A frame is answered once the decision is stored, as {@code commitTransaction()} returns; read_committed
 * readers see the records once the markers are written, moments later. Frames of one id run one after another;
 * a session fenced for an id answers its later frames PRODUCER_FENCED, as a fenced Kafka producer stays fenced.
 *
 * <p>In a cluster the coordinator and the partitions' leaders may be other brokers: the coordinator is asked over the
 * inter-broker listener ({@link TxnCalls}) and the records of partitions led elsewhere are produced at their leaders
 * as a transactions-version-2 producer sends them, so a socket at any broker writes transactions to the whole
 * cluster. Only a partition without a leader fails the frame before anything is written (421). Runs on the session's
 * context.
 */
final class WsTransactions {
    private final HttpServices services;
    private final TxnCalls coordinator;
    private final Map<String, Producer> producers = new HashMap<>();

    /** One transactional id of the session: its producer id and epoch once initialized, and the frame running last. */
    private static final class Producer {
        ProducerIdEpoch current;
        boolean fenced;
        Future<?> tail = Future.succeededFuture();
    }

    WsTransactions(HttpServices services) {
        this.services = services;
        this.coordinator = new TxnCalls(services);
    }

    /** Writes {@code records} to {@code topic} as one transaction of {@code transactionalId}; see the class comment. */
    Future<List<Result>> publish(String transactionalId, String topic, List<Outgoing> records, boolean acksAll) {
        if (transactionalId.isEmpty()) return Future.failedFuture(ApiError.badRequest("\"transactionalId\" must not be empty"));
        Producer p = producers.get(transactionalId);
        if (p == null) {
            if (producers.size() >= Limits.WS_TRANSACTIONAL_IDS_MAX) {
                return Future.failedFuture(new ApiError(429, "TOO_MANY_TRANSACTIONAL_IDS", "At most " + Limits.WS_TRANSACTIONAL_IDS_MAX
                        + " transactional ids per socket"));
            }
            p = new Producer();
            producers.put(transactionalId, p);
        }
        Producer producer = p;
        Future<List<Result>> next = producer.tail.transform(x -> run(producer, transactionalId, topic, records, acksAll));
        producer.tail = next;
        return next;
    }

    private Future<List<Result>> run(Producer p, String id, String topic, List<Outgoing> records, boolean acksAll) {
        if (p.fenced) {
            return Future.failedFuture(new ApiError(409, Errors.PRODUCER_FENCED.name(), "Transactional id " + id
                    + " was taken by another producer; this socket may not use it again"));
        }
        LocalTopic t = services.topics().topic(topic).orElse(null);
        if (t == null) return Future.failedFuture(ApiError.unknownTopic(topic));
        Result[] results = new Result[records.size()];
        Map<Integer, List<Integer>> byPartition = services.publisher().assign(t, records, results);
        for (Result r : results) if (r != null) return Future.failedFuture(r.error()); // nothing written: all or none
        Map<Integer, PartitionHandle> handles = new LinkedHashMap<>();
        Map<Integer, Integer> remote = new LinkedHashMap<>(); // partition -> the broker that leads it
        for (int partition : byPartition.keySet()) {
            PartitionHandle h = t.local(partition);
            if (h != null && h.isLeader()) {
                handles.put(partition, h);
            } else if (services.elsewhere(t.leader(partition)) >= 0) {
                remote.put(partition, t.leader(partition));
            } else {
                return Future.failedFuture(ApiError.notHere(topic, partition, t.leader(partition)));
            }
        }
        return producerOf(p, id).compose(pid -> write(p, id, pid, t, handles, remote, byPartition, records, acksAll, results))
                .recover(e -> {
                    if (e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException || e instanceof InvalidPidMappingException) {
                        p.fenced = true;
                        return Future.failedFuture(new ApiError(409, Errors.PRODUCER_FENCED.name(), "Transactional id " + id
                                + " was taken by another producer: " + e.getMessage()));
                    }
                    return Future.failedFuture(e);
                });
    }

    /** The id's producer id and epoch, initialized on first use (retried while the coordinator completes an earlier transaction). */
    private Future<ProducerIdEpoch> producerOf(Producer p, String id) {
        if (p.current != null) return Future.succeededFuture(p.current);
        int timeoutMs = (int) Math.min(Limits.WS_TRANSACTION_TIMEOUT_MS, services.config().get(BrokerConfig.TRANSACTION_MAX_TIMEOUT_MS));
        return retrying(() -> coordinator.initProducerId(id, timeoutMs)).map(pid -> {
            p.current = pid;
            return pid;
        });
    }

    /**
     * Writes the frame's records in one transaction: the partitions this broker leads are added at the coordinator
     * and appended here; those led elsewhere are produced at their leaders as a transactions-version-2 producer does
     * (the leader adds the partition). Then commits, or aborts when any write failed.
     */
    private Future<List<Result>> write(Producer p, String id, ProducerIdEpoch pid, LocalTopic t, Map<Integer, PartitionHandle> handles,
                                       Map<Integer, Integer> remote, Map<Integer, List<Integer>> byPartition, List<Outgoing> records, boolean acksAll,
                                       Result[] results) {
        String topic = t.name();
        Set<TopicPartition> partitions = new LinkedHashSet<>();
        for (int partition : handles.keySet()) partitions.add(new TopicPartition(topic, partition));
        List<Integer> order = new ArrayList<>(handles.keySet());
        // Each attempt takes fresh guards before it asks the coordinator, as each of a Kafka producer's retried
        // produce requests does: while the coordinator answers CONCURRENT_TRANSACTIONS, the previous transaction's
        // markers are being written, and a marker drops the guards taken before it (the append would then fail
        // INVALID_TXN_STATE).
        List<List<TxnVerification>> verified = new ArrayList<>(1);
        Future<Void> added = partitions.isEmpty() ? Future.succeededFuture() : retrying(() -> {
            List<Future<TxnVerification>> guards = order.stream().map(partition -> handles.get(partition)
                    .startTxnVerification(pid.producerId(), pid.epoch(), 0, true)).toList();
            return Future.all(guards).compose(x -> services.txnVerifier().check(id, pid.producerId(), pid.epoch(), partitions, TxnVerifier.Mode.ADD))
                    .compose(errors -> {
                        if (!errors.isEmpty()) return Future.failedFuture(failure(errors));
                        verified.clear();
                        verified.add(guards.stream().map(Future::result).toList());
                        return Future.<Void>succeededFuture();
                    });
        });
        return added.compose(x -> {
                    Acks acks = acksAll ? Acks.all(t.config().minInsyncReplicas(), Limits.HTTP_PRODUCE_REPLICATION_TIMEOUT_MS) : Acks.LEADER;
                    long now = services.time().milliseconds();
                    List<Future<Void>> appends = new ArrayList<>();
                    for (int i = 0; i < order.size(); i++) {
                        int partition = order.get(i);
                        appends.add(appendAll(handles.get(partition), partition, verified.get(0).get(i), pid, acks, records, byPartition.get(partition),
                                t.config().maxMessageBytes(), now, results));
                    }
                    remote.forEach((partition, leader) -> appends.add(appendAtLeader(t, partition, leader, id, pid, acksAll, records,
                            byPartition.get(partition), now, results)));
                    return Future.join(appends);
                })
                .transform(ar -> {
                    boolean commit = ar.succeeded();
                    Future<ProducerIdEpoch> ended = retrying(() -> coordinator.endTransaction(id, pid, commit));
                    return ended.transform(end -> {
                        if (end.succeeded()) p.current = end.result();
                        else p.current = null; // the next frame initializes again (fencing this attempt's transaction if it is still open)
                        if (commit && end.succeeded()) {
                            // Counted where appended: the leaders of the other partitions count theirs.
                            List<Integer> here = new ArrayList<>();
                            for (int partition : order) here.addAll(byPartition.get(partition));
                            if (!here.isEmpty()) services.metrics().recordsIn(topic, here.size(), Publisher.payloadOf(records, here));
                            return Future.succeededFuture(Arrays.asList(results));
                        }
                        Throwable cause = commit ? end.cause() : ar.cause();
                        if (cause instanceof ProducerFencedException || cause instanceof InvalidProducerEpochException) return Future.failedFuture(cause);
                        ApiError e = ApiError.of(cause);
                        if (commit) {
                            // The commit's decision may have been stored before the failure: the next coordinator then
                            // completes it. Only a later read can tell.
                            return Future.failedFuture(new ApiError(e.status(), e.code(), "The commit's outcome is unknown (the coordinator did not "
                                    + "answer): the records are visible to read_committed readers only if the commit was stored. " + e.getMessage()));
                        }
                        return Future.failedFuture(new ApiError(e.status(), e.code(), "The transaction was aborted; no record was written: "
                                + e.getMessage()));
                    });
                });
    }

    /** Appends one partition's records here, in batches of the transaction (see {@link #inBatches}). */
    private static Future<Void> appendAll(PartitionHandle h, int partition, TxnVerification guard, ProducerIdEpoch pid, Acks acks, List<Outgoing> records,
                                          List<Integer> indexes, int maxBatch, long now, Result[] results) {
        return inBatches(partition, pid, records, indexes, maxBatch, now, results, (batch, count) -> h.append(batch.buffer(), acks, guard));
    }

    /**
     * Produces one partition's records at its leader {@code leader}, in batches of the transaction (see
     * {@link #inBatches}). A batch the leader did not write (it no longer leads, or could not be reached) is sent again
     * to the partition's new leader, with the same sequence numbers, at most {@link Limits#FORWARD_PRODUCE_RETRIES}
     * times: the producer state moves with the partition, so a batch written after all is not written twice.
     */
    private Future<Void> appendAtLeader(LocalTopic t, int partition, int leader, String id, ProducerIdEpoch pid, boolean acksAll,
                                        List<Outgoing> records, List<Integer> indexes, long now, Result[] results) {
        return inBatches(partition, pid, records, indexes, t.config().maxMessageBytes(), now, results, (batch, count) ->
                produceAt(t, partition, leader, id, batch, acksAll, 0).map(r -> new AppendInfo(r.baseOffset(), r.baseOffset() + count - 1, count,
                        r.logAppendTimeMs(), r.logStartOffset())));
    }

    /**
     * Writes one partition's records with {@code write}, batch after batch of at most {@code maxBatch} bytes, as
     * transactional batches with sequence numbers from 0 (the epoch is new), and fills in their results.
     */
    private static Future<Void> inBatches(int partition, ProducerIdEpoch pid, List<Outgoing> records, List<Integer> indexes, int maxBatch, long now,
                                          Result[] results, BiFunction<MemoryRecords, Integer, Future<AppendInfo>> write) {
        Future<Void> chain = Future.succeededFuture();
        int sequence = 0;
        for (List<Integer> chunk : Publisher.chunks(records, indexes, maxBatch)) {
            int base = sequence;
            sequence += chunk.size();
            chain = chain.compose(v -> {
                var batch = Publisher.batchOf(records, chunk, now);
                MemoryRecords built = MemoryRecords.withTransactionalRecords(Compression.NONE, pid.producerId(), pid.epoch(), base, batch);
                return write.apply(built, chunk.size()).map(info -> {
                    Publisher.written(results, partition, chunk, batch, info);
                    return null;
                });
            });
        }
        return chain;
    }

    private Future<ProduceResponseData.PartitionProduceResponse> produceAt(LocalTopic t, int partition, int leader, String id, MemoryRecords batch,
                                                                          boolean acksAll, int attempt) {
        TopicPartition tp = new TopicPartition(t.name(), partition);
        return services.links().produce(leader, tp, batch, acksAll, (int) Limits.HTTP_PRODUCE_REPLICATION_TIMEOUT_MS, id).transform(ar -> {
            Errors error = ar.succeeded() ? Errors.forCode(ar.result().errorCode()) : Errors.forException(ar.cause());
            if (error == Errors.NONE) return Future.succeededFuture(ar.result());
            boolean notWritten = ar.succeeded() ? error == Errors.NOT_LEADER_OR_FOLLOWER || error == Errors.LEADER_NOT_AVAILABLE
                    || error == Errors.NOT_ENOUGH_REPLICAS : Publisher.unreachable(ar.cause());
            int next = t.leader(partition);
            if (notWritten && attempt < Limits.FORWARD_PRODUCE_RETRIES && next != services.nodeId()) {
                Promise<ProduceResponseData.PartitionProduceResponse> later = Promise.promise();
                services.vertx().setTimer(Limits.FORWARD_RETRY_BACKOFF_MS, x -> produceAt(t, partition, next < 0 ? leader : next, id, batch, acksAll,
                        attempt + 1).onComplete(later));
                return later.future();
            }
            return Future.failedFuture(ar.failed() ? ar.cause() : error.exception(ar.result().errorMessage()));
        });
    }

    private static RuntimeException failure(Map<TopicPartition, Errors> errors) {
        Map.Entry<TopicPartition, Errors> first = errors.entrySet().iterator().next();
        return first.getValue().exception("The coordinator did not add " + first.getKey() + " to the transaction: " + first.getValue().name());
    }

    /**
     * Runs {@code call} again while it fails CONCURRENT_TRANSACTIONS (the coordinator is still writing the markers of
     * the id's previous transaction), every {@link Limits#WS_TRANSACTION_RETRY_MS}, for at most
     * {@link Limits#WS_TRANSACTION_RETRY_MAX_MS}, as a Kafka producer retries.
     */
    private <T> Future<T> retrying(Supplier<Future<T>> call) {
        Promise<T> result = Promise.promise();
        long deadline = services.time().milliseconds() + Limits.WS_TRANSACTION_RETRY_MAX_MS;
        attempt(call, deadline, result);
        return result.future();
    }

    /** What a Kafka producer retries at the coordinator: it is busy with the previous transaction, loading, or moving. */
    private static boolean coordinatorBusy(Throwable e) {
        return e instanceof ConcurrentTransactionsException || e instanceof NotCoordinatorException || e instanceof CoordinatorNotAvailableException
                || e instanceof CoordinatorLoadInProgressException;
    }

    private <T> void attempt(Supplier<Future<T>> call, long deadline, Promise<T> result) {
        call.get().onComplete(ar -> {
            if (ar.succeeded()) {
                result.complete(ar.result());
            } else if (coordinatorBusy(ar.cause()) && services.time().milliseconds() < deadline) {
                services.vertx().setTimer(Limits.WS_TRANSACTION_RETRY_MS, id -> attempt(call, deadline, result));
            } else {
                result.fail(ar.cause());
            }
        });
    }
}
