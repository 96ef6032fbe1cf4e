package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData;
import org.apache.kafka.common.message.AddPartitionsToTxnResponseData;
import org.apache.kafka.common.message.EndTxnResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.AddPartitionsToTxnRequest;
import org.apache.kafka.common.requests.AddPartitionsToTxnResponse;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.EndTxnResponse;

/**
 * The transaction coordinator's APIs for producers (KIP-98, transactions version 1): AddPartitionsToTxn in its client
 * form (v0 to v3) and EndTxn (v0 to v4). InitProducerId with a transactional id is in {@link InitProducerIdHandler},
 * FindCoordinator for transactional ids in {@link FindCoordinatorHandler}. The coordinator's errors
 * (NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE) are
 * answered as Kafka does; clients retry the retriable ones.
 */
public final class TransactionHandlers {
    private TransactionHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new AddPartitions(), new EndTxn());
    }

    static final class AddPartitions extends TypedApiHandler<AddPartitionsToTxnRequest> {
        AddPartitions() {
            super(ApiKeys.ADD_PARTITIONS_TO_TXN, AddPartitionsToTxnRequest.class);
        }

        /** The client form only: version 4 and later batch transactions for brokers (KIP-890), not served yet. */
        @Override
        public short maxVersion() {
            return 3;
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, AddPartitionsToTxnRequest request) {
            AddPartitionsToTxnRequestData d = request.data();
            Set<TopicPartition> partitions = new LinkedHashSet<>(AddPartitionsToTxnRequest.getPartitions(d.v3AndBelowTopics()));
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
            return ctx.broker().transactions().addPartitions(d.v3AndBelowTransactionalId(), d.v3AndBelowProducerId(), d.v3AndBelowProducerEpoch(), partitions)
                    .transform(ar -> {
                        Errors e = ar.succeeded() ? Errors.NONE : Errors.forException(ar.cause());
                        Map<TopicPartition, Errors> errors = new LinkedHashMap<>();
                        for (TopicPartition tp : partitions) errors.put(tp, e);
                        return Future.succeededFuture(response(errors));
                    });
        }

        private static AbstractResponse response(Map<TopicPartition, Errors> errors) {
            return new AddPartitionsToTxnResponse(new AddPartitionsToTxnResponseData().setResultsByTopicV3AndBelow(
                    AddPartitionsToTxnResponse.resultForTransaction(AddPartitionsToTxnResponse.V3_AND_BELOW_TXN_ID, errors).topicResults()));
        }
    }

    static final class EndTxn extends TypedApiHandler<EndTxnRequest> {
        EndTxn() {
            super(ApiKeys.END_TXN, EndTxnRequest.class);
        }

        /** Version 5 bumps the epoch with each transaction (transactions version 2, KIP-890), not served yet. */
        @Override
        public short maxVersion() {
            return 4;
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, EndTxnRequest request) {
            var d = request.data();
            return ctx.broker().transactions().endTransaction(d.transactionalId(), d.producerId(), d.producerEpoch(), d.committed())
                    .transform(ar -> Future.succeededFuture(new EndTxnResponse(new EndTxnResponseData()
                            .setErrorCode((ar.succeeded() ? Errors.NONE : Errors.forException(ar.cause())).code()))));
        }
    }
}
