package io.runnel.partition;

/**
 * What an append waits for before it counts as done, as a Kafka producer's {@code acks} says: the leader's log only
 * ({@link #LEADER}: acks 0 and 1), or every in-sync replica ({@link #all}: acks=all, -1).
 *
 * @param all               wait for the in-sync replicas
 * @param minInsyncReplicas with {@code all}: the fewest in-sync replicas the write needs (the topic's
 *                          min.insync.replicas), checked before writing and again once replicated
 * @param timeoutMs         with {@code all}: how long to wait for the in-sync replicas (the produce request's timeout;
 *                          below 1 ms, as Kafka's DelayedProduce, the records count only if already replicated)
 */
public record Acks(boolean all, int minInsyncReplicas, long timeoutMs) {
    /** The leader's append is enough. */
    public static final Acks LEADER = new Acks(false, 0, 0);

    public Acks {
        if (all && minInsyncReplicas < 1) throw new IllegalArgumentException("acks=all needs min.insync.replicas >= 1, got " + minInsyncReplicas);
    }

    /** acks=all with the topic's {@code min.insync.replicas}, waiting at most {@code timeoutMs}. */
    public static Acks all(int minInsyncReplicas, long timeoutMs) {
        return new Acks(true, minInsyncReplicas, timeoutMs);
    }
}
