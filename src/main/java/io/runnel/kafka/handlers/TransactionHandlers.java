package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.group.CommittedOffset;
import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TxnVerification;
import io.runnel.transaction.TxnMetadata;
import io.runnel.transaction.TxnState;
import io.runnel.transaction.TxnVerifier;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.NotCoordinatorException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.message.AddOffsetsToTxnResponseData;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTransaction;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData;
import org.apache.kafka.common.message.AddPartitionsToTxnResponseData.AddPartitionsToTxnResultCollection;
import org.apache.kafka.common.message.AddPartitionsToTxnResponseData;
import org.apache.kafka.common.message.DescribeTransactionsResponseData;
import org.apache.kafka.common.message.EndTxnResponseData;
import org.apache.kafka.common.message.ListTransactionsResponseData;
import org.apache.kafka.common.message.TxnOffsetCommitRequestData;
import org.apache.kafka.common.message.TxnOffsetCommitResponseData.TxnOffsetCommitResponsePartition;
import org.apache.kafka.common.message.TxnOffsetCommitResponseData.TxnOffsetCommitResponseTopic;
import org.apache.kafka.common.message.TxnOffsetCommitResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.AddOffsetsToTxnRequest;
import org.apache.kafka.common.requests.AddOffsetsToTxnResponse;
import org.apache.kafka.common.requests.AddPartitionsToTxnRequest;
import org.apache.kafka.common.requests.AddPartitionsToTxnResponse;
import org.apache.kafka.common.requests.DescribeTransactionsRequest;
import org.apache.kafka.common.requests.DescribeTransactionsResponse;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.EndTxnResponse;
import org.apache.kafka.common.requests.ListTransactionsRequest;
import org.apache.kafka.common.requests.ListTransactionsResponse;
import org.apache.kafka.common.requests.TxnOffsetCommitRequest;
import org.apache.kafka.common.requests.TxnOffsetCommitResponse;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The transaction coordinator's APIs for producers (KIP-98, and KIP-890's transactions version 2): AddPartitionsToTxn
 * in its client form (v0 to v3) and its broker form (v4 and v5: partition leaders verify partitions, or add them under
 * version 2), AddOffsetsToTxn (the group's {@code __consumer_offsets} partition joins the transaction), EndTxn (v5
 * bumps the epoch and answers the next one); and the group coordinator's TxnOffsetCommit (offsets committed in the
 * transaction, visible once it commits; KIP-447's member check; v5 adds the offsets partition to the transaction); DescribeTransactions and ListTransactions (KIP-664) for operators. InitProducerId with a transactional id is in {@link InitProducerIdHandler},
 * FindCoordinator for transactional ids in {@link FindCoordinatorHandler}. The coordinator's errors
 * (NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE) are
 * answered as Kafka does; clients retry the retriable ones.
 */
