package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.log.TimestampOffset;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsPartition;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsTopic;
import org.apache.kafka.common.message.ListOffsetsResponseData;
import org.apache.kafka.common.message.ListOffsetsResponseData.ListOffsetsPartitionResponse;
import org.apache.kafka.common.message.ListOffsetsResponseData.ListOffsetsTopicResponse;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.apache.kafka.common.requests.ListOffsetsResponse;

/**
 * ListOffsets: earliest (-2) and earliest-local (-4) give the log start offset, latest (-1) the log end offset,
 * max timestamp (-3, KIP-734) the record with the largest timestamp, latest-tiered (-5) and earliest pending
 * upload (-6) answer -1 as Kafka does without tiered storage, and a timestamp the first record at or after it (or
 * -1 when there is none). A partition asked twice gets INVALID_REQUEST, as in Kafka.
 */
public final class ListOffsetsHandler implements ApiHandler {
    @Override
    public ApiKeys apiKey() {
        return ApiKeys.LIST_OFFSETS;
    }

    @Override
    public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
        ListOffsetsRequest r = (ListOffsetsRequest) request;
        Set<TopicPartition> duplicates = r.duplicatePartitions();
        List<ListOffsetsTopicResponse> topics = new ArrayList<>();
        List<Future<?>> all = new ArrayList<>();
        for (ListOffsetsTopic t : r.topics()) {
            ListOffsetsTopicResponse tr = new ListOffsetsTopicResponse().setName(t.name());
            topics.add(tr);
            for (ListOffsetsPartition p : t.partitions()) {
                ListOffsetsPartitionResponse out = new ListOffsetsPartitionResponse().setPartitionIndex(p.partitionIndex())
                        .setTimestamp(-1).setOffset(-1).setLeaderEpoch(ctx.apiVersion() >= 4 ? 0 : -1);
                tr.partitions().add(out);
                if (duplicates.contains(new TopicPartition(t.name(), p.partitionIndex()))) {
                    out.setErrorCode(Errors.INVALID_REQUEST.code());
                    continue;
                }
                Optional<PartitionHandle> h = ctx.broker().partitions().partition(t.name(), p.partitionIndex());
                if (h.isEmpty()) {
                    out.setErrorCode(Errors.forException(ctx.broker().partitions().notHere(t.name(), p.partitionIndex())).code());
                    continue;
                }
                Errors epoch = ctx.broker().partitions().checkLeaderEpoch(t.name(), p.partitionIndex(), p.currentLeaderEpoch());
                if (epoch != Errors.NONE) {
                    out.setErrorCode(epoch.code());
                    continue;
                }
                all.add(lookup(h.get(), p.timestamp()).map(found -> {
                    found.ifPresent(f -> out.setTimestamp(f.timestamp()).setOffset(f.offset()));
                    return null;
                }).otherwise(e -> {
                    out.setErrorCode(Errors.forException(e).code());
                    return null;
                }));
            }
        }
        return Future.join(all).transform(x -> Future.succeededFuture(
                new ListOffsetsResponse(new ListOffsetsResponseData().setTopics(topics))));
    }

    private static Future<Optional<TimestampOffset>> lookup(PartitionHandle h, long timestamp) {
        if (timestamp == ListOffsetsRequest.EARLIEST_TIMESTAMP || timestamp == ListOffsetsRequest.EARLIEST_LOCAL_TIMESTAMP) {
            return Future.succeededFuture(Optional.of(new TimestampOffset(-1, h.logStartOffset())));
        }
        if (timestamp == ListOffsetsRequest.LATEST_TIMESTAMP) {
            return Future.succeededFuture(Optional.of(new TimestampOffset(-1, h.logEndOffset())));
        }
        if (timestamp == ListOffsetsRequest.MAX_TIMESTAMP) return h.maxTimestampRecord();
        if (timestamp < 0) return Future.succeededFuture(Optional.empty());
        return h.offsetForTimestamp(timestamp);
    }
}
