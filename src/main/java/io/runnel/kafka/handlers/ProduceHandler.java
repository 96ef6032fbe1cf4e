package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.kafka.CloseConnectionException;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.log.value.AppendInfo;
import io.runnel.partition.Acks;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.runnel.partition.TxnVerification;
import io.runnel.transaction.ProducerIdEpoch;
import io.runnel.transaction.TxnVerifier;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.InvalidRequiredAcksException;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.message.ProduceRequestData.PartitionProduceData;
import org.apache.kafka.common.message.ProduceRequestData.TopicProduceData;
import org.apache.kafka.common.message.ProduceResponseData.PartitionProduceResponse;
import org.apache.kafka.common.message.ProduceResponseData.TopicProduceResponse;
import org.apache.kafka.common.message.ProduceResponseData.TopicProduceResponseCollection;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.resource.ResourceType;

/**
 * Produce: validates and appends each partition's batch and answers per partition. acks 0 and 1 answer once the
 * leader has appended; acks -1 once every in-sync replica has the records (at once on a single broker, where the
 * leader is the only in-sync replica), refused with NOT_ENOUGH_REPLICAS when the ISR is smaller than
 * min.insync.replicas; any other value gets INVALID_REQUIRED_ACKS. With acks=0 there is no response, and a failed append
 * closes the connection, which is how Kafka tells such a producer. A transactional producer's batches open a
 * transaction in their partition (the coordinator's markers end it), once the coordinator confirmed that the partition
 * is in the transaction (KIP-890 part 1), or added it (transactions version 2, Produce v12 and later).
 */
