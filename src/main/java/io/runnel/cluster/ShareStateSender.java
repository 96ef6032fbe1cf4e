package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.partition.OnContext;
import io.runnel.security.InterBrokerLink;
import io.runnel.share.ShareSnapshot;
import io.runnel.share.ShareStateStore;
import io.runnel.share.ShareStateStore.Answer;
import io.runnel.share.ShareStateStore.Op;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.DeleteShareGroupStateRequestData;
import org.apache.kafka.common.message.InitializeShareGroupStateRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateSummaryRequestData;
import org.apache.kafka.common.message.WriteShareGroupStateRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.DeleteShareGroupStateRequest;
import org.apache.kafka.common.requests.DeleteShareGroupStateResponse;
import org.apache.kafka.common.requests.InitializeShareGroupStateRequest;
import org.apache.kafka.common.requests.InitializeShareGroupStateResponse;
import org.apache.kafka.common.requests.ReadShareGroupStateRequest;
import org.apache.kafka.common.requests.ReadShareGroupStateResponse;
import org.apache.kafka.common.requests.ReadShareGroupStateSummaryRequest;
import org.apache.kafka.common.requests.ReadShareGroupStateSummaryResponse;
import org.apache.kafka.common.requests.WriteShareGroupStateRequest;
import org.apache.kafka.common.requests.WriteShareGroupStateResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ShareStateStore.Remote} over Kafka's inter-broker share state APIs (KIP-932: ReadShareGroupState,
 * WriteShareGroupState, InitializeShareGroupState, DeleteShareGroupState, ReadShareGroupStateSummary), as Kafka's
 * persister sends them from a share-partition's leader to the share coordinator of its state. Per coordinator broker
 * one request is in flight at a time, over one connection ({@link BrokerClient}); what arrives meanwhile waits, at most
 * {@link Limits#SHARE_STATE_QUEUED_PER_BROKER} operations, and goes in the next requests, one per group and kind (the
 * APIs name one group each). A second write of a share-partition while the first waits replaces it: Runnel's leaders
 * write the whole state each time, so the later one holds the earlier. A coordinator that cannot be reached answers
 * NETWORK_EXCEPTION, which the store tries again.
 */
public final class ShareStateSender implements ShareStateStore.Remote {
    private static final Logger LOG = LoggerFactory.getLogger(ShareStateSender.class);
    private static final short READ_VERSION = 0;
    private static final short WRITE_VERSION = 1;
    private static final short INITIALIZE_VERSION = 0;
    private static final short DELETE_VERSION = 0;
    private static final short SUMMARY_VERSION = 1;

    private final Supplier<InterBrokerLink> link;
    private final Vertx vertx;
    private final Context context;
    private final ClusterView view;
    private final int self;
    private final long requestTimeoutMs;
    private final Map<Integer, Node> nodes = new HashMap<>();

    /** Operations of one kind for one group, which go in one request. */
    private record Batch(Class<? extends Op> kind, String groupId) {
    }

    /** An operation waiting for its request, and who waits for its answer. */
    private static final class Waiting {
        Op op;
        final List<Promise<Answer>> promises = new ArrayList<>();

        Waiting(Op op) {
            this.op = op;
        }

        void answer(Answer a) {
            promises.forEach(p -> p.tryComplete(a));
        }
    }

    private static final class Node {
        BrokerClient client;
        boolean inFlight;
        int queued;
        final LinkedHashMap<Batch, LinkedHashMap<ShareSnapshot.Key, Waiting>> waiting = new LinkedHashMap<>();
    }

