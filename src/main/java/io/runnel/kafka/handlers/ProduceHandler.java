package io.runnel.kafka.handlers;

import io.runnel.kafka.CloseConnectionException;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.Acks;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Future;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.errors.InvalidRequiredAcksException;
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
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;

/**
 * Produce: validates and appends each partition's batch and answers per partition. acks 0 and 1 answer once the
 * leader has appended; acks -1 once every in-sync replica has the records (at once on a single broker, where the
 * leader is the only in-sync replica), refused with NOT_ENOUGH_REPLICAS when the ISR is smaller than
 * min.insync.replicas; any other value gets INVALID_REQUIRED_ACKS. With acks=0 there is no response, and a failed append
 * closes the connection, which is how Kafka tells such a producer. A transactional producer's batches open a
 * transaction in their partition (the coordinator's markers end it).
 */
public final class ProduceHandler extends TypedApiHandler<ProduceRequest> {
    public ProduceHandler() {
        super(ApiKeys.PRODUCE, ProduceRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, ProduceRequest r) {
        short acks = r.acks();
        if (acks != 0 && acks != 1 && acks != -1) return Future.failedFuture(new InvalidRequiredAcksException("acks must be -1, 0 or 1, got " + acks));
        TopicRegistry partitions = ctx.broker().topics();
        boolean byId = ctx.apiVersion() >= 13;
        List<Future<TopicProduceResponse>> topics = new ArrayList<>();
        for (TopicProduceData t : r.data().topicData()) {
            Optional<LocalTopic> topic = byId ? partitions.topicById(t.topicId()) : partitions.topic(t.name());
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

    private static Future<PartitionProduceResponse> appendOne(ProduceRequest r, RequestContext ctx, Optional<LocalTopic> topic, PartitionProduceData p) {
        PartitionProduceResponse out = new PartitionProduceResponse().setIndex(p.index()).setBaseOffset(-1)
                .setLogAppendTimeMs(RecordBatch.NO_TIMESTAMP).setLogStartOffset(-1);
        Optional<PartitionHandle> handle = topic.flatMap(t -> ctx.broker().topics().partition(t.name(), p.index()));
        Future<PartitionProduceResponse> result;
        try {
            if (handle.isEmpty()) {
                throw topic.isPresent() ? ctx.broker().topics().notHere(topic.get().name(), p.index())
                        : new UnknownTopicOrPartitionException("This server does not host this topic-partition.");
            }
            ProduceRequest.validateRecords(ctx.apiVersion(), p.records());
            ByteBuffer records = ((MemoryRecords) p.records()).buffer();
            int size = records.remaining();
            PartitionHandle h = handle.get();
            String topicName = h.topicPartition().topic();
            Acks acks = r.acks() == -1 ? Acks.all(topic.get().config().minInsyncReplicas(), r.timeout()) : Acks.LEADER;
            result = h.append(records, acks).map(info -> {
                ctx.broker().metrics().recordsIn(topicName, info.records(), size);
                return out.setBaseOffset(info.firstOffset()).setLogAppendTimeMs(info.logAppendTimeMs()).setLogStartOffset(info.logStartOffset());
            });
        } catch (RuntimeException e) {
            result = Future.failedFuture(e);
        }
        return result.otherwise(e -> {
            Errors error = Errors.forException(e);
            return out.setErrorCode(error.code()).setErrorMessage(e.getMessage());
        });
    }
}
