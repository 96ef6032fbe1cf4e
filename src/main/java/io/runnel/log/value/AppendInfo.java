package io.runnel.log.value;

/**
 * What an append did: the offsets it assigned, the broker time stamped on it (or -1 under CreateTime), and the
 * log's start offset afterwards, all of which a Produce response reports.
 */
public record AppendInfo(long firstOffset, long lastOffset, int records, long logAppendTimeMs, long logStartOffset) {
}
