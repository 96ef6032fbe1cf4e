package io.runnel.transaction;

import io.vertx.core.Future;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;

/**
 * Writes a transaction's end markers to the leaders of its partitions (WriteTxnMarkers; a partition this broker leads
 * is written directly). Completes with the partitions that are done: marked, or gone (a deleted topic has nothing to
 * end); the coordinator retries the others. {@code transactionVersion} is the transaction's (WriteTxnMarkers v2): a
 * version 2 marker carries an epoch above its transaction's records.
 */
public interface MarkerWriter {
    Future<Set<TopicPartition>> write(long producerId, short producerEpoch, int coordinatorEpoch, boolean commit, byte transactionVersion,
                                      Set<TopicPartition> partitions);
}
