package io.runnel.cluster;

import java.util.List;
import java.util.Map;

/**
 * What a broker knows of its cluster: the live brokers with their advertised Kafka listeners, and which of them is
 * the controller. Safe to read from any thread (an immutable snapshot behind a volatile reference). A single broker
 * without {@code cluster.members} is a cluster of one and its own controller.
 */
public interface ClusterView {

    /**
     * A live broker: its node id, its Kafka listeners ({@code name -> host:port}), its HTTP address and its rack
     * ({@code broker.rack}, null when it has none).
     */
    record BrokerNode(int nodeId, Map<String, String> listeners, String http, String rack) {
        /** The host and port of listener {@code name}, or null when the broker has no such listener. */
        public String[] hostPort(String name) {
            String hp = listeners.get(name);
            if (hp == null) return null;
            int colon = hp.lastIndexOf(':');
            return new String[] {hp.substring(0, colon), hp.substring(colon + 1)};
        }
    }

    /** The node id of the controller, or -1 while none is elected. */
    int controllerId();

    /**
     * The controller epoch in which this broker acts as the controller now, or -1 when it does not (two brokers acting
     * in one epoch would be a split brain; fault campaigns look for it).
     */
    default long actingControllerEpoch() {
        return -1;
    }

    /** The live brokers, by node id; this broker included. */
    List<BrokerNode> brokers();

    /** Whether this broker is part of a Hazelcast cluster (false for a single broker). */
    boolean clustered();

    /**
     * Whether broker {@code nodeId} is fenced: registered but not yet caught up with the cluster metadata (it has not
     * applied its first image). Clients are not told of a fenced broker, as Kafka's Metadata responses leave out
     * fenced brokers (KIP-631): a client sent to it would find none of the topics yet.
     */
    default boolean fenced(int nodeId) {
        return false;
    }

    /**
     * How the controller is elected and the metadata kept (docs/cluster.md): {@code single} (no cluster),
     * {@code oldest-member} (Hazelcast's oldest member, metadata in AP maps), {@code cp} (a FencedLock and the
     * metadata in Hazelcast's CP subsystem) or {@code quorum} (the cluster's own Raft quorum of voters).
     */
    default String metadataMode() {
        return clustered() ? "oldest-member" : "single";
    }

    /** The highest controller epoch this broker has heard of (0 before the first; 0 for a broker alone). */
    default long controllerEpoch() {
        return 0;
    }

    /** Node ids of the brokers in the CP group now (empty unless the mode is {@code cp}). */
    default List<Integer> cpMembers() {
        return List.of();
    }

    /** Node ids of the metadata quorum's voters (empty unless the mode is {@code quorum}, and until they are known). */
    default List<Integer> quorumVoters() {
        return List.of();
    }

    /**
     * The node id of the metadata quorum's leader as this broker knows it now (a voter: its Raft node's; an observer:
     * the leader named in the last answer it read), or -1 (no leader known, or not the quorum mode). As KRaft's
     * {@code kafka-metadata-quorum describe --status} LeaderId.
     */
    default int quorumLeaderId() {
        return -1;
    }

    /** How many CP members the metadata quorum should have (0 unless the mode is {@code cp}). */
    default int cpMemberCount() {
        return 0;
    }

    /** The view of a broker that runs alone. */
    static ClusterView standalone(int nodeId) {
        BrokerNode self = new BrokerNode(nodeId, Map.of(), "", null);
        return new ClusterView() {
            @Override
            public int controllerId() {
                return nodeId;
            }

            @Override
            public List<BrokerNode> brokers() {
                return List.of(self);
            }

            @Override
            public boolean clustered() {
                return false;
            }
        };
    }
}
