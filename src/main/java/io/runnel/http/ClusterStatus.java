package io.runnel.http;

import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The cluster's health as this broker's metadata shows it, for {@code /api/cluster}, the console and {@code /metrics}:
 * per broker the partitions it leads and, of those, the under-replicated ones; cluster-wide the under-replicated
 * (fewer in-sync replicas than the replication factor), under-min-ISR, offline (no leader) and
 * preferred-leader-imbalanced (not led by the first replica) partitions; and the running reassignments (KIP-455) with the added replicas that
 * have caught up (joined the ISR). One pass over the placements; no I/O.
 */
final class ClusterStatus {
    /** Per broker: partitions led and, of them, under-replicated and under min ISR. */
    record Led(int partitions, int underReplicated, int underMinIsr) {
        static final Led NONE = new Led(0, 0, 0);
    }

    final Map<Integer, Led> led = new TreeMap<>();
    /** Brokers named in some placement (whether live or not). */
    final Set<Integer> replicaBrokers = new TreeSet<>();
    int partitions;
    int underReplicated;
    int underMinIsr;
    int offline;
    int preferredImbalance;
    final JsonArray reassignments = new JsonArray();

    private ClusterStatus() {
    }

    static ClusterStatus of(HttpServices s) {
        ClusterStatus c = new ClusterStatus();
        for (LocalTopic t : s.topics().topics()) {
            TopicMetadata m = t.metadata();
            for (int p = 0; p < t.placements().size(); p++) {
                Placement pl = t.placements().get(p);
                if (pl.replicas().isEmpty()) continue;
                c.partitions++;
                c.replicaBrokers.addAll(pl.replicas());
                TopicMetadata.Reassignment ra = m.reassignments().get(p);
                boolean under = underReplicated(pl, ra);
                if (under) c.underReplicated++;
                boolean underMin = underMinIsr(t, pl, ra);
                if (underMin) c.underMinIsr++;
                if (pl.leader() != pl.replicas().get(0)) c.preferredImbalance++; // offline ones too, as KRaft counts them
                if (!pl.hasLeader()) {
                    c.offline++;
                } else {
                    Led was = c.led.getOrDefault(pl.leader(), Led.NONE);
                    c.led.put(pl.leader(), new Led(was.partitions() + 1, was.underReplicated() + (under ? 1 : 0), was.underMinIsr() + (underMin ? 1 : 0)));
                }
                if (ra != null) {
                    List<Integer> adding = ra.adding();
                    c.reassignments.add(new JsonObject().put("topic", t.name()).put("partition", p).put("replicas", ints(pl.replicas()))
                            .put("target", ints(ra.target())).put("adding", ints(adding)).put("removing", ints(ra.removing()))
                            .put("caughtUp", ints(adding.stream().filter(pl.isr()::contains).toList())));
                }
            }
        }
        return c;
    }

    /**
     * Kafka's under-replicated: fewer in-sync replicas than the replication factor, which during a reassignment is
     * the replicas less those being added (Kafka's OngoingReassignmentState).
     */
    static boolean underReplicated(Placement pl, TopicMetadata.Reassignment ra) {
        return pl.isr().size() < replicationFactor(pl, ra);
    }

    /** Fewer in-sync replicas than the effective min.insync.replicas: no more than the replication factor (Kafka 3.x on). */
    static boolean underMinIsr(LocalTopic t, Placement pl, TopicMetadata.Reassignment ra) {
        return pl.isr().size() < Math.min(t.config().minInsyncReplicas(), replicationFactor(pl, ra));
    }

    private static int replicationFactor(Placement pl, TopicMetadata.Reassignment ra) {
        return ra == null ? pl.replicas().size() : (int) pl.replicas().stream().filter(r -> !ra.adding().contains(r)).count();
    }

    /** This broker's figures for {@code /metrics} (the controller's only where it is the active controller). */
    BrokerMetrics.ClusterFigures figures(HttpServices s) {
        Led mine = led.getOrDefault(s.nodeId(), Led.NONE);
        boolean active = activeController(s);
        return new BrokerMetrics.ClusterFigures(mine.partitions(), mine.underReplicated(), mine.underMinIsr(), active ? 1 : 0, active ? offline : 0,
                active ? preferredImbalance : 0);
    }

    /** Whether this broker acts as the controller now (a broker alone decides for itself, as a combined KRaft node). */
    static boolean activeController(HttpServices s) {
        return !s.cluster().clustered() || s.cluster().actingControllerEpoch() >= 0;
    }

    private static JsonArray ints(List<Integer> l) {
        return new JsonArray(new ArrayList<>(l));
    }
}
