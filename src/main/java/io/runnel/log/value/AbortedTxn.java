package io.runnel.log.value;

/**
 * An aborted transaction of one partition (Kafka's {@code AbortedTxn}): the producer, the offset of the transaction's
 * first record in the partition, the offset of its ABORT marker, and the partition's last stable offset when it was
 * aborted.
 */
public record AbortedTxn(long producerId, long firstOffset, long lastOffset, long lastStableOffset) {
}
