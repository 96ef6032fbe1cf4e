package io.runnel.http;

import io.runnel.cluster.BrokerLinks;
import io.runnel.group.CommittedOffset;
import io.runnel.group.GroupCoordinator;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetCommitResponseData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.OffsetFetchResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ConsumerGroupHeartbeatRequest;
import org.apache.kafka.common.requests.ConsumerGroupHeartbeatResponse;
import org.apache.kafka.common.requests.OffsetCommitRequest;
import org.apache.kafka.common.requests.OffsetCommitResponse;
import org.apache.kafka.common.requests.OffsetFetchRequest;
import org.apache.kafka.common.requests.OffsetFetchResponse;

/**
 * A WebSocket group member's calls to its group's coordinator: this broker's {@link GroupCoordinator} when it
 * coordinates the group (or there is no cluster), else the coordinating broker (the leader of the group's
 * {@code __consumer_offsets} partition) through the inter-broker listener, with Kafka's own requests, as a Kafka
 * consumer would send them: ConsumerGroupHeartbeat, OffsetCommit (the member's epoch as its generation, KIP-848) and
 * OffsetFetch. The caller's ACLs are checked where the socket is; the coordinator sees the inter-broker principal.
 * Errors come back as the coordinator gave them (NOT_COORDINATOR while it moves: the member tries again).
 */
final class GroupCalls {
    private static final short HEARTBEAT_VERSION = 1; // KIP-1082: the member makes its own id
    private static final short OFFSET_COMMIT_VERSION = 9;
    private static final short OFFSET_FETCH_VERSION = 9;

    private final HttpServices services;

    GroupCalls(HttpServices services) {
        this.services = services;
    }

    /** The broker that coordinates {@code group} when it is another one and can be asked there; else -1 (ask here). */
    private int elsewhere(String group) {
        return services.elsewhere(services.groups().coordinatorNode(group));
    }

    Future<ConsumerGroupHeartbeatResponseData> heartbeat(ConsumerGroupHeartbeatRequestData req, String clientId, String clientHost) {
        int node = elsewhere(req.groupId());
        if (node < 0) return services.groups().consumerGroupHeartbeat(req, clientId, clientHost);
        return services.links().<ConsumerGroupHeartbeatResponse>send(node, new ConsumerGroupHeartbeatRequest.Builder(req).build(HEARTBEAT_VERSION),
                HEARTBEAT_VERSION).map(ConsumerGroupHeartbeatResponse::data);
    }

    /** Commits {@code commits} as member {@code memberId} in epoch {@code epoch}: the first error, or NONE. */
    Future<Errors> commit(String group, int epoch, String memberId, Map<TopicPartition, CommittedOffset> commits) {
        int node = elsewhere(group);
        if (node < 0) return services.groups().commitOffsets(group, epoch, memberId, commits);
        Map<String, OffsetCommitRequestData.OffsetCommitRequestTopic> topics = new LinkedHashMap<>();
        commits.forEach((tp, c) -> topics.computeIfAbsent(tp.topic(), n -> new OffsetCommitRequestData.OffsetCommitRequestTopic().setName(n))
                .partitions().add(new OffsetCommitRequestData.OffsetCommitRequestPartition().setPartitionIndex(tp.partition())
                        .setCommittedOffset(c.offset()).setCommittedLeaderEpoch(c.leaderEpoch()).setCommittedMetadata(c.metadata())));
        OffsetCommitRequestData data = new OffsetCommitRequestData().setGroupId(group).setGenerationIdOrMemberEpoch(epoch).setMemberId(memberId)
                .setTopics(new ArrayList<>(topics.values()));
        return services.links().<OffsetCommitResponse>send(node, OffsetCommitRequest.Builder.forTopicNames(data).build(OFFSET_COMMIT_VERSION),
                OFFSET_COMMIT_VERSION).map(r -> {
                    for (OffsetCommitResponseData.OffsetCommitResponseTopic t : r.data().topics()) {
                        for (OffsetCommitResponseData.OffsetCommitResponsePartition p : t.partitions()) {
                            if (p.errorCode() != Errors.NONE.code()) return Errors.forCode(p.errorCode());
                        }
                    }
                    return Errors.NONE;
                });
    }

    /** The group's committed offsets of {@code topic}. */
    Future<Map<TopicPartition, CommittedOffset>> fetchOffsets(String group, String topic) {
        int node = elsewhere(group);
        if (node < 0) return services.groups().fetchOffsets(group);
        OffsetFetchRequestData data = new OffsetFetchRequestData().setGroups(List.of(new OffsetFetchRequestData.OffsetFetchRequestGroup()
                .setGroupId(group).setTopics(null)));
        return services.links().<OffsetFetchResponse>send(node, OffsetFetchRequest.Builder.forTopicNames(data, false).build(OFFSET_FETCH_VERSION),
                OFFSET_FETCH_VERSION).compose(r -> {
                    Map<TopicPartition, CommittedOffset> out = new LinkedHashMap<>();
                    for (OffsetFetchResponseData.OffsetFetchResponseGroup g : r.data().groups()) {
                        if (g.errorCode() != Errors.NONE.code()) return Future.failedFuture(Errors.forCode(g.errorCode()).exception());
                        for (OffsetFetchResponseData.OffsetFetchResponseTopics t : g.topics()) {
                            if (!t.name().equals(topic)) continue;
                            for (OffsetFetchResponseData.OffsetFetchResponsePartitions p : t.partitions()) {
                                if (p.errorCode() == Errors.NONE.code() && p.committedOffset() >= 0) {
                                    out.put(new TopicPartition(topic, p.partitionIndex()),
                                            new CommittedOffset(p.committedOffset(), p.committedLeaderEpoch(), p.metadata()));
                                }
                            }
                        }
                    }
                    return Future.succeededFuture(out);
                });
    }
}
