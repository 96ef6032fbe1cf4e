package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.AlterPartitionReassignmentsRequestData.ReassignablePartition;
import org.apache.kafka.common.message.AlterPartitionReassignmentsRequestData.ReassignableTopic;
import org.apache.kafka.common.message.AlterPartitionReassignmentsResponseData.ReassignablePartitionResponse;
import org.apache.kafka.common.message.AlterPartitionReassignmentsResponseData.ReassignableTopicResponse;
import org.apache.kafka.common.message.AlterPartitionReassignmentsResponseData;
import org.apache.kafka.common.message.ListPartitionReassignmentsRequestData;
import org.apache.kafka.common.message.ListPartitionReassignmentsResponseData.OngoingPartitionReassignment;
import org.apache.kafka.common.message.ListPartitionReassignmentsResponseData.OngoingTopicReassignment;
import org.apache.kafka.common.message.ListPartitionReassignmentsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.AlterPartitionReassignmentsRequest;
import org.apache.kafka.common.requests.AlterPartitionReassignmentsResponse;
import org.apache.kafka.common.requests.ListPartitionReassignmentsRequest;
import org.apache.kafka.common.requests.ListPartitionReassignmentsResponse;

/**
 * Partition reassignment (KIP-455): AlterPartitionReassignments starts (or, with null replicas, cancels) moving
 * partitions to other brokers through the controller, which completes each move once the new replicas are in sync;
 * ListPartitionReassignments lists the running ones with the replicas being added and removed.
 */
public final class ReassignmentHandlers {
    private ReassignmentHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Alter(), new ListOngoing());
    }

    static final class Alter extends TypedApiHandler<AlterPartitionReassignmentsRequest> {
        Alter() {
            super(ApiKeys.ALTER_PARTITION_REASSIGNMENTS, AlterPartitionReassignmentsRequest.class, AclOperation.ALTER);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, AlterPartitionReassignmentsRequest request) {
            var d = request.data();
            boolean allowRfChange = ctx.apiVersion() < 1 || d.allowReplicationFactorChange();
            List<ReassignableTopicResponse> topics = new ArrayList<>();
            List<Future<?>> all = new ArrayList<>();
            for (ReassignableTopic t : d.topics()) {
                ReassignableTopicResponse tr = new ReassignableTopicResponse().setName(t.name());
                topics.add(tr);
                for (ReassignablePartition p : t.partitions()) {
                    ReassignablePartitionResponse pr = new ReassignablePartitionResponse().setPartitionIndex(p.partitionIndex()).setErrorMessage(null);
                    tr.partitions().add(pr);
                    Future<Void> done;
                    try {
                        done = ctx.broker().topicAdmin().reassign(t.name(), p.partitionIndex(), p.replicas(), allowRfChange);
                    } catch (RuntimeException e) {
                        done = Future.failedFuture(e);
                    }
                    all.add(Outcomes.recordError(done, (code, message) -> pr.setErrorCode(code).setErrorMessage(message)));
                }
            }
            return Future.join(all).transform(x -> Future.succeededFuture(new AlterPartitionReassignmentsResponse(
                    new AlterPartitionReassignmentsResponseData().setAllowReplicationFactorChange(allowRfChange).setResponses(topics))));
        }
    }

    static final class ListOngoing extends TypedApiHandler<ListPartitionReassignmentsRequest> {
        ListOngoing() {
            super(ApiKeys.LIST_PARTITION_REASSIGNMENTS, ListPartitionReassignmentsRequest.class, AclOperation.DESCRIBE);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ListPartitionReassignmentsRequest request) {
            ListPartitionReassignmentsRequestData d = request.data();
            Map<TopicPartition, TopicMetadata.Reassignment> running = ctx.broker().topicAdmin().reassignments();
            Map<String, OngoingTopicReassignment> out = new LinkedHashMap<>();
            running.forEach((tp, r) -> {
                if (d.topics() != null && d.topics().stream().noneMatch(t -> t.name().equals(tp.topic()) && t.partitionIndexes().contains(tp.partition()))) {
                    return;
                }
                out.computeIfAbsent(tp.topic(), n -> new OngoingTopicReassignment().setName(n)).partitions()
                        .add(new OngoingPartitionReassignment().setPartitionIndex(tp.partition()).setReplicas(r.replicas())
                                .setAddingReplicas(r.adding()).setRemovingReplicas(r.removing()));
            });
            return Future.succeededFuture(new ListPartitionReassignmentsResponse(new ListPartitionReassignmentsResponseData()
                    .setTopics(new ArrayList<>(out.values()))));
        }
    }
}
