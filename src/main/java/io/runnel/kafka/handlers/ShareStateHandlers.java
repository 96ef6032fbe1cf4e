package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.share.ShareSnapshot;
import io.runnel.share.ShareStateStore;
import io.runnel.share.ShareStateStore.Answer;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.DeleteShareGroupStateRequestData;
import org.apache.kafka.common.message.DeleteShareGroupStateResponseData;
import org.apache.kafka.common.message.InitializeShareGroupStateRequestData;
import org.apache.kafka.common.message.InitializeShareGroupStateResponseData;
import org.apache.kafka.common.message.ReadShareGroupStateRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateResponseData;
import org.apache.kafka.common.message.ReadShareGroupStateSummaryRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateSummaryResponseData;
import org.apache.kafka.common.message.WriteShareGroupStateRequestData;
import org.apache.kafka.common.message.WriteShareGroupStateResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
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

/**
 * The share coordinator's inter-broker APIs (KIP-932), which a share-partition's leader sends to the broker leading
 * the {@code __share_group_state} partition of its state: ReadShareGroupState, WriteShareGroupState,
 * InitializeShareGroupState, DeleteShareGroupState and ReadShareGroupStateSummary. Brokers only: each needs
 * CLUSTER_ACTION on the cluster, as Kafka's. A share-partition whose state partition another broker leads is answered
 * NOT_COORDINATOR, which the sender tries again at the new leader. The rules are {@link ShareStateStore}'s.
 */
