package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.ElectLeadersRequestData;
import org.apache.kafka.common.message.ElectLeadersResponseData.PartitionResult;
import org.apache.kafka.common.message.ElectLeadersResponseData.ReplicaElectionResult;
import org.apache.kafka.common.message.ElectLeadersResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ApiError;
import org.apache.kafka.common.requests.ElectLeadersRequest;
import org.apache.kafka.common.requests.ElectLeadersResponse;

/**
 * ElectLeaders (KIP-460): the controller moves leadership to each partition's preferred replica (the first replica,
 * when live and in sync), or with the UNCLEAN type gives a leaderless partition any live replica. Null partitions
 * mean all. Per partition: NONE, ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE
 * or UNKNOWN_TOPIC_OR_PARTITION; a failure of the whole request (no controller) is the top-level error (v1+).
 */
public final class ElectLeadersHandler extends TypedApiHandler<ElectLeadersRequest> {
    public ElectLeadersHandler() {
        super(ApiKeys.ELECT_LEADERS, ElectLeadersRequest.class, AclOperation.ALTER);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, ElectLeadersRequest request) {
        ElectLeadersRequestData d = request.data();
        // v0 has no election type and means a preferred election.
        boolean unclean = ctx.apiVersion() >= 1 && d.electionType() == 1;
        Map<String, List<Integer>> wanted = null;
        if (d.topicPartitions() != null) {
            wanted = new LinkedHashMap<>();
            for (ElectLeadersRequestData.TopicPartitions t : d.topicPartitions()) {
                wanted.computeIfAbsent(t.topic(), k -> new ArrayList<>()).addAll(t.partitions());
            }
        }
        return ctx.broker().topicAdmin().electLeaders(unclean, wanted).map(results -> {
            Map<String, ReplicaElectionResult> byTopic = new LinkedHashMap<>();
            results.forEach((TopicPartition tp, ApiError e) -> byTopic
                    .computeIfAbsent(tp.topic(), t -> new ReplicaElectionResult().setTopic(t))
                    .partitionResult().add(new PartitionResult().setPartitionId(tp.partition()).setErrorCode(e.error().code())
                            .setErrorMessage(e.error() == Errors.NONE ? null : e.message())));
            return (AbstractResponse) new ElectLeadersResponse(new ElectLeadersResponseData()
                    .setReplicaElectionResults(new ArrayList<>(byTopic.values())));
        });
    }
}
