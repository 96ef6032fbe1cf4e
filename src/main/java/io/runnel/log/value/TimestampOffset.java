package io.runnel.log.value;

/** A record's timestamp and offset, the answer to a ListOffsets-by-timestamp lookup. */
public record TimestampOffset(long timestamp, long offset) {
}
