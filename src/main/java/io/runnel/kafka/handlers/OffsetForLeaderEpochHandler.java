package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData.OffsetForLeaderPartition;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData.OffsetForLeaderTopic;
import org.apache.kafka.common.message.OffsetForLeaderEpochResponseData.EpochEndOffset;
import org.apache.kafka.common.message.OffsetForLeaderEpochResponseData.OffsetForLeaderTopicResult;
import org.apache.kafka.common.message.OffsetForLeaderEpochResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.OffsetsForLeaderEpochRequest;
import org.apache.kafka.common.requests.OffsetsForLeaderEpochResponse;

/**
 * OffsetForLeaderEpoch (KIP-101, KIP-279, KIP-320): for each partition, the largest leader epoch at or below the one
 * asked for and the offset where it ended in the leader's log. A follower of a new leader truncates its log there; a
 * consumer checks that its position survived a leader change. Answered by the leader only.
 */
public final class OffsetForLeaderEpochHandler extends TypedApiHandler<OffsetsForLeaderEpochRequest> {
    public OffsetForLeaderEpochHandler() {
        super(ApiKeys.OFFSET_FOR_LEADER_EPOCH, OffsetsForLeaderEpochRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, OffsetsForLeaderEpochRequest r) {
        TopicRegistry partitions = ctx.broker().topics();
        OffsetForLeaderEpochResponseData data = new OffsetForLeaderEpochResponseData();
        List<Future<?>> all = new ArrayList<>();
        // Kafka's checks: a follower needs CLUSTER_ACTION on the cluster, a consumer DESCRIBE on the topic.
        boolean follower = r.replicaId() >= 0;
        boolean followerAllowed = !follower || ctx.authorizeCluster(AclOperation.CLUSTER_ACTION);
        for (OffsetForLeaderTopic t : r.data().topics()) {
            OffsetForLeaderTopicResult tr = new OffsetForLeaderTopicResult().setTopic(t.topic());
            boolean allowed = follower ? followerAllowed : ctx.authorizeTopic(AclOperation.DESCRIBE, t.topic());
            data.topics().add(tr);
            for (OffsetForLeaderPartition p : t.partitions()) {
                // Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET until the leader answers.
                EpochEndOffset out = new EpochEndOffset().setPartition(p.partition()).setLeaderEpoch(-1).setEndOffset(-1);
                tr.partitions().add(out);
                if (!allowed) {
                    out.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code());
                    continue;
                }
                Optional<PartitionHandle> h = partitions.partition(t.topic(), p.partition());
                if (h.isEmpty()) {
                    out.setErrorCode(Errors.forException(partitions.notHere(t.topic(), p.partition())).code());
                    continue;
                }
                Errors epoch = partitions.checkLeaderEpoch(t.topic(), p.partition(), p.currentLeaderEpoch());
                if (epoch != Errors.NONE) {
                    out.setErrorCode(epoch.code());
                    continue;
                }
                all.add(h.get().endOffsetFor(p.leaderEpoch()).map(e -> out.setLeaderEpoch(e.epoch()).setEndOffset(e.endOffset()))
                        .otherwise(e -> out.setErrorCode(Errors.forException(e).code())));
            }
        }
        return Future.join(all).transform(x -> Future.succeededFuture(new OffsetsForLeaderEpochResponse(data)));
    }
}