public final class ProduceHandler extends TypedApiHandler<ProduceRequest> {
    public ProduceHandler() {
        super(ApiKeys.PRODUCE, ProduceRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, ProduceRequest r) {
        short acks = r.acks();
        if (acks != 0 && acks != 1 && acks != -1) return Future.failedFuture(new InvalidRequiredAcksException("acks must be -1, 0 or 1, got " + acks));
        boolean byId = ctx.apiVersion() >= 13;
        Promise<List<Future<TopicProduceResponse>>> started = Promise.promise();
        // A request for a partition this broker does not know yet first waits for it: the wait starts now, and the
        // request hands its batches over in the connection's order once it and every request before it are through.
        Future<Void> known = partitionsArrive(ctx, r, byId);
        Context connection = Vertx.currentContext();
        ctx.produceOrder().next(handedOver -> known.onComplete(x -> onContext(connection, () -> {
            List<Write> writes = new ArrayList<>();
            try {
                started.complete(writes(ctx, r, byId, writes));
                verifyThenAppend(ctx, r.transactionalId(), verificationMode(ctx), writes).onComplete(y -> handedOver.complete());
            } catch (Throwable e) {
                writes.forEach(w -> w.fail(e));
                handedOver.tryComplete();
                started.tryFail(e);
            }
        })));
        return started.future().compose(topics -> Future.join(topics).transform(ignored -> {
            TopicProduceResponseCollection coll = new TopicProduceResponseCollection();
            boolean failed = false;
            for (Future<TopicProduceResponse> f : topics) {
                coll.add(f.result());
                failed |= f.result().partitionResponses().stream().anyMatch(p -> p.errorCode() != Errors.NONE.code());
            }
            if (acks == 0) {
                return failed ? Future.failedFuture(new CloseConnectionException("an acks=0 produce failed")) : Future.succeededFuture(null);
            }
            return Future.succeededFuture(new ProduceResponse(new ProduceResponseData().setResponses(coll)));
        }));
    }

    /**
     * In a cluster, completes once this broker knows every topic and partition of the request, or after
     * {@link Limits#PRODUCE_UNKNOWN_PARTITION_WAIT_MS}. A producer learns of a new topic (or partition) from whichever
     * broker answered its Metadata request; its leader may apply the controller's image a moment later. Refused at
     * once, the first batch would be retried while the producer's next batches, sent after the image arrived, were
     * appended: an idempotent producer's retried first batch then fails its sequence check for ever (a partition
     * without state for the producer accepts any first sequence, as in Kafka's ProducerAppendInfo). Waiting here, in
     * the connection's order, keeps the later requests behind it.
     */
    private static Future<Void> partitionsArrive(RequestContext ctx, ProduceRequest r, boolean byId) {
        if (!ctx.broker().topicAdmin().clustered()) return Future.succeededFuture();
        // A client that may not write is refused at once, whatever exists (and learns nothing from a wait).
        // (Quietly: the denial is counted and logged once, when the request is answered.)
        if (r.transactionalId() != null && !ctx.authorizeQuietly(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, r.transactionalId())) {
            return Future.succeededFuture();
        }
        TopicRegistry registry = ctx.broker().topics();
        List<Future<Void>> waits = new ArrayList<>();
        for (TopicProduceData t : r.data().topicData()) {
            int highest = t.partitionData().stream().mapToInt(PartitionProduceData::index).max().orElse(-1);
            Optional<LocalTopic> known = byId ? registry.topicById(t.topicId()) : registry.topic(t.name());
            if (highest < 0 || known.isPresent() && highest < known.get().partitions().size()) continue;
            if (!byId && !ctx.authorizeQuietly(AclOperation.WRITE, ResourceType.TOPIC, t.name())) continue;
            waits.add(registry.awaitPartition(byId ? null : t.name(), t.topicId(), highest, Limits.PRODUCE_UNKNOWN_PARTITION_WAIT_MS));
        }
        return waits.isEmpty() ? Future.succeededFuture() : Future.join(waits).mapEmpty();
    }

    /** Runs {@code action} on {@code context} (the connection's event loop), at once when already there. */
    private static void onContext(Context context, Runnable action) {
        if (context == null || Vertx.currentContext() == context) action.run();
        else context.runOnContext(v -> action.run());
    }

    /** Makes the request's writes (into {@code writes}) and, per topic, the future of its answer. */
    private static List<Future<TopicProduceResponse>> writes(RequestContext ctx, ProduceRequest r, boolean byId, List<Write> writes) {
        TopicRegistry partitions = ctx.broker().topics();
        List<Future<TopicProduceResponse>> topics = new ArrayList<>();
        // Kafka's checks: WRITE on the transactional id (the whole request), WRITE on each topic (its partitions).
        boolean txnDenied = r.transactionalId() != null && !ctx.authorizeTransactionalId(AclOperation.WRITE, r.transactionalId());
        for (TopicProduceData t : r.data().topicData()) {
            Optional<LocalTopic> topic = byId ? partitions.topicById(t.topicId()) : partitions.topic(t.name());
            String name = byId ? topic.map(LocalTopic::name).orElse(null) : t.name();
            Errors refused = txnDenied ? Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                    : name != null && !ctx.authorizeTopic(AclOperation.WRITE, name) ? Errors.TOPIC_AUTHORIZATION_FAILED : null;
            List<Write> parts = new ArrayList<>();
            for (PartitionProduceData p : t.partitionData()) parts.add(new Write(ctx, r, topic, p, refused));
            writes.addAll(parts);
            topics.add(Future.join(parts.stream().map(w -> w.result.future()).toList()).transform(ignored -> {
                TopicProduceResponse tr = new TopicProduceResponse().setName(byId ? "" : t.name()).setTopicId(t.topicId());
                for (Write w : parts) tr.partitionResponses().add(w.result.future().result());
                return Future.succeededFuture(tr);
            }));
        }
        return topics;
    }

    /**
     * What a transactional write needs from the coordinator before it opens its transaction in a partition (Kafka's
     * TransactionSupportedOperation): version 12 and later (transactions version 2) add the partition; earlier versions
     * have it verified (KIP-890 part 1), unless {@code transaction.partition.verification.enable} is off.
     */
    private static TxnVerifier.Mode verificationMode(RequestContext ctx) {
        if (ctx.apiVersion() >= 12) return TxnVerifier.Mode.ADD;
        if (!ctx.broker().config().get(BrokerConfig.TRANSACTION_PARTITION_VERIFICATION_ENABLE)) return null;
        return ctx.apiVersion() >= 11 ? TxnVerifier.Mode.VERIFY : TxnVerifier.Mode.VERIFY_LEGACY;
    }

    /**
     * Appends every write; the transactional ones that would open their producer's transaction in their partition are
     * first confirmed by the coordinator, in one check per producer for the whole request (Kafka's
     * ReplicaManager.appendRecords with its AddPartitionsToTxnManager).
     */
    private static Future<Void> verifyThenAppend(RequestContext ctx, String transactionalId, TxnVerifier.Mode mode, List<Write> writes) {
        List<Write> transactional = writes.stream().filter(Write::transactional).toList();
        if (mode == null || transactional.isEmpty()) {
            writes.forEach(w -> w.append(TxnVerification.NONE));
            return Future.succeededFuture();
        }
        writes.stream().filter(w -> !w.transactional()).forEach(w -> w.append(TxnVerification.NONE));
        if (transactionalId == null) {
            transactional.forEach(w -> w.append(TxnVerification.REQUIRED)); // refused unless its transaction is open there
            return Future.succeededFuture();
        }
        List<Future<TxnVerification>> started = transactional.stream().map(w -> w.startVerification(mode == TxnVerifier.Mode.ADD)).toList();
        return Future.join(started).transform(x -> {
            Map<ProducerIdEpoch, Map<TopicPartition, Write>> toCheck = new LinkedHashMap<>();
            for (int i = 0; i < transactional.size(); i++) {
                Write w = transactional.get(i);
                Future<TxnVerification> f = started.get(i);
                if (f.failed()) {
                    w.fail(f.cause());
                } else if (!f.result().needsCoordinator()) {
                    w.append(f.result());
                } else {
                    w.verification = f.result();
                    toCheck.computeIfAbsent(new ProducerIdEpoch(w.producerId, w.producerEpoch), k -> new LinkedHashMap<>()).put(w.partition(), w);
                }
            }
            List<Future<Void>> checked = new ArrayList<>();
            toCheck.forEach((producer, byPartition) -> checked.add(ctx.broker().txnVerifier()
                    .check(transactionalId, producer.producerId(), producer.epoch(), byPartition.keySet(), mode)
                    .transform(ar -> {
                        byPartition.forEach((tp, w) -> {
                            Errors e = ar.succeeded() ? ar.result().get(tp) : Errors.forException(ar.cause());
                            if (e == null) w.append(w.verification);
                            else w.fail(producerError(e, transactionalId, tp));
                        });
                        return Future.<Void>succeededFuture();
                    })));
            return Future.join(checked).mapEmpty();
        });
    }

    /**
     * A failed check as the producer is told (Kafka's ReplicaManager): a coordinator that is busy, moving or out of reach
     * becomes NOT_ENOUGH_REPLICAS, which every client retries without looking up metadata again.
     */
    private static RuntimeException producerError(Errors e, String transactionalId, TopicPartition tp) {
        String why = "The partition " + tp + " could not be confirmed in the transaction of " + transactionalId + ": " + e.name();
        return TxnVerifier.coordinatorUnavailable(e) ? new NotEnoughReplicasException(why) : e.exception(why);
    }

    /** One partition's write of the request and its answer. */
    private static final class Write {
        final RequestContext ctx;
        final PartitionProduceResponse out;
        final Promise<PartitionProduceResponse> result = Promise.promise();
        final Optional<LocalTopic> topic;
        final Acks acks;
        final int size;
        PartitionHandle handle;
        ByteBuffer records;
        long producerId = RecordBatch.NO_PRODUCER_ID;
        short producerEpoch;
        int firstSequence;
        boolean transactional;
        TxnVerification verification;

        Write(RequestContext ctx, ProduceRequest r, Optional<LocalTopic> topic, PartitionProduceData p, Errors refused) {
            this.ctx = ctx;
            this.topic = topic;
            this.out = new PartitionProduceResponse().setIndex(p.index()).setBaseOffset(-1).setLogAppendTimeMs(RecordBatch.NO_TIMESTAMP).setLogStartOffset(-1);
            this.acks = topic.isPresent() && r.acks() == -1 ? Acks.all(topic.get().config().minInsyncReplicas(), r.timeout()) : Acks.LEADER;
            int bytes = 0;
            try {
                if (refused != null) throw refused.exception();
                Optional<PartitionHandle> h = topic.flatMap(t -> ctx.broker().topics().partition(t.name(), p.index()));
                if (h.isEmpty()) {
                    throw topic.isPresent() ? ctx.broker().topics().notHere(topic.get().name(), p.index())
                            : new UnknownTopicOrPartitionException("This server does not host this topic-partition.");
                }
                ProduceRequest.validateRecords(ctx.apiVersion(), p.records());
                handle = h.get();
                records = ((MemoryRecords) p.records()).buffer();
                bytes = records.remaining();
                Iterator<MutableRecordBatch> batches = ((MemoryRecords) p.records()).batches().iterator();
                RecordBatch first = batches.hasNext() ? batches.next() : null;
                if (first != null && first.magic() == RecordBatch.MAGIC_VALUE_V2 && first.isTransactional() && !first.isControlBatch()) {
                    transactional = true;
                    producerId = first.producerId();
                    producerEpoch = first.producerEpoch();
                    firstSequence = first.baseSequence();
                }
            } catch (RuntimeException e) {
                fail(e);
            }
            this.size = bytes;
        }

        boolean transactional() {
            return transactional && handle != null && !result.future().isComplete();
        }

        TopicPartition partition() {
            return handle.topicPartition();
        }

        Future<TxnVerification> startVerification(boolean supportsEpochBump) {
            return handle.startTxnVerification(producerId, producerEpoch, firstSequence, supportsEpochBump);
        }

        void append(TxnVerification v) {
            if (result.future().isComplete()) return;
            String topicName = handle.topicPartition().topic();
            handle.append(records, acks, v).onComplete(ar -> {
                if (ar.succeeded()) {
                    AppendInfo info = ar.result();
                    ctx.broker().metrics().recordsIn(topicName, info.records(), size);
                    result.tryComplete(out.setBaseOffset(info.firstOffset()).setLogAppendTimeMs(info.logAppendTimeMs())
                            .setLogStartOffset(info.logStartOffset()));
                } else {
                    fail(ar.cause());
                }
            });
        }

        void fail(Throwable e) {
            Errors error = Errors.forException(e);
            result.tryComplete(out.setErrorCode(error.code()).setErrorMessage(e.getMessage()));
        }
    }
}
