package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.Acks;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.DescribeProducersRequestData;
import org.apache.kafka.common.message.DescribeProducersResponseData.PartitionResponse;
import org.apache.kafka.common.message.DescribeProducersResponseData.ProducerState;
import org.apache.kafka.common.message.DescribeProducersResponseData.TopicResponse;
import org.apache.kafka.common.message.DescribeProducersResponseData;
import org.apache.kafka.common.message.WriteTxnMarkersRequestData.WritableTxnMarker;
import org.apache.kafka.common.message.WriteTxnMarkersRequestData.WritableTxnMarkerTopic;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData.WritableTxnMarkerPartitionResult;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData.WritableTxnMarkerResult;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData.WritableTxnMarkerTopicResult;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.DescribeProducersRequest;
import org.apache.kafka.common.requests.DescribeProducersResponse;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;

/**
 * The partition leader's side of transactions:
 * <ul>
 *   <li>WriteTxnMarkers: a transaction coordinator ends a transaction in the partitions it touched by writing a
 *       COMMIT or ABORT marker in each (KIP-98), as leader and with acks=all (Kafka writes markers with
 *       {@code requiredAcks=-1}); a partition not led here answers NOT_LEADER_OR_FOLLOWER and the coordinator
 *       retries it at the new leader.</li>
 *   <li>DescribeProducers (KIP-664): the producers a partition remembers, with the start offset of their open
 *       transaction there, which is how an operator finds a hanging transaction.</li>
 * </ul>
 */
public final class TransactionPartitionHandlers {
    /** How long a marker waits for the in-sync replicas before the coordinator hears REQUEST_TIMED_OUT and retries. */
    static final long MARKER_TIMEOUT_MS = 30_000;

    private TransactionPartitionHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new WriteMarkers(), new DescribeProducers());
    }

    static final class WriteMarkers extends TypedApiHandler<WriteTxnMarkersRequest> {
        WriteMarkers() {
            super(ApiKeys.WRITE_TXN_MARKERS, WriteTxnMarkersRequest.class, AclOperation.CLUSTER_ACTION); // markers come from brokers only
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, WriteTxnMarkersRequest request) {
            TopicRegistry topics = ctx.broker().topics();
            List<WritableTxnMarkerResult> markers = new ArrayList<>();
            List<Future<?>> all = new ArrayList<>();
            for (WritableTxnMarker m : request.data().markers()) {
                WritableTxnMarkerResult mr = new WritableTxnMarkerResult().setProducerId(m.producerId());
                markers.add(mr);
                for (WritableTxnMarkerTopic t : m.topics()) {
                    WritableTxnMarkerTopicResult tr = new WritableTxnMarkerTopicResult().setName(t.name());
                    mr.topics().add(tr);
                    Optional<LocalTopic> topic = topics.topic(t.name());
                    for (int partition : t.partitionIndexes()) {
                        WritableTxnMarkerPartitionResult pr = new WritableTxnMarkerPartitionResult().setPartitionIndex(partition);
                        tr.partitions().add(pr);
                        Optional<PartitionHandle> h = topics.partition(t.name(), partition);
                        if (topic.isEmpty() || h.isEmpty()) {
                            pr.setErrorCode(Errors.forException(topics.notHere(t.name(), partition)).code());
                            continue;
                        }
                        Acks acks = Acks.all(topic.get().config().minInsyncReplicas(), MARKER_TIMEOUT_MS);
                        all.add(h.get().appendMarker(m.producerId(), m.producerEpoch(), m.coordinatorEpoch(), m.transactionResult(),
                                        m.transactionVersion(), acks)
                                .onComplete(ar -> pr.setErrorCode(ar.succeeded() ? Errors.NONE.code() : Errors.forException(ar.cause()).code())));
                    }
                }
            }
            return Future.join(all).transform(x -> Future.succeededFuture(
                    new WriteTxnMarkersResponse(new WriteTxnMarkersResponseData().setMarkers(markers))));
        }
    }

    static final class DescribeProducers extends TypedApiHandler<DescribeProducersRequest> {
        DescribeProducers() {
            super(ApiKeys.DESCRIBE_PRODUCERS, DescribeProducersRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DescribeProducersRequest request) {
            TopicRegistry topics = ctx.broker().topics();
            List<TopicResponse> out = new ArrayList<>();
            List<Future<?>> all = new ArrayList<>();
            for (DescribeProducersRequestData.TopicRequest t : request.data().topics()) {
                TopicResponse tr = new TopicResponse().setName(t.name());
                out.add(tr);
                boolean readable = ctx.authorizeTopic(AclOperation.READ, t.name()); // Kafka: READ on the topic
                for (int partition : t.partitionIndexes()) {
                    PartitionResponse pr = new PartitionResponse().setPartitionIndex(partition).setErrorMessage(null);
                    tr.partitions().add(pr);
                    if (!readable) {
                        pr.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code());
                        continue;
                    }
                    Optional<PartitionHandle> h = topics.partition(t.name(), partition);
                    if (h.isEmpty()) {
                        RuntimeException e = topics.notHere(t.name(), partition);
                        pr.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage());
                        continue;
                    }
                    all.add(Outcomes.recordError(h.get().producers().map(states -> {
                        for (var s : states) {
                            pr.activeProducers().add(new ProducerState().setProducerId(s.producerId()).setProducerEpoch(s.epoch())
                                    .setLastSequence(s.lastSequence()).setLastTimestamp(s.lastTimestamp()).setCoordinatorEpoch(s.coordinatorEpoch())
                                    .setCurrentTxnStartOffset(s.txnStartOffset()));
                        }
                        return null;
                    }), (code, message) -> pr.setErrorCode(code).setErrorMessage(message)));
                }
            }
            return Future.join(all).transform(x -> Future.succeededFuture(
                    new DescribeProducersResponse(new DescribeProducersResponseData().setTopics(out))));
        }
    }
}
