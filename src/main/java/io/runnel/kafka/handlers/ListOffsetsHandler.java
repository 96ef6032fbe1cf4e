package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsPartition;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsTopic;
import org.apache.kafka.common.message.ListOffsetsResponseData.ListOffsetsPartitionResponse;
import org.apache.kafka.common.message.ListOffsetsResponseData.ListOffsetsTopicResponse;
import org.apache.kafka.common.message.ListOffsetsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.apache.kafka.common.requests.ListOffsetsResponse;

/**
 * ListOffsets: earliest (-2) and earliest-local (-4) give the log start offset, latest (-1) the high watermark
 * (the end a consumer can read to; the last stable offset for a READ_COMMITTED request, KIP-98), max
 * timestamp (-3, KIP-734) the record with the largest timestamp, latest-tiered (-5) and earliest pending upload (-6)
 * answer -1 as Kafka does without tiered storage, and a timestamp the first record at or after it (or -1 when there
 * is none below the high watermark). Each answer carries the leader epoch of what it found (v4+). Only the leader
 * answers a client (NOT_LEADER_OR_FOLLOWER elsewhere); see {@link PartitionHandle#listOffset}. A partition asked
 * twice gets INVALID_REQUEST, as in Kafka.
 */
public final class ListOffsetsHandler extends TypedApiHandler<ListOffsetsRequest> {
    public ListOffsetsHandler() {
        super(ApiKeys.LIST_OFFSETS, ListOffsetsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, ListOffsetsRequest r) {
        Set<TopicPartition> duplicates = r.duplicatePartitions();
        // Clients (replica id -1) are answered by the leader only; Kafka's debugging id (-2) reads any replica.
        boolean consumer = r.replicaId() != ListOffsetsRequest.DEBUGGING_REPLICA_ID;
        boolean committed = r.isolationLevel() == IsolationLevel.READ_COMMITTED;
        List<ListOffsetsTopicResponse> topics = new ArrayList<>();
        List<Future<?>> all = new ArrayList<>();
        for (ListOffsetsTopic t : r.topics()) {
            ListOffsetsTopicResponse tr = new ListOffsetsTopicResponse().setName(t.name());
            boolean describable = ctx.authorizeTopic(AclOperation.DESCRIBE, t.name());
            topics.add(tr);
            for (ListOffsetsPartition p : t.partitions()) {
                ListOffsetsPartitionResponse out = new ListOffsetsPartitionResponse().setPartitionIndex(p.partitionIndex())
                        .setTimestamp(-1).setOffset(-1).setLeaderEpoch(-1);
                tr.partitions().add(out);
                if (duplicates.contains(new TopicPartition(t.name(), p.partitionIndex()))) {
                    out.setErrorCode(Errors.INVALID_REQUEST.code());
                    continue;
                }
                if (!describable) { // Kafka: DESCRIBE on the topic
                    out.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code());
                    continue;
                }
                Optional<PartitionHandle> h = ctx.broker().topics().partition(t.name(), p.partitionIndex());
                if (h.isEmpty()) {
                    out.setErrorCode(Errors.forException(ctx.broker().topics().notHere(t.name(), p.partitionIndex())).code());
                    continue;
                }
                Errors epoch = ctx.broker().topics().checkLeaderEpoch(t.name(), p.partitionIndex(), p.currentLeaderEpoch());
                if (epoch != Errors.NONE) {
                    out.setErrorCode(epoch.code());
                    continue;
                }
                all.add(h.get().listOffset(p.timestamp(), consumer, committed).map(found -> {
                    found.ifPresent(f -> out.setTimestamp(f.timestamp()).setOffset(f.offset()).setLeaderEpoch(ctx.apiVersion() >= 4 ? f.leaderEpoch() : -1));
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
}
