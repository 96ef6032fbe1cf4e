package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.security.Authorizer;
import io.vertx.core.Future;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.InitProducerIdResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.resource.ResourceType;

/**
 * InitProducerId. For an idempotent producer (no transactional id): always a new producer id with epoch 0, also when
 * the producer sends its old id and epoch to be bumped (KIP-360), as Kafka does for producers without a
 * transactional id. For a transactional id: the transaction coordinator's producer id and a bumped epoch, which
 * fences the id's previous producer (see {@code TransactionShard}); errors as Kafka's (NOT_COORDINATOR,
 * CONCURRENT_TRANSACTIONS while the previous producer's transaction is aborted, INVALID_TRANSACTION_TIMEOUT,
 * PRODUCER_FENCED).
 */
public final class InitProducerIdHandler extends TypedApiHandler<InitProducerIdRequest> {
    public InitProducerIdHandler() {
        super(ApiKeys.INIT_PRODUCER_ID, InitProducerIdRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, InitProducerIdRequest request) {
        InitProducerIdRequestData r = request.data();
        InitProducerIdResponseData out = new InitProducerIdResponseData().setProducerId(RecordBatch.NO_PRODUCER_ID)
                .setProducerEpoch(RecordBatch.NO_PRODUCER_EPOCH);
        // Kafka's checks: WRITE on the transactional id; an idempotent producer needs IDEMPOTENT_WRITE on the cluster or
        // WRITE on some topic (KIP-679).
        if (r.transactionalId() != null && !ctx.authorizeTransactionalId(AclOperation.WRITE, r.transactionalId())) {
            return Future.succeededFuture(new InitProducerIdResponse(out.setErrorCode(Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code())));
        }
        if (r.transactionalId() == null && !ctx.authorizeQuietly(AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, Authorizer.CLUSTER)
                && !ctx.security().authorizer().authorizeAny(ctx.session().principal(), ctx.clientHost(), AclOperation.WRITE, ResourceType.TOPIC)) {
            return Future.succeededFuture(new InitProducerIdResponse(out.setErrorCode(Errors.CLUSTER_AUTHORIZATION_FAILED.code())));
        }
        if (r.transactionalId() != null) {
            return ctx.broker().transactions().initProducerId(r.transactionalId(), r.transactionTimeoutMs(), r.producerId(), r.producerEpoch())
                    .transform(ar -> Future.succeededFuture(new InitProducerIdResponse(ar.succeeded()
                            ? out.setProducerId(ar.result().producerId()).setProducerEpoch(ar.result().epoch())
                            : out.setErrorCode(Errors.forException(ar.cause()).code()))));
        }
        return ctx.broker().producerIds().nextProducerId()
                .map(id -> new InitProducerIdResponse(out.setProducerId(id).setProducerEpoch((short) 0)));
    }
}