public final class TransactionHandlers {
    private TransactionHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new AddPartitions(), new AddOffsets(), new TxnOffsetCommit(), new EndTxn(), new Describe(), new ListAll());
    }

    static final class AddPartitions extends TypedApiHandler<AddPartitionsToTxnRequest> {
        AddPartitions() {
            super(ApiKeys.ADD_PARTITIONS_TO_TXN, AddPartitionsToTxnRequest.class);
        }

        /** Versions 4 and 5 are the broker form (KIP-890): several transactions, each verified or added for its producer. */
        @Override
        public short maxVersion() {
            return 5;
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, AddPartitionsToTxnRequest request) {
            AddPartitionsToTxnRequestData d = request.data();
            if (ctx.apiVersion() >= 4) {
                // The broker form: Kafka's check is CLUSTER_ACTION on the cluster.
                if (!ctx.authorizeCluster(AclOperation.CLUSTER_ACTION)) {
                    return Future.succeededFuture(new AddPartitionsToTxnResponse(new AddPartitionsToTxnResponseData()
                            .setErrorCode(Errors.CLUSTER_AUTHORIZATION_FAILED.code())));
                }
                return serveBrokers(ctx, d);
            }
            Set<TopicPartition> partitions = new LinkedHashSet<>(AddPartitionsToTxnRequest.getPartitions(d.v3AndBelowTopics()));
            // Kafka's checks: WRITE on the transactional id (else every partition fails), WRITE on each topic.
            if (!ctx.authorizeTransactionalId(AclOperation.WRITE, d.v3AndBelowTransactionalId())) {
                Map<TopicPartition, Errors> errors = new LinkedHashMap<>();
                for (TopicPartition tp : partitions) errors.put(tp, Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
                return Future.succeededFuture(response(errors));
            }
            Map<TopicPartition, Errors> denied = new LinkedHashMap<>();
            for (TopicPartition tp : partitions) if (!ctx.authorizeTopic(AclOperation.WRITE, tp.topic())) denied.put(tp, Errors.TOPIC_AUTHORIZATION_FAILED);
            if (!denied.isEmpty()) {
                Map<TopicPartition, Errors> errors = new LinkedHashMap<>();
                for (TopicPartition tp : partitions) errors.put(tp, denied.getOrDefault(tp, Errors.OPERATION_NOT_ATTEMPTED));
                return Future.succeededFuture(response(errors));
            }
            // As Kafka: partitions of unknown topics fail alone, and the others are then not attempted.
            Map<TopicPartition, Errors> unknown = new LinkedHashMap<>();
            for (TopicPartition tp : partitions) {
                Optional<LocalTopic> t = ctx.broker().topics().topic(tp.topic());
                if (t.isEmpty() || tp.partition() < 0 || tp.partition() >= t.get().partitions().size()) unknown.put(tp, Errors.UNKNOWN_TOPIC_OR_PARTITION);
            }
            if (!unknown.isEmpty()) {
                Map<TopicPartition, Errors> errors = new LinkedHashMap<>();
                for (TopicPartition tp : partitions) errors.put(tp, unknown.getOrDefault(tp, Errors.OPERATION_NOT_ATTEMPTED));
                return Future.succeededFuture(response(errors));
            }
            return ctx.broker().transactions().addPartitions(d.v3AndBelowTransactionalId(), d.v3AndBelowProducerId(), d.v3AndBelowProducerEpoch(), partitions,
                            TxnMetadata.TV_1)
                    .transform(ar -> {
                        Errors e = ar.succeeded() ? Errors.NONE : Errors.forException(ar.cause());
                        Map<TopicPartition, Errors> errors = new LinkedHashMap<>();
                        for (TopicPartition tp : partitions) errors.put(tp, e);
                        return Future.succeededFuture(response(errors));
                    });
        }

        /**
         * The broker form: a partition leader (or group coordinator) asks, for each transaction, whether partitions are in
         * it ({@code verifyOnly}) or adds them under transactions version 2; each transaction is answered per partition.
         */
        private static Future<AbstractResponse> serveBrokers(RequestContext ctx, AddPartitionsToTxnRequestData d) {
            List<String> ids = new ArrayList<>();
            List<Future<Map<TopicPartition, Errors>>> answers = new ArrayList<>();
            for (AddPartitionsToTxnTransaction t : d.transactions()) {
                Set<TopicPartition> partitions = new LinkedHashSet<>();
                for (var topic : t.topics()) for (int p : topic.partitions()) partitions.add(new TopicPartition(topic.name(), p));
                ids.add(t.transactionalId());
                answers.add(ctx.broker().transactions().joinOrVerify(t.transactionalId(), t.producerId(), t.producerEpoch(), partitions, t.verifyOnly()));
            }
            return Future.all(answers).map(x -> {
                AddPartitionsToTxnResultCollection results = new AddPartitionsToTxnResultCollection();
                for (int i = 0; i < ids.size(); i++) results.add(AddPartitionsToTxnResponse.resultForTransaction(ids.get(i), answers.get(i).result()));
                return new AddPartitionsToTxnResponse(new AddPartitionsToTxnResponseData().setResultsByTransaction(results));
            });
        }

        private static AbstractResponse response(Map<TopicPartition, Errors> errors) {
            return new AddPartitionsToTxnResponse(new AddPartitionsToTxnResponseData().setResultsByTopicV3AndBelow(
                    AddPartitionsToTxnResponse.resultForTransaction(AddPartitionsToTxnResponse.V3_AND_BELOW_TXN_ID, errors).topicResults()));
        }
    }

    static final class AddOffsets extends TypedApiHandler<AddOffsetsToTxnRequest> {
        AddOffsets() {
            super(ApiKeys.ADD_OFFSETS_TO_TXN, AddOffsetsToTxnRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, AddOffsetsToTxnRequest request) {
            var d = request.data();
            // Kafka's checks: WRITE on the transactional id, READ on the group.
            if (!ctx.authorizeTransactionalId(AclOperation.WRITE, d.transactionalId())) {
                return Future.succeededFuture(new AddOffsetsToTxnResponse(new AddOffsetsToTxnResponseData()
                        .setErrorCode(Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code())));
            }
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) {
                return Future.succeededFuture(new AddOffsetsToTxnResponse(new AddOffsetsToTxnResponseData().setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())));
            }
            // The group's offsets partition joins the transaction: the coordinator's markers end the offsets committed there.
            return ctx.broker().groups().ensureReady()
                    .compose(v -> ctx.broker().transactions().addPartitions(d.transactionalId(), d.producerId(), d.producerEpoch(),
                            Set.of(new TopicPartition(InternalTopics.CONSUMER_OFFSETS, ctx.broker().groups().partitionFor(d.groupId()))), TxnMetadata.TV_1))
                    .transform(ar -> Future.succeededFuture(new AddOffsetsToTxnResponse(new AddOffsetsToTxnResponseData()
                            .setErrorCode((ar.succeeded() ? Errors.NONE : Errors.forException(ar.cause())).code()))));
        }
    }

    static final class TxnOffsetCommit extends TypedApiHandler<TxnOffsetCommitRequest> {
        TxnOffsetCommit() {
            super(ApiKeys.TXN_OFFSET_COMMIT, TxnOffsetCommitRequest.class);
        }

        /** Version 5 belongs to transactions version 2 (KIP-890): the group's offsets partition joins the transaction here. */
        @Override
        public short maxVersion() {
            return 5;
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, TxnOffsetCommitRequest request) {
            TxnOffsetCommitRequestData d = request.data();
            Map<TopicPartition, CommittedOffset> commits = new LinkedHashMap<>();
            List<TxnOffsetCommitResponseTopic> topics = new ArrayList<>();
            List<TxnOffsetCommitResponsePartition> all = new ArrayList<>();
            // Kafka's checks: READ on the group (else every partition fails), READ on each topic.
            boolean groupAllowed = ctx.authorizeGroup(AclOperation.READ, d.groupId());
            for (var t : d.topics()) {
                TxnOffsetCommitResponseTopic rt = new TxnOffsetCommitResponseTopic().setName(t.name());
                topics.add(rt);
                boolean topicAllowed = groupAllowed && ctx.authorizeTopic(AclOperation.READ, t.name());
                for (var p : t.partitions()) {
                    TxnOffsetCommitResponsePartition rp = new TxnOffsetCommitResponsePartition().setPartitionIndex(p.partitionIndex());
                    rt.partitions().add(rp);
                    if (!groupAllowed || !topicAllowed) {
                        rp.setErrorCode((groupAllowed ? Errors.TOPIC_AUTHORIZATION_FAILED : Errors.GROUP_AUTHORIZATION_FAILED).code());
                        continue;
                    }
                    all.add(rp);
                    commits.put(new TopicPartition(t.name(), p.partitionIndex()), new CommittedOffset(p.committedOffset(), p.committedLeaderEpoch(),
                            p.committedMetadata() == null ? "" : p.committedMetadata()));
                }
            }
            if (commits.isEmpty()) return Future.succeededFuture(new TxnOffsetCommitResponse(new TxnOffsetCommitResponseData().setTopics(topics)));
            return joined(ctx, d)
                    .compose(verification -> ctx.broker().groups().commitOffsetsInTransaction(d.groupId(), d.producerId(), d.producerEpoch(),
                            d.generationIdOrMemberEpoch(), d.memberId(), commits, verification))
                    .otherwise(Errors::forException)
                    .map(error -> {
                        all.forEach(rp -> rp.setErrorCode(error.code()));
                        return new TxnOffsetCommitResponse(new TxnOffsetCommitResponseData().setTopics(topics));
                    });
        }
    }

    /**
     * The group's {@code __consumer_offsets} partition in the producer's transaction, as Kafka's group coordinator
     * makes sure before it takes transactional offsets: added under transactions version 2 (v5), verified for the
     * earlier versions (KIP-890 part 1, unless {@code transaction.partition.verification.enable} is off). A coordinator
     * that is moving or out of reach is answered CONCURRENT_TRANSACTIONS, which the producer retries without looking
     * for the group's coordinator again.
     */
    static Future<TxnVerification> joined(RequestContext ctx, TxnOffsetCommitRequestData d) {
        short version = ctx.apiVersion();
        if (version < 5 && !ctx.broker().config().get(BrokerConfig.TRANSACTION_PARTITION_VERIFICATION_ENABLE)) {
            return Future.succeededFuture(TxnVerification.NONE);
        }
        TxnVerifier.Mode mode = version >= 5 ? TxnVerifier.Mode.ADD : version == 4 ? TxnVerifier.Mode.VERIFY : TxnVerifier.Mode.VERIFY_LEGACY;
        return ctx.broker().groups().ensureReady().compose(v -> {
            TopicPartition offsets = new TopicPartition(InternalTopics.CONSUMER_OFFSETS, ctx.broker().groups().partitionFor(d.groupId()));
            Optional<PartitionHandle> partition = ctx.broker().topics().partition(offsets.topic(), offsets.partition());
            if (partition.isEmpty()) return Future.failedFuture(new NotCoordinatorException("This broker does not coordinate group " + d.groupId()));
            return partition.get().startTxnVerification(d.producerId(), d.producerEpoch(), 0, version >= 5)
                    .recover(e -> Future.failedFuture(e instanceof NotLeaderOrFollowerException
                            ? new NotCoordinatorException("This broker does not coordinate group " + d.groupId()) : e))
                    .compose(started -> !started.needsCoordinator() ? Future.succeededFuture(started)
                            : ctx.broker().txnVerifier().check(d.transactionalId(), d.producerId(), d.producerEpoch(), Set.of(offsets), mode)
                            .compose(errors -> {
                                Errors e = errors.get(offsets);
                                if (e == null) return Future.succeededFuture(started);
                                if (TxnVerifier.coordinatorUnavailable(e)) e = Errors.CONCURRENT_TRANSACTIONS;
                                return Future.failedFuture(e.exception("The offsets partition of group " + d.groupId()
                                        + " is not in the transaction of " + d.transactionalId() + ": " + e.name()));
                            }));
        });
    }

    static final class Describe extends TypedApiHandler<DescribeTransactionsRequest> {
        Describe() {
            super(ApiKeys.DESCRIBE_TRANSACTIONS, DescribeTransactionsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DescribeTransactionsRequest request) {
            List<Future<DescribeTransactionsResponseData.TransactionState>> all = new ArrayList<>();
            for (String id : request.data().transactionalIds()) {
                if (!ctx.authorizeTransactionalId(AclOperation.DESCRIBE, id)) { // Kafka: DESCRIBE on the transactional id
                    all.add(Future.succeededFuture(new DescribeTransactionsResponseData.TransactionState().setTransactionalId(id)
                            .setErrorCode(Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code())));
                    continue;
                }
                all.add(ctx.broker().transactions().describe(id).transform(ar -> {
                    var out = new DescribeTransactionsResponseData.TransactionState().setTransactionalId(id);
                    if (ar.failed()) return Future.succeededFuture(out.setErrorCode(Errors.forException(ar.cause()).code()));
                    TxnMetadata m = ar.result();
                    if (m == null) return Future.succeededFuture(out.setErrorCode(Errors.TRANSACTIONAL_ID_NOT_FOUND.code()));
                    out.setTransactionState(m.state().kafkaName()).setTransactionTimeoutMs(m.timeoutMs()).setTransactionStartTimeMs(m.txnStartTimestamp())
                            .setProducerId(m.producerId()).setProducerEpoch(m.producerEpoch());
                    Map<String, List<Integer>> byTopic = new LinkedHashMap<>();
                    for (TopicPartition tp : m.partitions()) byTopic.computeIfAbsent(tp.topic(), t -> new ArrayList<>()).add(tp.partition());
                    byTopic.forEach((t, ps) -> out.topics().add(new DescribeTransactionsResponseData.TopicData().setTopic(t).setPartitions(ps)));
                    return Future.succeededFuture(out);
                }));
            }
            return Future.all(all).map(cf -> new DescribeTransactionsResponse(new DescribeTransactionsResponseData()
                    .setTransactionStates(all.stream().map(Future::result).toList())));
        }
    }

    static final class ListAll extends TypedApiHandler<ListTransactionsRequest> {
        ListAll() {
            super(ApiKeys.LIST_TRANSACTIONS, ListTransactionsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ListTransactionsRequest request) {
            var d = request.data();
            Set<String> known = new LinkedHashSet<>();
            for (TxnState s : TxnState.values()) known.add(s.kafkaName());
            List<String> unknownStates = d.stateFilters().stream().filter(s -> !known.contains(s)).toList();
            long now = System.currentTimeMillis();
            Pattern idPattern;
            try {
                idPattern = d.transactionalIdPattern() == null || d.transactionalIdPattern().isEmpty() ? null : Pattern.compile(d.transactionalIdPattern());
            } catch (PatternSyntaxException e) {
                return Future.succeededFuture(new ListTransactionsResponse(new ListTransactionsResponseData().setErrorCode(Errors.INVALID_REGULAR_EXPRESSION.code())));
            }
            return ctx.broker().transactions().list().map(all -> {
                List<ListTransactionsResponseData.TransactionState> out = new ArrayList<>();
                for (TxnMetadata m : all) {
                    if (!d.stateFilters().isEmpty() && !d.stateFilters().contains(m.state().kafkaName())) continue;
                    if (!d.producerIdFilters().isEmpty() && !d.producerIdFilters().contains(m.producerId())) continue;
                    // KIP-994: only transactions running for longer than the duration (ongoing ones have a start time).
                    if (d.durationFilter() >= 0 && (m.txnStartTimestamp() < 0 || now - m.txnStartTimestamp() <= d.durationFilter())) continue;
                    if (idPattern != null && !idPattern.matcher(m.transactionalId()).matches()) continue;
                    if (!ctx.authorizeQuietly(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, m.transactionalId())) continue; // Kafka lists the describable
                    out.add(new ListTransactionsResponseData.TransactionState().setTransactionalId(m.transactionalId()).setProducerId(m.producerId())
                            .setTransactionState(m.state().kafkaName()));
                }
                return new ListTransactionsResponse(new ListTransactionsResponseData().setUnknownStateFilters(unknownStates).setTransactionStates(out));
            });
        }
    }

    static final class EndTxn extends TypedApiHandler<EndTxnRequest> {
        EndTxn() {
            super(ApiKeys.END_TXN, EndTxnRequest.class);
        }

        /** Version 5 bumps the epoch with each transaction (transactions version 2, KIP-890) and answers the new one. */
        @Override
        public short maxVersion() {
            return 5;
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, EndTxnRequest request) {
            var d = request.data();
            boolean v2 = ctx.apiVersion() >= 5;
            if (!ctx.authorizeTransactionalId(AclOperation.WRITE, d.transactionalId())) { // Kafka: WRITE on the transactional id
                return Future.succeededFuture(new EndTxnResponse(new EndTxnResponseData().setErrorCode(Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code())));
            }
            return ctx.broker().transactions().endTransaction(d.transactionalId(), d.producerId(), d.producerEpoch(), d.committed(),
                            v2 ? TxnMetadata.TV_2 : TxnMetadata.TV_1)
                    .transform(ar -> {
                        EndTxnResponseData out = new EndTxnResponseData().setErrorCode((ar.succeeded() ? Errors.NONE : Errors.forException(ar.cause())).code());
                        if (v2 && ar.succeeded()) out.setProducerId(ar.result().producerId()).setProducerEpoch(ar.result().epoch());
                        return Future.succeededFuture(new EndTxnResponse(out));
                    });
        }
    }
}
