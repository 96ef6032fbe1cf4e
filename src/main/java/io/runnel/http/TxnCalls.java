package io.runnel.http;

import io.runnel.transaction.ProducerIdEpoch;
import io.runnel.transaction.TxnMetadata;
import io.vertx.core.Future;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.EndTxnResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;

/**
 * A WebSocket session's calls to the transaction coordinator of a transactional id: this broker's
 * {@code TransactionCoordinator} when it coordinates the id (or there is no cluster), else the coordinating broker
 * (the leader of the id's {@code __transaction_state} partition) through the inter-broker listener, with the
 * requests a Kafka transactional producer sends: InitProducerId, and EndTxn version 5 (transactions version 2,
 * KIP-890: the coordinator bumps the epoch at each end and answers the new one). Errors come back as the coordinator
 * gave them, as exceptions (NOT_COORDINATOR while it moves, CONCURRENT_TRANSACTIONS while it completes the previous
 * transaction: the caller retries those).
 */
final class TxnCalls {
    private static final short INIT_PRODUCER_ID_VERSION = 5;
    private static final short END_TXN_VERSION = 5;

    private final HttpServices services;

    TxnCalls(HttpServices services) {
        this.services = services;
    }

    /** The broker that coordinates {@code transactionalId} when it is another one and can be asked there; else -1 (ask here). */
    private int elsewhere(String transactionalId) {
        return services.elsewhere(services.transactions().coordinatorNode(transactionalId));
    }

    /** A new epoch of the id's producer id (fencing its previous holder), with transactions of at most {@code timeoutMs}. */
    Future<ProducerIdEpoch> initProducerId(String transactionalId, int timeoutMs) {
        int node = elsewhere(transactionalId);
        if (node < 0) return services.transactions().initProducerId(transactionalId, timeoutMs, RecordBatch.NO_PRODUCER_ID, RecordBatch.NO_PRODUCER_EPOCH);
        InitProducerIdRequestData data = new InitProducerIdRequestData().setTransactionalId(transactionalId).setTransactionTimeoutMs(timeoutMs)
                .setProducerId(RecordBatch.NO_PRODUCER_ID).setProducerEpoch(RecordBatch.NO_PRODUCER_EPOCH);
        return services.links().<InitProducerIdResponse>send(node, new InitProducerIdRequest.Builder(data).build(INIT_PRODUCER_ID_VERSION),
                INIT_PRODUCER_ID_VERSION).compose(r -> r.data().errorCode() != Errors.NONE.code()
                ? Future.failedFuture(Errors.forCode(r.data().errorCode()).exception())
                : Future.succeededFuture(new ProducerIdEpoch(r.data().producerId(), r.data().producerEpoch())));
    }

    /** Commits or aborts the id's open transaction; answers the producer id and epoch of the next one. */
    Future<ProducerIdEpoch> endTransaction(String transactionalId, ProducerIdEpoch pid, boolean commit) {
        int node = elsewhere(transactionalId);
        if (node < 0) return services.transactions().endTransaction(transactionalId, pid.producerId(), pid.epoch(), commit, TxnMetadata.TV_2);
        EndTxnRequestData data = new EndTxnRequestData().setTransactionalId(transactionalId).setProducerId(pid.producerId())
                .setProducerEpoch(pid.epoch()).setCommitted(commit);
        return services.links().<EndTxnResponse>send(node, new EndTxnRequest.Builder(data, true).build(END_TXN_VERSION), END_TXN_VERSION)
                .compose(r -> r.data().errorCode() != Errors.NONE.code()
                        ? Future.failedFuture(Errors.forCode(r.data().errorCode()).exception())
                        : Future.succeededFuture(new ProducerIdEpoch(r.data().producerId(), r.data().producerEpoch())));
    }
}
