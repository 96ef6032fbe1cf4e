package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.runnel.share.SharePartitionManager;
import io.runnel.share.SharePartitionManager.PartitionResult;
import io.runnel.share.SharePartitionManager.Result;
import io.runnel.share.SharePartitionManager.TopicIdPartition;
import io.runnel.share.SharePartitionState.AckBatch;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.ShareAcknowledgeRequestData;
import org.apache.kafka.common.message.ShareAcknowledgeResponseData;
import org.apache.kafka.common.message.ShareFetchRequestData;
import org.apache.kafka.common.message.ShareFetchResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ShareAcknowledgeRequest;
import org.apache.kafka.common.requests.ShareAcknowledgeResponse;
import org.apache.kafka.common.requests.ShareFetchRequest;
import org.apache.kafka.common.requests.ShareFetchResponse;

/**
 * ShareFetch and ShareAcknowledge (KIP-932), at the leaders of the partitions a share group reads: the Kafka side of
 * {@link SharePartitionManager} (requests decoded, Kafka's checks, answers built). As Kafka's KafkaApis: READ on the
 * group, READ on each topic; an answer holds every partition that has records, an error or an acknowledgement result.
 */
public final class ShareFetchHandlers {
    /** Kafka's limit on a share member id. */
    private static final int MAX_MEMBER_ID_LENGTH = 36;
    /** ShareFetch v2's ShareAcquireMode: 0 batch-optimized (maxRecords a soft bound), 1 record-limit (a hard one). */
    private static final byte RECORD_LIMIT = 1;

