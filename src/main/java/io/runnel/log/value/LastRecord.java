package io.runnel.log.value;

/**
 * What compaction must keep of a producer (Kafka's LogCleaner LastRecord): the last offset of its last data batch, or
 * -1 when the producer has none in its current epoch (an end marker bumped the epoch, as transactions version 2
 * does), in which case the marker of that epoch is what keeps the producer's epoch in the log.
 */
public record LastRecord(long lastDataOffset, short producerEpoch) {
}
