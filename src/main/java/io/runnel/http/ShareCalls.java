package io.runnel.http;

import io.runnel.share.SharePartitionManager;
import io.runnel.share.SharePartitionManager.TopicIdPartition;
import io.runnel.share.SharePartitionState.AckBatch;
import io.runnel.share.SharePartitionState.Acquired;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.ShareAcknowledgeRequestData;
import org.apache.kafka.common.message.ShareAcknowledgeResponseData;
import org.apache.kafka.common.message.ShareFetchRequestData;
import org.apache.kafka.common.message.ShareFetchResponseData;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ShareGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.ShareAcknowledgeRequest;
import org.apache.kafka.common.requests.ShareAcknowledgeResponse;
import org.apache.kafka.common.requests.ShareFetchRequest;
import org.apache.kafka.common.requests.ShareFetchResponse;
import org.apache.kafka.common.requests.ShareGroupHeartbeatRequest;
import org.apache.kafka.common.requests.ShareGroupHeartbeatResponse;

/**
 * A WebSocket share subscription's calls, as a Kafka share consumer makes them: ShareGroupHeartbeat at the group's
 * coordinator, ShareFetch and ShareAcknowledge at each partition's leader. Each goes to this broker's coordinator or
 * {@link SharePartitionManager} when it is the one (or there is no cluster), else to the broker that is, over the
 * inter-broker listener with Kafka's requests. Answers come back in one shape whichever way they went.
 */
final class ShareCalls {
    private static final short HEARTBEAT_VERSION = 1;
    private static final short FETCH_VERSION = 2; // ShareAcquireMode: record_limit
    private static final short ACKNOWLEDGE_VERSION = 2;
    private static final byte RECORD_LIMIT = 1;
    static final String CLIENT_ID = "runnel-websocket";
    static final String CLIENT_HOST = "websocket";

    /** One partition of a fetch's answer: an error, or the records and the ranges of them acquired. */
    record Part(int partition, Errors error, MemoryRecords records, List<Acquired> acquired) {
    }

    /** A fetch's or acknowledgement's answer: a top-level error, or its partitions and acknowledgement errors. */
    record Answer(Errors error, String message, List<Part> parts, Map<Integer, Errors> ackErrors) {
    }

    private final HttpServices services;

    ShareCalls(HttpServices services) {
        this.services = services;
    }

    Future<ShareGroupHeartbeatResponseData> heartbeat(ShareGroupHeartbeatRequestData req) {
        int node = services.elsewhere(services.groups().coordinatorNode(req.groupId()));
        if (node < 0) return services.groups().shareGroupHeartbeat(req, CLIENT_ID, CLIENT_HOST);
        return services.links().<ShareGroupHeartbeatResponse>send(node, new ShareGroupHeartbeatRequest.Builder(req).build(HEARTBEAT_VERSION),
                HEARTBEAT_VERSION).map(ShareGroupHeartbeatResponse::data);
    }

    /**
     * ShareFetch at {@code node} (-1: here) in session epoch {@code epoch}: the session gains {@code added} and loses
     * {@code forgotten}, {@code acks} are applied, then at most {@code maxRecords} records are acquired (record_limit).
     */
    Future<Answer> fetch(int node, String group, String memberId, int epoch, String connectionId, Uuid topicId, List<Integer> added,
                         List<Integer> forgotten, Map<Integer, List<AckBatch>> acks, int maxRecords, int maxBytes, long maxWaitMs) {
        if (node < 0) {
            SharePartitionManager.FetchCall call = new SharePartitionManager.FetchCall(group, memberId, epoch, connectionId, tps(topicId, added),
                    tps(topicId, forgotten), byTp(topicId, acks), false, maxRecords, maxBytes, maxWaitMs, true, true);
            return services.shares().fetch(call).map(ShareCalls::local);
        }
        ShareFetchRequestData d = new ShareFetchRequestData().setGroupId(group).setMemberId(memberId).setShareSessionEpoch(epoch)
                .setMaxWaitMs((int) maxWaitMs).setMinBytes(1).setMaxBytes(maxBytes).setMaxRecords(maxRecords).setBatchSize(maxRecords)
                .setShareAcquireMode(RECORD_LIMIT);
        ShareFetchRequestData.FetchTopic t = new ShareFetchRequestData.FetchTopic().setTopicId(topicId);
        List<Integer> listed = new ArrayList<>(added);
        acks.keySet().forEach(p -> {
            if (!listed.contains(p)) listed.add(p);
        });
        for (int p : listed) {
            ShareFetchRequestData.FetchPartition fp = new ShareFetchRequestData.FetchPartition().setPartitionIndex(p);
            for (AckBatch b : acks.getOrDefault(p, List.of())) {
                fp.acknowledgementBatches().add(new ShareFetchRequestData.AcknowledgementBatch().setFirstOffset(b.firstOffset())
                        .setLastOffset(b.lastOffset()).setAcknowledgeTypes(bytes(b.types())));
            }
            t.partitions().add(fp);
        }
        if (!listed.isEmpty()) d.topics().add(t);
        if (!forgotten.isEmpty()) d.forgottenTopicsData().add(new ShareFetchRequestData.ForgottenTopic().setTopicId(topicId).setPartitions(forgotten));
        return services.links().<ShareFetchResponse>send(node, new ShareFetchRequest.Builder(d).build(FETCH_VERSION), FETCH_VERSION)
                .map(r -> remote(r.data()));
    }

