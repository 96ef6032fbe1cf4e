package io.runnel.partition;

import java.util.List;

/**
 * Where a partition lives in the cluster: its replicas (broker node ids, the first is the preferred leader), its
 * leader (-1 while it has none: every replica is offline) with the leader epoch, its in-sync replicas, and the
 * partition epoch, which the controller raises with every change of the others (KRaft's {@code PartitionRecord}
 * partitionEpoch, KIP-841): of two placements of a partition, the one with the higher leader epoch, then the higher
 * partition epoch, is the later decision ({@link #newerThan}). A broker that runs alone holds every partition as the
 * only replica and leader.
 */
public record Placement(List<Integer> replicas, int leader, int leaderEpoch, List<Integer> isr, int partitionEpoch) {
    /** The placement of a partition that has no replicas (yet): nobody holds it. */
    public static final Placement NONE = new Placement(List.of(), -1, 0, List.of());

    public Placement {
        replicas = List.copyOf(replicas);
        isr = List.copyOf(isr);
    }

    /** A placement at partition epoch 0; the controller stamps the epoch when it stores a change. */
    public Placement(List<Integer> replicas, int leader, int leaderEpoch, List<Integer> isr) {
        this(replicas, leader, leaderEpoch, isr, 0);
    }

    /** The placement of a partition of a broker that runs alone. */
    public static Placement alone(int nodeId) {
        return new Placement(List.of(nodeId), nodeId, 0, List.of(nodeId));
    }

    /**
     * The stand-in placement of a replica a broker of a cluster finds on its disk at start: held here, led by nobody
     * until the controller's placement arrives. Leading at once (as a broker alone does) would let a restarted broker
     * acknowledge writes, serve reads and coordinate groups on a log the cluster has moved past while it was away (as
     * the only member of an ISR of its own), and then truncate what it acknowledged. Kafka's broker likewise starts
     * its replicas offline until the controller's metadata names their leader.
     */
    public static Placement awaitingController(int nodeId) {
        return new Placement(List.of(nodeId), -1, 0, List.of(nodeId));
    }

    /** Whether this is a stand-in ({@link #alone} or {@link #awaitingController}), not a controller's decision. */
    public boolean standIn(int nodeId) {
        return equals(alone(nodeId)) || equals(awaitingController(nodeId));
    }

    public boolean hasLeader() {
        return leader >= 0;
    }

    public Placement withPartitionEpoch(int epoch) {
        return epoch == partitionEpoch ? this : new Placement(replicas, leader, leaderEpoch, isr, epoch);
    }

    /** Whether the two say the same (replicas, leader, leader epoch and ISR), whatever their partition epochs. */
    public boolean sameAs(Placement o) {
        return leader == o.leader && leaderEpoch == o.leaderEpoch && replicas.equals(o.replicas) && isr.equals(o.isr);
    }

    /** Whether this is a later decision of the controller than {@code o}: a higher leader epoch, or the same and a higher partition epoch. */
    public boolean newerThan(Placement o) {
        return leaderEpoch != o.leaderEpoch ? leaderEpoch > o.leaderEpoch : partitionEpoch > o.partitionEpoch;
    }
}
