package io.runnel.transaction;

import io.vertx.core.Future;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;

/**
 * Writes a transaction's end markers to the leaders of its partitions (WriteTxnMarkers; a partition this broker leads
 * is written directly). Completes with the partitions that are done: marked, or gone (a deleted topic has nothing to
 * end); the coordinator retries the others.
 */
public interface MarkerWriter {
    Future<Set<TopicPartition>> write(long producerId, short producerEpoch, int coordinatorEpoch, boolean commit, Set<TopicPartition> partitions);
}
