package io.runnel.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;

/**
 * The cluster id all brokers share (Kafka's cluster.id in meta.properties): the first broker's id is written to the
 * {@code runnel-cluster} map and every other broker adopts it; a broker whose data already belongs to another
 * cluster is refused, as Kafka refuses one with INCONSISTENT_CLUSTER_ID.
 */
final class ClusterIdAgreement {
    private static final String CLUSTER_MAP = "runnel-cluster";
    private static final String CLUSTER_ID_KEY = "clusterId";

    private ClusterIdAgreement() {
    }

    /**
     * Returns the id this broker uses: the cluster's, or {@code localId} when it is the first. {@code localIsNew}
     * says the broker's data has no id of its own yet (empty {@code log.dirs}). Blocking.
     */
    static String agree(HazelcastInstance hz, String localId, boolean localIsNew) {
        IMap<String, String> m = hz.getMap(CLUSTER_MAP);
        String existing = m.putIfAbsent(CLUSTER_ID_KEY, localId);
        if (existing == null || existing.equals(localId)) return localId;
        if (localIsNew) return existing;
        throw new IllegalStateException("log.dirs belongs to cluster " + localId + " but the brokers at cluster.members form cluster "
                + existing + " (Kafka's INCONSISTENT_CLUSTER_ID); use an empty log.dirs to join it");
    }
}
