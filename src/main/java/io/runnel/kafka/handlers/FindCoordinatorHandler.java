package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.FindCoordinatorResponseData.Coordinator;
import org.apache.kafka.common.message.FindCoordinatorResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.FindCoordinatorRequest;
import org.apache.kafka.common.requests.FindCoordinatorResponse;

/**
 * FindCoordinator, one key (v0 to v3) or a batch (v4+). A group's coordinator is the leader of its __consumer_offsets
 * partition, a transactional id's the leader of its __transaction_state partition (this broker when it runs alone);
 * the first request of each kind creates its topic. Other key types (share groups) get INVALID_REQUEST.
 */
public final class FindCoordinatorHandler extends TypedApiHandler<FindCoordinatorRequest> {
    public FindCoordinatorHandler() {
        super(ApiKeys.FIND_COORDINATOR, FindCoordinatorRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, FindCoordinatorRequest r) {
        byte type = r.data().keyType();
        boolean group = type == FindCoordinatorRequest.CoordinatorType.GROUP.id();
        boolean transaction = type == FindCoordinatorRequest.CoordinatorType.TRANSACTION.id();
        List<String> keys = ctx.apiVersion() >= 4 ? r.data().coordinatorKeys() : List.of(r.data().key());
        Future<Void> ready = group ? ctx.broker().groups().ensureReady() : transaction ? ctx.broker().transactions().ensureReady() : Future.succeededFuture();
        return ready.transform(ar -> {
            boolean known = group || transaction;
            Errors error = !known ? Errors.INVALID_REQUEST : ar.succeeded() ? Errors.NONE : Errors.COORDINATOR_NOT_AVAILABLE;
            String message = !known ? "Coordinator key type " + type + " is not supported" : ar.succeeded() ? null : ar.cause().getMessage();
            ToIntFunction<String> node = group ? ctx.broker().groups()::coordinatorNode : ctx.broker().transactions()::coordinatorNode;
            FindCoordinatorResponseData out = new FindCoordinatorResponseData();
            if (ctx.apiVersion() >= 4) {
                List<Coordinator> coordinators = new ArrayList<>();
                for (String key : keys) coordinators.add(coordinator(ctx, key, error, message, node, group));
                out.setCoordinators(coordinators);
            } else {
                Coordinator c = coordinator(ctx, keys.get(0), error, message, node, group);
                out.setErrorCode(c.errorCode()).setErrorMessage(c.errorMessage()).setNodeId(c.nodeId()).setHost(c.host()).setPort(c.port());
            }
            return Future.succeededFuture(new FindCoordinatorResponse(out));
        });
    }

    private static Coordinator coordinator(RequestContext ctx, String key, Errors error, String message, ToIntFunction<String> coordinatorNode,
                                           boolean group) {
        // Kafka's check: DESCRIBE on the group or transactional id.
        if (error == Errors.NONE && !(group ? ctx.authorizeGroup(AclOperation.DESCRIBE, key) : ctx.authorizeTransactionalId(AclOperation.DESCRIBE, key))) {
            error = group ? Errors.GROUP_AUTHORIZATION_FAILED : Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            message = error.message();
        }
        Coordinator c = new Coordinator().setKey(key).setErrorCode(error.code()).setErrorMessage(message);
        if (error == Errors.NONE) {
            // The leader of the key's partition of the coordinator's topic (in a cluster, maybe another broker).
            int node = coordinatorNode.applyAsInt(key);
            var endpoint = ctx.brokers().stream().filter(b -> b.nodeId() == node).findFirst();
            if (endpoint.isPresent()) return c.setNodeId(node).setHost(endpoint.get().host()).setPort(endpoint.get().port());
            c.setErrorCode(Errors.COORDINATOR_NOT_AVAILABLE.code()).setErrorMessage("The coordinator of " + key + " (broker " + node + ") is offline");
        }
        return c.setNodeId(-1).setHost("").setPort(-1);
    }
}
