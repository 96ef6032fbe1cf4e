package io.runnel.transaction;

/** A producer id and epoch handed out by InitProducerId. */
public record ProducerIdEpoch(long producerId, short epoch) {
}
