package io.runnel.cluster;

/**
 * How this broker takes part in electing the controller; the winner runs the {@link ControllerRole}. Two ways,
 * chosen by {@code cluster.cp.member.count} (docs/cluster.md): {@link OldestMemberElection} (the oldest Hazelcast
 * member, with a majority of the registered brokers live, claims a controller epoch by compare-and-set) and
 * {@link CpLockElection} (whoever holds a FencedLock of the CP subsystem; its fencing token is the epoch).
 */
interface ControllerElection {
    /** Starts taking part, once this broker has registered. */
    void start();

    /** Something an election depends on changed (members, registrations): decide again. May block. */
    void recheck();

    /** This broker merged back after a split brain: a role taken while cut off is given up. May block. */
    void merged();

    /**
     * The broker is about to stop (controlled shutdown): a controller role it holds goes to another broker now, where
     * the election can hand it over, so that the cluster is not without a controller until it notices the broker
     * gone. Blocking, bounded; nothing to do by default.
     */
    default void handOver() {
    }

    /** Stops taking part, releasing what it holds (the broker stops). Blocking, bounded. */
    void stop();
}