    /** ShareAcknowledge at {@code node} (-1: here) in session epoch {@code epoch}. */
    Future<Answer> acknowledge(int node, String group, String memberId, int epoch, Uuid topicId, Map<Integer, List<AckBatch>> acks) {
        if (node < 0) return services.shares().acknowledge(group, memberId, epoch, byTp(topicId, acks), false).map(ShareCalls::local);
        ShareAcknowledgeRequestData d = new ShareAcknowledgeRequestData().setGroupId(group).setMemberId(memberId).setShareSessionEpoch(epoch);
        ShareAcknowledgeRequestData.AcknowledgeTopic t = new ShareAcknowledgeRequestData.AcknowledgeTopic().setTopicId(topicId);
        acks.forEach((p, batches) -> {
            ShareAcknowledgeRequestData.AcknowledgePartition ap = new ShareAcknowledgeRequestData.AcknowledgePartition().setPartitionIndex(p);
            for (AckBatch b : batches) {
                ap.acknowledgementBatches().add(new ShareAcknowledgeRequestData.AcknowledgementBatch().setFirstOffset(b.firstOffset())
                        .setLastOffset(b.lastOffset()).setAcknowledgeTypes(bytes(b.types())));
            }
            t.partitions().add(ap);
        });
        d.topics().add(t);
        return services.links().<ShareAcknowledgeResponse>send(node, new ShareAcknowledgeRequest.Builder(d).build(ACKNOWLEDGE_VERSION),
                ACKNOWLEDGE_VERSION).map(r -> {
                    ShareAcknowledgeResponseData data = r.data();
                    Map<Integer, Errors> ackErrors = new LinkedHashMap<>();
                    for (ShareAcknowledgeResponseData.ShareAcknowledgeTopicResponse tr : data.responses()) {
                        for (ShareAcknowledgeResponseData.PartitionData p : tr.partitions()) ackErrors.put(p.partitionIndex(), Errors.forCode(p.errorCode()));
                    }
                    return new Answer(Errors.forCode(data.errorCode()), data.errorMessage(), List.of(), ackErrors);
                });
    }

    private static Answer local(SharePartitionManager.Result r) {
        List<Part> parts = new ArrayList<>();
        for (SharePartitionManager.PartitionResult p : r.partitions()) {
            parts.add(new Part(p.tp().partition(), p.error(), p.records() == null ? MemoryRecords.EMPTY : MemoryRecords.readableRecords(p.records()),
                    p.acquired()));
        }
        Map<Integer, Errors> ackErrors = new LinkedHashMap<>();
        r.ackErrors().forEach((tp, e) -> ackErrors.put(tp.partition(), e));
        return new Answer(r.error(), r.message(), parts, ackErrors);
    }

    private static Answer remote(ShareFetchResponseData d) {
        List<Part> parts = new ArrayList<>();
        Map<Integer, Errors> ackErrors = new LinkedHashMap<>();
        for (ShareFetchResponseData.ShareFetchableTopicResponse t : d.responses()) {
            for (ShareFetchResponseData.PartitionData p : t.partitions()) {
                List<Acquired> acquired = new ArrayList<>();
                p.acquiredRecords().forEach(a -> acquired.add(new Acquired(a.firstOffset(), a.lastOffset(), a.deliveryCount())));
                MemoryRecords records = p.records() instanceof MemoryRecords m ? m : MemoryRecords.EMPTY;
                parts.add(new Part(p.partitionIndex(), Errors.forCode(p.errorCode()), records, acquired));
                ackErrors.put(p.partitionIndex(), Errors.forCode(p.acknowledgeErrorCode()));
            }
        }
        return new Answer(Errors.forCode(d.errorCode()), d.errorMessage(), parts, ackErrors);
    }

    private static List<TopicIdPartition> tps(Uuid topicId, List<Integer> partitions) {
        return partitions.stream().map(p -> new TopicIdPartition(topicId, p)).toList();
    }

    private static Map<TopicIdPartition, List<AckBatch>> byTp(Uuid topicId, Map<Integer, List<AckBatch>> acks) {
        Map<TopicIdPartition, List<AckBatch>> out = new HashMap<>();
        acks.forEach((p, b) -> out.put(new TopicIdPartition(topicId, p), b));
        return out;
    }

    private static List<Byte> bytes(byte[] types) {
        List<Byte> out = new ArrayList<>(types.length);
        for (byte b : types) out.add(b);
        return out;
    }
}
