package io.runnel.cluster;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.Set;

/**
 * When a CP group that lost its majority may be reset (docs/cluster.md, "Recovering a lost metadata quorum"). Without
 * Hazelcast's (Enterprise) CP persistence a CP member that restarts, or merges back after it was cut off or frozen
 * for longer than the failure detector allows, comes back without its CP identity: if a majority of the group's
 * members lost theirs, the group can never again reach a majority, and only {@code CPSubsystemManagementService.reset}
 * brings the metadata quorum back. Resetting while the old group could still reach a majority elsewhere (the other
 * side of a network partition) would make two quorums, so the test here counts as lost only members whose identity is
 * provably gone: the member's broker is live in this cluster and says it now holds another CP identity or none (a
 * node id runs in one process at a time). Members merely unreachable count as possibly alive.
 *
 * <p>Each broker publishes, in the AP map {@code runnel-cp-members} under its node id, {@link Published}: its CP
 * identity, the highest metadata version it applied and the highest controller epoch it saw, so that the quorum made
 * after a reset continues both sequences ({@link CpMetadata#claim}). Pure functions, unit-tested.
 */
final class CpRecovery {
    private CpRecovery() {
    }

    /**
     * One broker's entry in {@code runnel-cp-members}.
     *
     * @param cpMember the CP member uuid this broker's process holds, or "" when it holds none
     * @param applied  the highest metadata version it applied, -1 before the first
     * @param epoch    the highest controller epoch it saw, 0 before the first
     */
    record Published(String cpMember, long applied, long epoch) {
        String encode() {
            return new JsonObject().put("cp", cpMember).put("applied", applied).put("epoch", epoch).encode();
        }

        /** Decodes an entry; null stays null. */
        static Published decode(String text) {
            if (text == null) return null;
            JsonObject o = new JsonObject(text);
            return new Published(o.getString("cp", ""), o.getLong("applied", -1L), o.getLong("epoch", 0L));
        }
    }

    /**
     * Whether the CP group {@code lastGroup} (CP member uuid to node id, as last seen while it worked) has lost its
     * majority for good: fewer than a majority of its members can still come back as themselves, because the others'
     * brokers are {@code live} and publish another identity (or none) in {@code published}.
     */
    static boolean lostForGood(Map<String, Integer> lastGroup, Map<Integer, Published> published, Set<Integer> live) {
        if (lastGroup.isEmpty()) return false;
        int lost = 0;
        for (Map.Entry<String, Integer> m : lastGroup.entrySet()) {
            Published now = published.get(m.getValue());
            if (live.contains(m.getValue()) && now != null && !now.cpMember().equals(m.getKey())) lost++;
        }
        int mayReturn = lastGroup.size() - lost;
        return mayReturn < lastGroup.size() / 2 + 1;
    }

    /**
     * The entry a broker publishes: its CP identity now, and the highest version and epoch of {@code before} (what its
     * node id published so far, null if nothing) and of its own. A restarted broker has applied nothing and seen no
     * controller yet; publishing that would drop the epoch its former process saw from the floor of a reset that
     * follows, and a controller of the reset quorum could then act in an epoch a controller before it already had.
     */
    static Published merge(Published before, String cpMember, long applied, long epoch) {
        if (before == null) return new Published(cpMember, applied, epoch);
        return new Published(cpMember, Math.max(applied, before.applied()), Math.max(epoch, before.epoch()));
    }

    /** The highest metadata version any broker applied, and the highest controller epoch any saw: {version, epoch}. */
    static long[] floor(Iterable<Published> published) {
        long version = 0;
        long epoch = 0;
        for (Published p : published) {
            if (p == null) continue;
            version = Math.max(version, p.applied());
            epoch = Math.max(epoch, p.epoch());
        }
        return new long[] {version, epoch};
    }
}