public final class ShareStateHandlers {
    private ShareStateHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Read(), new Write(), new Initialize(), new Delete(), new Summary());
    }

    /** Serves each partition of a request's topic and gathers the answers in request order. */
    private static <P, R> Future<List<R>> each(RequestContext ctx, List<P> partitions, Function<P, ShareStateStore.Op> op,
                                                BiFunction<P, Answer, R> result) {
        ShareStateStore store = ctx.broker().shares().stateStore();
        List<Future<R>> out = new ArrayList<>();
        for (P p : partitions) {
            out.add(store.serve(op.apply(p)).recover(e -> Future.succeededFuture(Answer.of(Errors.forException(e)))).map(a -> result.apply(p, a)));
        }
        return Future.all(out).map(cf -> out.stream().map(Future::result).toList());
    }

    private static String message(Errors e) {
        return e == Errors.NONE ? null : e.message();
    }

    static final class Read extends TypedApiHandler<ReadShareGroupStateRequest> {
        Read() {
            super(ApiKeys.READ_SHARE_GROUP_STATE, ReadShareGroupStateRequest.class, AclOperation.CLUSTER_ACTION);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ReadShareGroupStateRequest request) {
            ReadShareGroupStateRequestData d = request.data();
            List<Future<ReadShareGroupStateResponseData.ReadStateResult>> topics = new ArrayList<>();
            for (ReadShareGroupStateRequestData.ReadStateData t : d.topics()) {
                topics.add(each(ctx, t.partitions(),
                        p -> new ShareStateStore.Read(new ShareSnapshot.Key(d.groupId(), t.topicId(), p.partition()), p.leaderEpoch()),
                        (p, a) -> {
                            ReadShareGroupStateResponseData.PartitionResult r = new ReadShareGroupStateResponseData.PartitionResult()
                                    .setPartition(p.partition()).setErrorCode(a.error().code()).setErrorMessage(message(a.error()))
                                    .setStartOffset(-1);
                            if (a.state() != null) {
                                r.setStateEpoch(a.state().stateEpoch()).setStartOffset(a.state().startOffset()).setStateBatches(a.state().batches().stream()
                                        .map(b -> new ReadShareGroupStateResponseData.StateBatch().setFirstOffset(b.firstOffset()).setLastOffset(b.lastOffset())
                                                .setDeliveryState(b.deliveryState()).setDeliveryCount(b.deliveryCount())).toList());
                            }
                            return r;
                        }).map(ps -> new ReadShareGroupStateResponseData.ReadStateResult().setTopicId(t.topicId()).setPartitions(ps)));
            }
            return Future.all(topics).map(cf -> new ReadShareGroupStateResponse(new ReadShareGroupStateResponseData()
                    .setResults(topics.stream().map(Future::result).toList())));
        }
    }

    static final class Summary extends TypedApiHandler<ReadShareGroupStateSummaryRequest> {
        Summary() {
            super(ApiKeys.READ_SHARE_GROUP_STATE_SUMMARY, ReadShareGroupStateSummaryRequest.class, AclOperation.CLUSTER_ACTION);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ReadShareGroupStateSummaryRequest request) {
            ReadShareGroupStateSummaryRequestData d = request.data();
            List<Future<ReadShareGroupStateSummaryResponseData.ReadStateSummaryResult>> topics = new ArrayList<>();
            for (ReadShareGroupStateSummaryRequestData.ReadStateSummaryData t : d.topics()) {
                topics.add(each(ctx, t.partitions(),
                        p -> new ShareStateStore.Summary(new ShareSnapshot.Key(d.groupId(), t.topicId(), p.partition())),
                        (p, a) -> {
                            ReadShareGroupStateSummaryResponseData.PartitionResult r = new ReadShareGroupStateSummaryResponseData.PartitionResult()
                                    .setPartition(p.partition()).setErrorCode(a.error().code()).setErrorMessage(message(a.error()))
                                    .setStartOffset(-1).setLeaderEpoch(-1);
                            if (a.state() != null) {
                                r.setStateEpoch(a.state().stateEpoch()).setLeaderEpoch(a.state().leaderEpoch()).setStartOffset(a.state().startOffset())
                                        .setDeliveryCompleteCount(a.state().deliveryCompleteCount());
                            }
                            return r;
                        }).map(ps -> new ReadShareGroupStateSummaryResponseData.ReadStateSummaryResult().setTopicId(t.topicId()).setPartitions(ps)));
            }
            return Future.all(topics).map(cf -> new ReadShareGroupStateSummaryResponse(new ReadShareGroupStateSummaryResponseData()
                    .setResults(topics.stream().map(Future::result).toList())));
        }
    }

    static final class Write extends TypedApiHandler<WriteShareGroupStateRequest> {
        Write() {
            super(ApiKeys.WRITE_SHARE_GROUP_STATE, WriteShareGroupStateRequest.class, AclOperation.CLUSTER_ACTION);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, WriteShareGroupStateRequest request) {
            WriteShareGroupStateRequestData d = request.data();
            List<Future<WriteShareGroupStateResponseData.WriteStateResult>> topics = new ArrayList<>();
            for (WriteShareGroupStateRequestData.WriteStateData t : d.topics()) {
                topics.add(each(ctx, t.partitions(),
                        p -> new ShareStateStore.Write(new ShareSnapshot.Key(d.groupId(), t.topicId(), p.partition()),
                                new ShareSnapshot(-1, p.stateEpoch(), p.leaderEpoch(), p.startOffset(), p.deliveryCompleteCount(), -1,
                                        System.currentTimeMillis(), p.stateBatches().stream().map(b -> new ShareSnapshot.StateBatch(b.firstOffset(),
                                        b.lastOffset(), b.deliveryState(), b.deliveryCount())).toList())),
                        (p, a) -> new WriteShareGroupStateResponseData.PartitionResult().setPartition(p.partition())
                                .setErrorCode(a.error().code()).setErrorMessage(message(a.error())))
                        .map(ps -> new WriteShareGroupStateResponseData.WriteStateResult().setTopicId(t.topicId()).setPartitions(ps)));
            }
            return Future.all(topics).map(cf -> new WriteShareGroupStateResponse(new WriteShareGroupStateResponseData()
                    .setResults(topics.stream().map(Future::result).toList())));
        }
    }

    static final class Initialize extends TypedApiHandler<InitializeShareGroupStateRequest> {
        Initialize() {
            super(ApiKeys.INITIALIZE_SHARE_GROUP_STATE, InitializeShareGroupStateRequest.class, AclOperation.CLUSTER_ACTION);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, InitializeShareGroupStateRequest request) {
            InitializeShareGroupStateRequestData d = request.data();
            List<Future<InitializeShareGroupStateResponseData.InitializeStateResult>> topics = new ArrayList<>();
            for (InitializeShareGroupStateRequestData.InitializeStateData t : d.topics()) {
                topics.add(each(ctx, t.partitions(),
                        p -> new ShareStateStore.Initialize(new ShareSnapshot.Key(d.groupId(), t.topicId(), p.partition()),
                                p.stateEpoch(), p.startOffset()),
                        (p, a) -> new InitializeShareGroupStateResponseData.PartitionResult().setPartition(p.partition())
                                .setErrorCode(a.error().code()).setErrorMessage(message(a.error())))
                        .map(ps -> new InitializeShareGroupStateResponseData.InitializeStateResult().setTopicId(t.topicId()).setPartitions(ps)));
            }
            return Future.all(topics).map(cf -> new InitializeShareGroupStateResponse(new InitializeShareGroupStateResponseData()
                    .setResults(topics.stream().map(Future::result).toList())));
        }
    }

    static final class Delete extends TypedApiHandler<DeleteShareGroupStateRequest> {
        Delete() {
            super(ApiKeys.DELETE_SHARE_GROUP_STATE, DeleteShareGroupStateRequest.class, AclOperation.CLUSTER_ACTION);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DeleteShareGroupStateRequest request) {
            DeleteShareGroupStateRequestData d = request.data();
            List<Future<DeleteShareGroupStateResponseData.DeleteStateResult>> topics = new ArrayList<>();
            for (DeleteShareGroupStateRequestData.DeleteStateData t : d.topics()) {
                topics.add(each(ctx, t.partitions(),
                        p -> new ShareStateStore.Delete(new ShareSnapshot.Key(d.groupId(), t.topicId(), p.partition())),
                        (p, a) -> new DeleteShareGroupStateResponseData.PartitionResult().setPartition(p.partition())
                                .setErrorCode(a.error().code()).setErrorMessage(message(a.error())))
                        .map(ps -> new DeleteShareGroupStateResponseData.DeleteStateResult().setTopicId(t.topicId()).setPartitions(ps)));
            }
            return Future.all(topics).map(cf -> new DeleteShareGroupStateResponse(new DeleteShareGroupStateResponseData()
                    .setResults(topics.stream().map(Future::result).toList())));
        }
    }
}
