package io.runnel.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster id all brokers share (Kafka's cluster.id in meta.properties): the first broker's id is written to the
 * {@code runnel-cluster} map and every other broker adopts it; a broker whose data already belongs to another
 * cluster is refused, as Kafka refuses one with INCONSISTENT_CLUSTER_ID. The first broker also records the cluster's
 * metadata mode, and a broker configured for another is refused.
 */
final class ClusterIdAgreement {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterIdAgreement.class);
    /** Cluster-wide facts agreed once: the cluster id, the metadata mode, the chosen quorum voters ({@link QuorumVoters}). */
    static final String CLUSTER_MAP = "runnel-cluster";
    private static final String CLUSTER_ID_KEY = "clusterId";
    private static final String MODE_KEY = "metadataMode";

    private ClusterIdAgreement() {
    }

    /**
     * Returns the id this broker uses: the cluster's, or {@code localId} when it is the first. {@code localIsNew}
     * says the broker's data has no id of its own yet (empty {@code log.dirs}). Blocking.
     */
    static String agree(HazelcastInstance hz, String localId, boolean localIsNew, int foundingBrokers) throws InterruptedException {
        IMap<String, String> m = hz.getMap(CLUSTER_MAP);
        if (localIsNew) {
            String existing = awaitFounders(hz, m, foundingBrokers);
            if (existing != null) return existing;
        }
        String existing = m.putIfAbsent(CLUSTER_ID_KEY, localId);
        if (existing == null || existing.equals(localId)) return localId;
        if (localIsNew) return existing;
        throw new IllegalStateException("log.dirs belongs to cluster " + localId + " but the brokers it joined form cluster "
                + existing + " (Kafka's INCONSISTENT_CLUSTER_ID); use an empty log.dirs to join it");
    }

    /**
     * How many brokers a new cluster waits for before its id is chosen: a majority of the metadata quorum's voters
     * ({@code cluster.quorum.voters}, or of {@code cluster.members} when the cluster chooses them), 1 in the deprecated
     * modes. Brokers that start together may first form Hazelcast clusters of their own (a discovery answered before
     * the others listen) that merge seconds later; a new broker that chose an id alone would then hold data of another
     * cluster id than the others, for good. A majority cannot be on two sides at once.
     */
    static int foundingBrokers(BrokerConfig config) {
        if (!config.quorumVoters().isEmpty()) return config.quorumVoters().size() / 2 + 1;
        if (config.quorumMode()) return config.clusterMembers().size() / 2 + 1;
        return 1;
    }

    /**
     * For a broker with an empty {@code log.dirs}: waits until the cluster has an id (returned) or {@code founders}
     * brokers are members of this broker's Hazelcast cluster (null: the id may be chosen). Blocking, polling; ends
     * with the member (null) or on interrupt.
     */
    private static String awaitFounders(HazelcastInstance hz, IMap<String, String> m, int founders) throws InterruptedException {
        boolean logged = false;
        while (hz.getLifecycleService().isRunning()) {
            String existing = m.get(CLUSTER_ID_KEY);
            if (existing != null) return existing;
            int members = hz.getCluster().getMembers().size();
            if (members >= founders) return null;
            if (!logged) {
                LOG.info("A new cluster: waiting for {} brokers to join before its cluster id is chosen ({} so far)", founders, members);
                logged = true;
            }
            Thread.sleep(Limits.QUORUM_VOTERS_WAIT_POLL_MS);
        }
        return null;
    }

    /** The cluster's id once a broker has agreed it, else null. Blocking. */
    static String clusterId(HazelcastInstance hz) {
        return hz.<String, String>getMap(CLUSTER_MAP).get(CLUSTER_ID_KEY);
    }

    /**
     * Records the cluster's metadata mode (the first broker's), or checks this broker's against it: a broker in
     * oldest-member mode among CP-mode brokers, or with another CP group size, would elect controllers and keep
     * metadata where the others never look. {@code cluster.cp.member.count=auto} decides from {@code cluster.members},
     * which may list fewer brokers on the first brokers of a growing cluster. Blocking; called as soon as the member
     * has joined, before anything uses the CP subsystem.
     */
    static void agreeMode(HazelcastInstance hz, BrokerConfig config) {
        String mode = mode(config);
        String clusterMode = hz.<String, String>getMap(CLUSTER_MAP).putIfAbsent(MODE_KEY, mode);
        if (clusterMode != null && !clusterMode.equals(mode)) {
            throw new IllegalStateException("This broker's metadata mode is " + mode + " (cluster.quorum.voters, cluster.cp.member.count) but the "
                    + "brokers it joined run " + clusterMode + "; " + advice(clusterMode) + " on this broker, or the same on every broker");
        }
    }

    /**
     * {@code quorum:<voters>}, {@code quorum:auto} (voters chosen by the cluster), {@code cp:<count>} or
     * {@code oldest-member}.
     */
    static String mode(BrokerConfig config) {
        List<Integer> voters = config.quorumVoters();
        if (!voters.isEmpty()) return "quorum:" + voters.stream().map(String::valueOf).collect(Collectors.joining(","));
        if (config.quorumMode()) return "quorum:auto";
        return config.cpMemberCount() > 0 ? "cp:" + config.cpMemberCount() : "oldest-member";
    }

    private static String advice(String clusterMode) {
        if (clusterMode.equals("quorum:auto")) {
            return "list at least three brokers in cluster.members, leave cluster.quorum.voters unset and cluster.cp.member.count auto";
        }
        if (clusterMode.startsWith("quorum:")) return "set cluster.quorum.voters to " + clusterMode.substring(7);
        return "set cluster.cp.member.count to " + (clusterMode.startsWith("cp:") ? clusterMode.substring(3) : "0") + " (and leave cluster.quorum.voters unset)";
    }
}
