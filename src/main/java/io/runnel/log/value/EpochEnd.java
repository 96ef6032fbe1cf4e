package io.runnel.log.value;

/** OffsetForLeaderEpoch's answer: the largest epoch at or below the one asked for, and where it ended. */
public record EpochEnd(int epoch, long endOffset) {
}
