package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.partition.TopicAuthority;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.NotControllerException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;

/**
 * The controller as this broker's {@link TopicAuthority}: each decision is a {@link ControllerCommand} sent over the
 * clustered event bus to whichever broker is the controller, and its failure comes back as the Kafka exception the
 * controller raised. No controller answering (none elected yet, or it just changed) is NOT_CONTROLLER, which clients
 * retry.
 */
final class ControllerClient implements TopicAuthority {
    private final Vertx vertx;
    private final IntSupplier nodeId;

    /** @param nodeId this broker's node id (a leader's ISR proposal names it) */
    ControllerClient(Vertx vertx, IntSupplier nodeId) {
        this.vertx = vertx;
        this.nodeId = nodeId;
    }

    @Override
    public Future<Void> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs) {
        return send(new ControllerCommand.Create(name, partitions, replicationFactor, Map.copyOf(configs))).mapEmpty();
    }

    @Override
    public Future<Void> createTopic(String name, List<List<Integer>> assignment, Map<String, String> configs) {
        return send(new ControllerCommand.Create(name, assignment.size(), assignment.get(0).size(), Map.copyOf(configs), assignment)).mapEmpty();
    }

    @Override
    public Future<Void> deleteTopic(String name) {
        return send(new ControllerCommand.Delete(name)).mapEmpty();
    }

    @Override
    public Future<Void> createPartitions(String name, int total) {
        return send(new ControllerCommand.Grow(name, total)).mapEmpty();
    }

    @Override
    public Future<Void> alterTopicConfig(String name, Map<String, String> configs) {
        return send(new ControllerCommand.Configure(name, Map.copyOf(configs))).mapEmpty();
    }

    @Override
    public Future<Map<TopicPartition, ApiError>> electLeaders(boolean unclean, Map<String, List<Integer>> partitions) {
        return send(new ControllerCommand.Elect(unclean, partitions)).map(ControllerCommand::decodeResults);
    }

    @Override
    public Future<Void> reassign(String topic, int partition, List<Integer> replicas, boolean allowReplicationFactorChange) {
        return send(new ControllerCommand.Reassign(topic, partition, replicas, allowReplicationFactorChange)).mapEmpty();
    }

    @Override
    public Future<Integer> alterIsr(String topic, int partition, int leaderEpoch, List<Integer> isr) {
        return send(new ControllerCommand.AlterIsr(topic, partition, nodeId.getAsInt(), leaderEpoch, List.copyOf(isr)))
                .map(reply -> reply.getInteger("partitionEpoch", 0));
    }

    /**
     * This broker's controlled shutdown ({@link ControllerCommand.Shutdown}), answered within {@code timeoutMs}: the
     * partitions ({@code topic-partition}) it still leads that have other replicas.
     */
    Future<List<String>> shutdown(long timeoutMs) {
        return send(new ControllerCommand.Shutdown(nodeId.getAsInt()), timeoutMs)
                .map(reply -> reply.getJsonArray("remaining", new JsonArray()).stream().map(String::valueOf).toList());
    }

    /** The metadata version the quorum has committed, as the controller reads it (-1: it cannot tell). */
    Future<Long> committedVersion() {
        return send(new ControllerCommand.Version()).map(reply -> reply.getLong("version", -1L));
    }

    private Future<JsonObject> send(ControllerCommand c) {
        return send(c, Limits.CLUSTER_CHANGE_TIMEOUT_MS);
    }

    /** Sends a command to the controller and hands back its reply. */
    private Future<JsonObject> send(ControllerCommand c, long timeoutMs) {
        DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs);
        return vertx.eventBus().<JsonObject>request(ControllerCommand.ADDRESS, ControllerCommand.encode(c), options)
                .map(Message::body)
                .recover(e -> {
                    if (e instanceof ReplyException r && r.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
                        Errors error = Errors.forCode((short) r.failureCode());
                        return Future.failedFuture(error == Errors.UNKNOWN_SERVER_ERROR ? new IllegalStateException(r.getMessage())
                                : error.exception(r.getMessage()));
                    }
                    return Future.failedFuture(new NotControllerException("No controller answered: " + e.getMessage()));
                });
    }
}
