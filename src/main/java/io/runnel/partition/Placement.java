package io.runnel.partition;

import java.util.List;

/**
 * Where a partition lives in the cluster: its replicas (broker node ids, the first is the preferred leader), its
 * leader (-1 while it has none: every replica is offline) with the leader epoch, and its in-sync replicas. A broker
 * that runs alone holds every partition as the only replica and leader.
 */
public record Placement(List<Integer> replicas, int leader, int leaderEpoch, List<Integer> isr) {
    /** The placement of a partition that has no replicas (yet): nobody holds it. */
    public static final Placement NONE = new Placement(List.of(), -1, 0, List.of());

    public Placement {
        replicas = List.copyOf(replicas);
        isr = List.copyOf(isr);
    }

    /** The placement of a partition of a broker that runs alone. */
    public static Placement alone(int nodeId) {
        return new Placement(List.of(nodeId), nodeId, 0, List.of(nodeId));
    }

    public boolean hasLeader() {
        return leader >= 0;
    }
}
