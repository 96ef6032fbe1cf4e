package io.runnel.partition;

/**
 * A producer as one partition knows it (DescribeProducers): its id and epoch, its last sequence number (-1 when none
 * is remembered), when it last wrote, the epoch of the coordinator that last ended one of its transactions here (-1:
 * none), and the first offset of its open transaction here (-1: none).
 */
public record ProducerState(long producerId, short epoch, int lastSequence, long lastTimestamp, int coordinatorEpoch, long txnStartOffset) {
}