    private ShareFetchHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Fetch(), new Acknowledge());
    }

    static final class Fetch extends TypedApiHandler<ShareFetchRequest> {
        Fetch() {
            super(ApiKeys.SHARE_FETCH, ShareFetchRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ShareFetchRequest request) {
            ShareFetchRequestData d = request.data();
            SharePartitionManager shares = ctx.broker().shares();
            String invalid = invalidIds(d.groupId(), d.memberId());
            if (invalid != null) return Future.succeededFuture(fetchError(Errors.INVALID_REQUEST, invalid));
            if (d.isRenewAck() && (d.maxBytes() != 0 || d.minBytes() != 0 || d.maxRecords() != 0 || d.maxWaitMs() != 0)) {
                return Future.succeededFuture(fetchError(Errors.INVALID_REQUEST, "A renewing acknowledgement fetches nothing."));
            }
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) {
                return Future.succeededFuture(fetchError(Errors.GROUP_AUTHORIZATION_FAILED, Errors.GROUP_AUTHORIZATION_FAILED.message()));
            }
            List<TopicIdPartition> added = new ArrayList<>();
            Map<TopicIdPartition, List<AckBatch>> acks = new LinkedHashMap<>();
            Map<TopicIdPartition, Errors> refused = new LinkedHashMap<>();
            for (ShareFetchRequestData.FetchTopic t : d.topics()) {
                Errors topicError = topicError(ctx, t.topicId());
                for (ShareFetchRequestData.FetchPartition p : t.partitions()) {
                    TopicIdPartition tp = new TopicIdPartition(t.topicId(), p.partitionIndex());
                    if (topicError != null) {
                        refused.put(tp, topicError);
                        continue;
                    }
                    added.add(tp);
                    if (!p.acknowledgementBatches().isEmpty()) {
                        acks.put(tp, p.acknowledgementBatches().stream().map(b -> new AckBatch(b.firstOffset(), b.lastOffset(), bytes(b.acknowledgeTypes()))).toList());
                    }
                }
            }
            List<TopicIdPartition> forgotten = new ArrayList<>();
            for (ShareFetchRequestData.ForgottenTopic f : d.forgottenTopicsData()) for (int p : f.partitions()) forgotten.add(new TopicIdPartition(f.topicId(), p));
            boolean renewAllowed = ctx.apiVersion() >= 2 && d.isRenewAck();
            SharePartitionManager.FetchCall call = new SharePartitionManager.FetchCall(d.groupId(), d.memberId(), d.shareSessionEpoch(),
                    ctx.connectionId(), added, forgotten, acks, renewAllowed, d.maxRecords(), Math.min(d.maxBytes(), maxBytes(ctx)),
                    d.maxWaitMs(), !d.isRenewAck(), ctx.apiVersion() >= 2 && d.shareAcquireMode() == RECORD_LIMIT);
            return shares.fetch(call).map(r -> fetchResponse(ctx, shares, d.groupId(), r, refused));
        }

        private static int maxBytes(RequestContext ctx) {
            return ctx.broker().config().get(BrokerConfig.FETCH_MAX_BYTES);
        }
    }

    static final class Acknowledge extends TypedApiHandler<ShareAcknowledgeRequest> {
        Acknowledge() {
            super(ApiKeys.SHARE_ACKNOWLEDGE, ShareAcknowledgeRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ShareAcknowledgeRequest request) {
            ShareAcknowledgeRequestData d = request.data();
            SharePartitionManager shares = ctx.broker().shares();
            String invalid = invalidIds(d.groupId(), d.memberId());
            if (invalid != null) return Future.succeededFuture(ackError(Errors.INVALID_REQUEST, invalid));
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) {
                return Future.succeededFuture(ackError(Errors.GROUP_AUTHORIZATION_FAILED, Errors.GROUP_AUTHORIZATION_FAILED.message()));
            }
            Map<TopicIdPartition, List<AckBatch>> acks = new LinkedHashMap<>();
            Map<TopicIdPartition, Errors> refused = new LinkedHashMap<>();
            for (ShareAcknowledgeRequestData.AcknowledgeTopic t : d.topics()) {
                Errors topicError = topicError(ctx, t.topicId());
                for (ShareAcknowledgeRequestData.AcknowledgePartition p : t.partitions()) {
                    TopicIdPartition tp = new TopicIdPartition(t.topicId(), p.partitionIndex());
                    if (topicError != null) refused.put(tp, topicError);
                    else acks.put(tp, p.acknowledgementBatches().stream().map(b -> new AckBatch(b.firstOffset(), b.lastOffset(), bytes(b.acknowledgeTypes()))).toList());
                }
            }
            boolean renewAllowed = ctx.apiVersion() >= 2 && d.isRenewAck();
            return shares.acknowledge(d.groupId(), d.memberId(), d.shareSessionEpoch(), acks, renewAllowed).map(r -> {
                if (r.error() != Errors.NONE) return ackError(r.error(), r.message());
                ShareAcknowledgeResponseData out = new ShareAcknowledgeResponseData().setAcquisitionLockTimeoutMs((int) shares.lockDurationMs(d.groupId()));
                Map<TopicIdPartition, Errors> all = new LinkedHashMap<>(r.ackErrors());
                all.putAll(refused);
                all.forEach((tp, e) -> {
                    ShareAcknowledgeResponseData.ShareAcknowledgeTopicResponse topic = out.responses().find(tp.topicId());
                    if (topic == null) {
                        topic = new ShareAcknowledgeResponseData.ShareAcknowledgeTopicResponse().setTopicId(tp.topicId());
                        out.responses().add(topic);
                    }
                    topic.partitions().add(new ShareAcknowledgeResponseData.PartitionData().setPartitionIndex(tp.partition()).setErrorCode(e.code())
                            .setErrorMessage(e == Errors.NONE ? null : e.message()));
                });
                return new ShareAcknowledgeResponse(out);
            });
        }
    }

    /** Kafka's checks of the ids (KafkaApis): a group, and a member id of 1 to 36 characters. */
    private static String invalidIds(String groupId, String memberId) {
        if (groupId == null || groupId.isEmpty()) return "A group id is required.";
        if (memberId == null || memberId.isEmpty()) return "A member id is required.";
        if (memberId.length() > MAX_MEMBER_ID_LENGTH) return "The member id is longer than " + MAX_MEMBER_ID_LENGTH + " characters.";
        return null;
    }

    /** Why a topic is refused (unknown, or not readable by the principal), or null. */
    private static Errors topicError(RequestContext ctx, Uuid topicId) {
        Optional<LocalTopic> topic = ctx.broker().topics().topicById(topicId);
        if (topic.isEmpty()) return Errors.UNKNOWN_TOPIC_ID;
        if (!ctx.authorizeTopic(AclOperation.READ, topic.get().name())) return Errors.TOPIC_AUTHORIZATION_FAILED;
        return null;
    }

    private static byte[] bytes(List<Byte> types) {
        byte[] out = new byte[types.size()];
        for (int i = 0; i < out.length; i++) out[i] = types.get(i);
        return out;
    }

    private static ShareFetchResponse fetchResponse(RequestContext ctx, SharePartitionManager shares, String groupId, Result r,
                                                  Map<TopicIdPartition, Errors> refused) {
        if (r.error() != Errors.NONE) return fetchError(r.error(), r.message());
        LinkedHashMap<org.apache.kafka.common.TopicIdPartition, ShareFetchResponseData.PartitionData> parts = new LinkedHashMap<>();
        Set<Integer> leaders = new LinkedHashSet<>();
        for (PartitionResult p : r.partitions()) {
            ShareFetchResponseData.PartitionData pd = partition(ctx, parts, p.tp()).setErrorCode(p.error().code())
                    .setErrorMessage(p.error() == Errors.NONE ? null : p.error().message());
            if (p.records() != null) pd.setRecords(MemoryRecords.readableRecords(p.records()));
            for (var a : p.acquired()) {
                pd.acquiredRecords().add(new ShareFetchResponseData.AcquiredRecords().setFirstOffset(a.firstOffset()).setLastOffset(a.lastOffset())
                        .setDeliveryCount(a.deliveryCount()));
            }
            if (p.error() == Errors.NOT_LEADER_OR_FOLLOWER && p.leaderId() >= 0) {
                pd.setCurrentLeader(new ShareFetchResponseData.LeaderIdAndEpoch().setLeaderId(p.leaderId()).setLeaderEpoch(-1));
                leaders.add(p.leaderId());
            }
        }
        refused.forEach((tp, e) -> partition(ctx, parts, tp).setErrorCode(e.code()).setErrorMessage(e.message()));
        // Every partition that carried acknowledgements is answered (the client fails acknowledgements left unanswered).
        r.ackErrors().forEach((tp, e) -> partition(ctx, parts, tp).setAcknowledgeErrorCode(e.code())
                .setAcknowledgeErrorMessage(e == Errors.NONE ? null : e.message()));
        List<Node> nodes = new ArrayList<>();
        for (RequestContext.NodeEndpoint n : ctx.brokers()) {
            if (leaders.contains(n.nodeId())) nodes.add(new Node(n.nodeId(), n.host(), n.port(), n.rack()));
        }
        return ShareFetchResponse.of(Errors.NONE, 0, parts, nodes, (int) shares.lockDurationMs(groupId));
    }

    /** The answer's entry for {@code tp}, added (with no records) the first time. */
    private static ShareFetchResponseData.PartitionData partition(RequestContext ctx,
                                                                  Map<org.apache.kafka.common.TopicIdPartition, ShareFetchResponseData.PartitionData> parts,
                                                                  TopicIdPartition tp) {
        String name = ctx.broker().topics().topicById(tp.topicId()).map(LocalTopic::name).orElse("");
        return parts.computeIfAbsent(new org.apache.kafka.common.TopicIdPartition(tp.topicId(), tp.partition(), name),
                k -> new ShareFetchResponseData.PartitionData().setPartitionIndex(tp.partition()).setRecords(MemoryRecords.EMPTY));
    }

    private static ShareFetchResponse fetchError(Errors e, String message) {
        return ShareFetchResponse.of(e, 0, new LinkedHashMap<>(), List.of(), 0);
    }

    private static ShareAcknowledgeResponse ackError(Errors e, String message) {
        return new ShareAcknowledgeResponse(new ShareAcknowledgeResponseData().setErrorCode(e.code()).setErrorMessage(message));
    }
}
