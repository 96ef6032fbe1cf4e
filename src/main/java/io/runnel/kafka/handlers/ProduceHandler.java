package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.CloseConnectionException;
import io.runnel.kafka.RequestContext;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.Partitions;
import io.runnel.partition.Partitions.TopicInfo;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.errors.InvalidRequiredAcksException;
import org.apache.kafka.common.errors.NotEnoughReplicasAfterAppendException;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.message.ProduceRequestData.PartitionProduceData;
import org.apache.kafka.common.message.ProduceRequestData.TopicProduceData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.message.ProduceResponseData.PartitionProduceResponse;
import org.apache.kafka.common.message.ProduceResponseData.TopicProduceResponse;
import org.apache.kafka.common.message.ProduceResponseData.TopicProduceResponseCollection;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;

/**
 * Produce: validates and appends each partition's batch and answers per partition. acks 0 and 1 answer once the
 * leader has appended; acks -1 once every in-sync replica has the records (at once on a single broker, where the
 * leader is the only in-sync replica), refused with NOT_ENOUGH_REPLICAS when the ISR is smaller than
 * min.insync.replicas; any other value gets INVALID_REQUIRED_ACKS. With acks=0 there is no response, and a failed append
 * closes the connection, which is how Kafka tells such a producer. Transactional produce is refused until
 * transactions exist.
 */
public final class ProduceHandler implements ApiHandler {
    @Override
    public ApiKeys apiKey() {
        return ApiKeys.PRODUCE;
    }

    @Override
    public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
        ProduceRequest r = (ProduceRequest) request;
        short acks = r.acks();
        if (acks != 0 && acks != 1 && acks != -1) return Future.failedFuture(new InvalidRequiredAcksException("acks must be -1, 0 or 1, got " + acks));
        Partitions partitions = ctx.broker().partitions();
        boolean byId = ctx.apiVersion() >= 13;
        List<Future<TopicProduceResponse>> topics = new ArrayList<>();
        for (TopicProduceData t : r.data().topicData()) {
            Optional<TopicInfo> topic = byId ? partitions.topicById(t.topicId()) : partitions.topic(t.name());
            List<Future<PartitionProduceResponse>> parts = new ArrayList<>();
            for (PartitionProduceData p : t.partitionData()) parts.add(appendOne(r, ctx, topic, p));
            topics.add(Future.join(parts).transform(ignored -> {
                TopicProduceResponse tr = new TopicProduceResponse().setName(byId ? "" : t.name()).setTopicId(t.topicId());
                for (Future<PartitionProduceResponse> f : parts) tr.partitionResponses().add(f.result());
                return Future.succeededFuture(tr);
            }));
        }
        return Future.join(topics).transform(ignored -> {
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
        });
    }

    private static Future<PartitionProduceResponse> appendOne(ProduceRequest r, RequestContext ctx, Optional<TopicInfo> topic, PartitionProduceData p) {
        PartitionProduceResponse out = new PartitionProduceResponse().setIndex(p.index()).setBaseOffset(-1)
                .setLogAppendTimeMs(RecordBatch.NO_TIMESTAMP).setLogStartOffset(-1);
        Optional<PartitionHandle> handle = topic.flatMap(t -> ctx.broker().partitions().partition(t.name(), p.index()));
        Future<PartitionProduceResponse> result;
        try {
            if (handle.isEmpty()) {
                throw topic.isPresent() ? ctx.broker().partitions().notHere(topic.get().name(), p.index())
                        : new UnknownTopicOrPartitionException("This server does not host this topic-partition.");
            }
            if (r.transactionalId() != null) {
                throw new UnsupportedVersionException("Transactions are not supported by Runnel yet");
            }
            ProduceRequest.validateRecords(ctx.apiVersion(), p.records());
            ByteBuffer records = ((MemoryRecords) p.records()).buffer();
            int size = records.remaining();
            PartitionHandle h = handle.get();
            String topicName = h.topicPartition().topic();
            int minIsr = topic.get().config().minInsyncReplicas();
            if (r.acks() == -1 && h.placement().isr().size() < minIsr) {
                // Kafka refuses before writing: fewer in-sync replicas than min.insync.replicas.
                throw new NotEnoughReplicasException("The in-sync replicas of " + h.topicPartition() + " are "
                        + h.placement().isr() + ", fewer than min.insync.replicas " + minIsr);
            }
            int epoch = h.placement().leaderEpoch();
            result = h.append(records).compose(info -> {
                ctx.broker().metrics().recordsIn(topicName, info.records(), size);
                out.setBaseOffset(info.firstOffset()).setLogAppendTimeMs(info.logAppendTimeMs()).setLogStartOffset(info.logStartOffset());
                if (r.acks() != -1) return Future.succeededFuture(out);
                return awaitReplicated(ctx, h, epoch, info.lastOffset(), r.timeout(), minIsr).map(v -> out);
            });
        } catch (RuntimeException e) {
            result = Future.failedFuture(e);
        }
        return result.otherwise(e -> {
            Errors error = Errors.forException(e);
            return out.setErrorCode(error.code()).setErrorMessage(e.getMessage());
        });
    }

    /**
     * acks=all: completes when every in-sync replica has the records (the high watermark passed {@code lastOffset}).
     * Fails with NOT_LEADER_OR_FOLLOWER when this broker stopped leading meanwhile, NOT_ENOUGH_REPLICAS_AFTER_APPEND
     * when the ISR fell below min.insync.replicas, REQUEST_TIMED_OUT after the request's timeout; the producer
     * retries (the idempotent producer without duplicates).
     */
    private static Future<Void> awaitReplicated(RequestContext ctx, PartitionHandle h, int epoch, long lastOffset, int timeoutMs, int minIsr) {
        Promise<Void> giveUp = Promise.promise();
        Vertx vertx = Vertx.currentContext().owner();
        long timer = vertx.setTimer(Math.max(1, timeoutMs), x -> giveUp.tryComplete());
        return h.awaitReplicated(lastOffset, epoch, giveUp.future()).compose(v -> {
            vertx.cancelTimer(timer);
            giveUp.tryComplete();
            // As Kafka's Partition.checkEnoughReplicasReachOffset: replicated, but by fewer in-sync replicas than
            // min.insync.replicas (the ISR shrank after the append), is not an acknowledgement.
            // The high watermark counts only in the leader epoch the records were written in: a broker that stopped
            // leading and leads again may have lost them to truncation meanwhile (Kafka's DelayedProduce ends at once
            // with NOT_LEADER_OR_FOLLOWER when leadership moves).
            boolean sameTerm = h.isLeader() && h.placement().leaderEpoch() == epoch;
            if (h.highWatermark() > lastOffset && sameTerm && h.placement().isr().size() >= minIsr) return Future.succeededFuture();
            if (!sameTerm) {
                return Future.failedFuture(new NotLeaderOrFollowerException("Broker " + ctx.broker().nodeId()
                        + " stopped leading " + h.topicPartition() + " before the records were replicated"));
            }
            if (h.placement().isr().size() < minIsr) {
                return Future.failedFuture(new NotEnoughReplicasAfterAppendException("The in-sync replicas of "
                        + h.topicPartition() + " fell to " + h.placement().isr() + ", fewer than min.insync.replicas " + minIsr));
            }
            return Future.failedFuture(new TimeoutException("The records of " + h.topicPartition()
                    + " were not replicated to " + h.placement().isr() + " within " + timeoutMs + " ms"));
        });
    }
}
