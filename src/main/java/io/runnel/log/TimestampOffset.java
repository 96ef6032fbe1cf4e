package io.runnel.log;

/** A record's timestamp and offset, the answer to a ListOffsets-by-timestamp lookup. */
public record TimestampOffset(long timestamp, long offset) {
}
