package io.runnel.http;

import io.vertx.core.json.JsonObject;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.NetworkException;
import org.apache.kafka.common.errors.ThrottlingQuotaExceededException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.protocol.Errors;

/**
 * An error of the HTTP and WebSocket APIs: an HTTP status, a stable code (Kafka's error name where the error is
 * Kafka's, else one of this API's own, such as {@code BAD_REQUEST}) and a message for a person.
 */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String code;

    public ApiError(int status, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
    }

    /** A malformed request: 400 with code BAD_REQUEST. */
    public static ApiError badRequest(String message) {
        return new ApiError(400, "BAD_REQUEST", message);
    }

    public static ApiError unknownTopic(String topic) {
        return new ApiError(404, Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Topic '" + topic + "' does not exist");
    }

    public static ApiError unknownPartition(String topic, int partition) {
        return new ApiError(404, Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Topic '" + topic + "' has no partition " + partition);
    }

    /**
     * A partition this broker does not hold (in a cluster): 421 Misdirected Request with Kafka's
     * NOT_LEADER_OR_FOLLOWER, naming the leader.
     */
    public static ApiError notHere(String topic, int partition, int leader) {
        return new ApiError(421, Errors.NOT_LEADER_OR_FOLLOWER.name(), "Partition " + partition + " of topic '" + topic + "' is "
                + (leader < 0 ? "offline" : "led by broker " + leader + "; ask that broker"));
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public JsonObject toJson() {
        return new JsonObject().put("status", status).put("code", code).put("message", getMessage());
    }

    /** Maps a failure of the broker's own calls (Kafka exceptions) to the status and code an HTTP client gets. */
    public static ApiError of(Throwable e) {
        if (e instanceof ApiError a) return a;
        if (e instanceof UnknownTopicOrPartitionException) return new ApiError(404, Errors.forException(e).name(), e.getMessage());
        if (e instanceof TopicExistsException) return new ApiError(409, Errors.forException(e).name(), e.getMessage());
        if (e instanceof OffsetOutOfRangeException) return new ApiError(416, Errors.forException(e).name(), e.getMessage());
        // A partition this broker follows: as for one it does not hold (notHere), the client asks its leader.
        if (e instanceof NotLeaderOrFollowerException) return new ApiError(421, Errors.forException(e).name(), e.getMessage());
        if (e instanceof RecordTooLargeException) return new ApiError(413, Errors.forException(e).name(), e.getMessage());
        if (e instanceof BrokerNotAvailableException) return new ApiError(503, Errors.forException(e).name(), e.getMessage());
        // The connection to a partition's leader failed (the call is carried out there): try again.
        if (e instanceof NetworkException || e instanceof ThrottlingQuotaExceededException) return new ApiError(503, Errors.forException(e).name(), e.getMessage());
        if (e instanceof java.io.IOException) return new ApiError(503, Errors.NETWORK_EXCEPTION.name(), e.getClass().getSimpleName() + ": " + e.getMessage());
        // A full or failing disk: the write may succeed later (KAFKA_STORAGE_ERROR is retriable for Kafka clients too).
        if (e instanceof KafkaStorageException) return new ApiError(503, Errors.forException(e).name(), e.getMessage());
        if (e instanceof InvalidTopicException || e instanceof InvalidPartitionsException || e instanceof InvalidConfigurationException
                || e instanceof InvalidReplicationFactorException) {
            return new ApiError(400, Errors.forException(e).name(), e.getMessage());
        }
        // A producer whose transactional id another one took: a conflict, not a bad request.
        if (e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException) return new ApiError(409, Errors.forException(e).name(), e.getMessage());
        if (e instanceof ApiException) return new ApiError(400, Errors.forException(e).name(), e.getMessage());
        return new ApiError(500, "INTERNAL_ERROR", e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }
}