    public ShareStateSender(Vertx vertx, ClusterView view, int self, long requestTimeoutMs, Supplier<InterBrokerLink> link) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.view = view;
        this.self = self;
        this.requestTimeoutMs = requestTimeoutMs;
        this.link = link;
    }

    @Override
    public Future<Answer> send(int node, Op op) {
        return OnContext.compose(context, () -> enqueue(node, op));
    }

    private Future<Answer> enqueue(int broker, Op op) {
        Node node = nodes.computeIfAbsent(broker, b -> new Node());
        LinkedHashMap<ShareSnapshot.Key, Waiting> batch = node.waiting.computeIfAbsent(new Batch(op.getClass(), op.key().groupId()), b -> new LinkedHashMap<>());
        Waiting w = batch.get(op.key());
        if (w == null) {
            if (node.queued >= Limits.SHARE_STATE_QUEUED_PER_BROKER) {
                if (batch.isEmpty()) node.waiting.remove(new Batch(op.getClass(), op.key().groupId()));
                return Future.succeededFuture(Answer.of(Errors.COORDINATOR_NOT_AVAILABLE));
            }
            w = new Waiting(op);
            batch.put(op.key(), w);
            node.queued++;
        } else {
            w.op = op; // the later state holds the earlier (whole states); other kinds ask the same again
        }
        Promise<Answer> p = Promise.promise();
        w.promises.add(p);
        sendNext(broker, node);
        return p.future();
    }

    private void sendNext(int broker, Node node) {
        if (node.inFlight || node.waiting.isEmpty()) return;
        Map.Entry<Batch, LinkedHashMap<ShareSnapshot.Key, Waiting>> first = node.waiting.entrySet().iterator().next();
        node.waiting.remove(first.getKey());
        Map<ShareSnapshot.Key, Waiting> batch = first.getValue();
        node.queued -= batch.size();
        if (node.client == null) node.client = BrokerClient.to(vertx, view, broker, "runnel-share-state-" + self, requestTimeoutMs, link.get());
        BrokerClient client = node.client;
        if (client == null) {
            batch.values().forEach(w -> w.answer(Answer.of(Errors.COORDINATOR_NOT_AVAILABLE)));
            sendNext(broker, node);
            return;
        }
        Class<? extends Op> kind = first.getKey().kind();
        String groupId = first.getKey().groupId();
        AbstractRequest request = request(kind, groupId, batch);
        short version = request.version();
        node.inFlight = true;
        client.<AbstractResponse>send(request, version).onComplete(ar -> {
            node.inFlight = false;
            if (ar.failed()) {
                LOG.debug("{} to broker {} failed: {}", request.apiKey(), broker, ar.cause().toString());
                node.client = null;
                client.close();
                batch.values().forEach(w -> w.answer(Answer.of(Errors.NETWORK_EXCEPTION)));
            } else {
                Map<ShareSnapshot.Key, Answer> answers = answers(groupId, ar.result());
                batch.forEach((k, w) -> w.answer(answers.getOrDefault(k, Answer.of(Errors.UNKNOWN_SERVER_ERROR))));
            }
            sendNext(broker, node);
        });
    }

    /** The request of one batch; its operations are all of {@code kind}. */
    private static AbstractRequest request(Class<? extends Op> kind, String groupId, Map<ShareSnapshot.Key, Waiting> batch) {
        Map<Uuid, List<Op>> byTopic = new LinkedHashMap<>();
        batch.forEach((k, w) -> byTopic.computeIfAbsent(k.topicId(), t -> new ArrayList<>()).add(w.op));
        if (kind == ShareStateStore.Read.class) {
            ReadShareGroupStateRequestData d = new ReadShareGroupStateRequestData().setGroupId(groupId);
            byTopic.forEach((id, ops) -> d.topics().add(new ReadShareGroupStateRequestData.ReadStateData().setTopicId(id).setPartitions(ops.stream()
                    .map(o -> new ReadShareGroupStateRequestData.PartitionData().setPartition(o.key().partition())
                            .setLeaderEpoch(((ShareStateStore.Read) o).leaderEpoch())).toList())));
            return new ReadShareGroupStateRequest.Builder(d).build(READ_VERSION);
        }
        if (kind == ShareStateStore.Summary.class) {
            ReadShareGroupStateSummaryRequestData d = new ReadShareGroupStateSummaryRequestData().setGroupId(groupId);
            byTopic.forEach((id, ops) -> d.topics().add(new ReadShareGroupStateSummaryRequestData.ReadStateSummaryData().setTopicId(id)
                    .setPartitions(ops.stream().map(o -> new ReadShareGroupStateSummaryRequestData.PartitionData().setPartition(o.key().partition())
                            .setLeaderEpoch(-1)).toList())));
            return new ReadShareGroupStateSummaryRequest.Builder(d).build(SUMMARY_VERSION);
        }
        if (kind == ShareStateStore.Write.class) {
            WriteShareGroupStateRequestData d = new WriteShareGroupStateRequestData().setGroupId(groupId);
            byTopic.forEach((id, ops) -> d.topics().add(new WriteShareGroupStateRequestData.WriteStateData().setTopicId(id).setPartitions(ops.stream()
                    .map(o -> {
                        ShareSnapshot s = ((ShareStateStore.Write) o).state();
                        return new WriteShareGroupStateRequestData.PartitionData().setPartition(o.key().partition()).setStateEpoch(s.stateEpoch())
                                .setLeaderEpoch(s.leaderEpoch()).setStartOffset(s.startOffset()).setDeliveryCompleteCount(s.deliveryCompleteCount())
                                .setStateBatches(s.batches().stream().map(b -> new WriteShareGroupStateRequestData.StateBatch()
                                        .setFirstOffset(b.firstOffset()).setLastOffset(b.lastOffset()).setDeliveryState(b.deliveryState())
                                        .setDeliveryCount(b.deliveryCount())).toList());
                    }).toList())));
            return new WriteShareGroupStateRequest.Builder(d).build(WRITE_VERSION);
        }
        if (kind == ShareStateStore.Initialize.class) {
            InitializeShareGroupStateRequestData d = new InitializeShareGroupStateRequestData().setGroupId(groupId);
            byTopic.forEach((id, ops) -> d.topics().add(new InitializeShareGroupStateRequestData.InitializeStateData().setTopicId(id)
                    .setPartitions(ops.stream().map(o -> {
                        ShareStateStore.Initialize i = (ShareStateStore.Initialize) o;
                        return new InitializeShareGroupStateRequestData.PartitionData().setPartition(o.key().partition())
                                .setStateEpoch(i.stateEpoch()).setStartOffset(i.startOffset());
                    }).toList())));
            return new InitializeShareGroupStateRequest.Builder(d).build(INITIALIZE_VERSION);
        }
        DeleteShareGroupStateRequestData d = new DeleteShareGroupStateRequestData().setGroupId(groupId);
        byTopic.forEach((id, ops) -> d.topics().add(new DeleteShareGroupStateRequestData.DeleteStateData().setTopicId(id)
                .setPartitions(ops.stream().map(o -> new DeleteShareGroupStateRequestData.PartitionData().setPartition(o.key().partition())).toList())));
        return new DeleteShareGroupStateRequest.Builder(d).build(DELETE_VERSION);
    }

    /** Each share-partition's answer in a response. */
    private static Map<ShareSnapshot.Key, Answer> answers(String groupId, AbstractResponse response) {
        Map<ShareSnapshot.Key, Answer> out = new HashMap<>();
        if (response instanceof ReadShareGroupStateResponse r) {
            r.data().results().forEach(t -> t.partitions().forEach(p -> {
                Errors e = Errors.forCode(p.errorCode());
                ShareSnapshot s = e != Errors.NONE || p.startOffset() < 0 ? null : new ShareSnapshot(-1, p.stateEpoch(), -1, p.startOffset(), -1, -1, -1,
                        p.stateBatches().stream().map(b -> new ShareSnapshot.StateBatch(b.firstOffset(), b.lastOffset(), b.deliveryState(),
                                b.deliveryCount())).toList());
                out.put(new ShareSnapshot.Key(groupId, t.topicId(), p.partition()), new Answer(e, s));
            }));
        } else if (response instanceof ReadShareGroupStateSummaryResponse r) {
            r.data().results().forEach(t -> t.partitions().forEach(p -> {
                Errors e = Errors.forCode(p.errorCode());
                ShareSnapshot s = e != Errors.NONE || p.startOffset() < 0 ? null
                        : new ShareSnapshot(-1, p.stateEpoch(), p.leaderEpoch(), p.startOffset(), p.deliveryCompleteCount(), -1, -1, List.of());
                out.put(new ShareSnapshot.Key(groupId, t.topicId(), p.partition()), new Answer(e, s));
            }));
        } else if (response instanceof WriteShareGroupStateResponse r) {
            r.data().results().forEach(t -> t.partitions().forEach(p ->
                    out.put(new ShareSnapshot.Key(groupId, t.topicId(), p.partition()), Answer.of(Errors.forCode(p.errorCode())))));
        } else if (response instanceof InitializeShareGroupStateResponse r) {
            r.data().results().forEach(t -> t.partitions().forEach(p ->
                    out.put(new ShareSnapshot.Key(groupId, t.topicId(), p.partition()), Answer.of(Errors.forCode(p.errorCode())))));
        } else if (response instanceof DeleteShareGroupStateResponse r) {
            r.data().results().forEach(t -> t.partitions().forEach(p ->
                    out.put(new ShareSnapshot.Key(groupId, t.topicId(), p.partition()), Answer.of(Errors.forCode(p.errorCode())))));
        }
        return out;
    }

    /** Closes the connections (the broker is stopping). */
    public void stop() {
        context.runOnContext(v -> {
            nodes.values().forEach(n -> {
                if (n.client != null) n.client.close();
                n.waiting.values().forEach(b -> b.values().forEach(w -> w.answer(Answer.of(Errors.NETWORK_EXCEPTION))));
            });
            nodes.clear();
        });
    }
}
