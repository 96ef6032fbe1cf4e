package io.runnel.group;

/** An offset as a client commits or fetches it. */
public record CommittedOffset(long offset, int leaderEpoch, String metadata) {
}
