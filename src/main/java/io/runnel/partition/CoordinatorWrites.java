package io.runnel.partition;

import io.vertx.core.Future;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.NotCoordinatorException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.protocol.Errors;

/**
 * A coordinator's failed write to its internal partition (group or transaction records), in the error its clients
 * retry, as Kafka's coordinators answer it (GroupCoordinatorService#handleOperationException,
 * TransactionStateManager's append callback): NOT_COORDINATOR when this broker no longer leads the partition (the
 * client looks the coordinator up again); COORDINATOR_NOT_AVAILABLE when the write was not replicated in time or the
 * partition lacks in-sync replicas (the client retries after a backoff). Passed through as they are, a timed-out
 * write reached the client as REQUEST_TIMED_OUT, which the consumer-protocol Java client treats as fatal.
 */
public final class CoordinatorWrites {
    private CoordinatorWrites() {
    }

    /** The failure of a write by the coordinator of {@code what} (for the message), as its client should see it. */
    public static <T> Future<T> failed(Throwable e, String what) {
        if (e instanceof NotLeaderOrFollowerException || e instanceof KafkaStorageException) {
            return Future.failedFuture(new NotCoordinatorException("This broker stopped coordinating " + what + ": " + e.getMessage()));
        }
        return switch (Errors.forException(e)) {
            case REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND, UNKNOWN_TOPIC_OR_PARTITION ->
                    Future.failedFuture(new CoordinatorNotAvailableException("The change to " + what + " could not be stored: " + e.getMessage()));
            default -> Future.failedFuture(e);
        };
    }
}
