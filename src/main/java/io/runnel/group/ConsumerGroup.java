package io.runnel.group;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.common.Uuid;

/**
 * A consumer group of the consumer protocol (KIP-848, {@code group.protocol=consumer}): members heartbeat their
 * subscriptions, the coordinator computes the target assignment itself (uniform or range) and hands it out
 * incrementally. A partition moves only after its previous owner has acknowledged giving it up (it no longer reports
 * it), so no partition is ever owned by two members of the same group.
 *
 * <p>Epochs: the group epoch grows with every membership or subscription change; the assignment epoch is the group
 * epoch the target assignment was computed for; a member's epoch reaches the assignment epoch once it has nothing
 * left to revoke. Plain state, driven by {@link GroupShard} on its event loop.
 */
final class ConsumerGroup {
    /** One partition of a topic, by topic id as the protocol names it. */
    record TopicIdPartition(Uuid topicId, int partition) {
    }

    /** What the assignors need to know of a subscribed topic. */
    record TopicMeta(Uuid topicId, String name, int partitions) {
    }

    static final class Member {
        final String memberId;
        String instanceId;
        String rackId;
        String clientId;
        String clientHost;
        int memberEpoch;
        int rebalanceTimeoutMs;
        List<String> subscribedTopics = List.of();
        String serverAssignor;
        /** The partitions this member has been told it owns. */
        final Set<TopicIdPartition> assigned = new HashSet<>();
        /** Partitions taken from this member that it has not yet confirmed releasing. */
        final Set<TopicIdPartition> pendingRevocation = new HashSet<>();
        long sessionTimer = -1;
        /**
         * The member epoch in force when partitions were last taken from this member (KIP-1251's idea): offset commits
         * with an epoch after it and up to the member epoch are safe, as nothing was revoked in between.
         */
        int revocationEpoch = -1;

        Member(String memberId) {
            this.memberId = memberId;
        }
    }

    final String groupId;
    int groupEpoch;
    int assignmentEpoch;
    String assignor = "uniform";
    final LinkedHashMap<String, Member> members = new LinkedHashMap<>();
    Map<String, Set<TopicIdPartition>> target = new HashMap<>();

    ConsumerGroup(String groupId) {
        this.groupId = groupId;
    }

    /** Kafka's consumer-group states: Empty, Assigning (new target pending), Reconciling, Stable. */
    String state() {
        if (members.isEmpty()) return "Empty";
        if (groupEpoch > assignmentEpoch) return "Assigning";
        for (Member m : members.values()) {
            if (m.memberEpoch != assignmentEpoch || !m.pendingRevocation.isEmpty()
                    || !m.assigned.equals(target.getOrDefault(m.memberId, Set.of()))) {
                return "Reconciling";
            }
        }
        return "Stable";
    }

    /** Recomputes the target assignment for the current members and subscriptions. */
    void computeTarget(Map<String, TopicMeta> topics) {
        Member any = members.values().stream().filter(m -> m.serverAssignor != null).findFirst().orElse(null);
        if (any != null) assignor = any.serverAssignor;
        target = "range".equals(assignor) ? range(topics) : uniform(topics);
        assignmentEpoch = groupEpoch;
    }

    /**
     * Uniform: every partition of the subscribed topics to the least loaded member subscribed to its topic (ties to
     * the smallest member id), keeping current owners while they stay within an even share (sticky). Linear in the
     * partitions (times log of the members): 10,000 partitions over 200 members are recomputed at every join.
     */
    private Map<String, Set<TopicIdPartition>> uniform(Map<String, TopicMeta> topics) {
        // Hash maps while computing (a member's load is looked up at every step of the ordered queues below); sorted
        // by member id once at the end.
        Map<String, Set<TopicIdPartition>> out = new HashMap<>();
        members.keySet().forEach(id -> out.put(id, new HashSet<>()));
        if (members.isEmpty()) return new TreeMap<>(out);
        Map<String, Set<String>> subscriptions = new HashMap<>();
        for (Member m : members.values()) subscriptions.put(m.memberId, new HashSet<>(m.subscribedTopics));
        // Who holds each partition now (assigned, or being revoked), from one pass over the members.
        Map<TopicIdPartition, String> owners = new HashMap<>();
        for (Member m : members.values()) {
            for (TopicIdPartition tp : m.assigned) owners.putIfAbsent(tp, m.memberId);
            for (TopicIdPartition tp : m.pendingRevocation) owners.putIfAbsent(tp, m.memberId);
        }
        // Per topic, its subscribers (members with the same subscriptions share one set and one queue below).
        List<TopicIdPartition> all = new ArrayList<>();
        Map<List<String>, Set<String>> subscriberSets = new HashMap<>();
        Map<Uuid, List<String>> subscriberListOf = new HashMap<>();
        Map<Uuid, Set<String>> subscriberSetOf = new HashMap<>();
        for (TopicMeta t : topics.values().stream().sorted(Comparator.comparing(TopicMeta::name)).toList()) {
            List<String> subs = new ArrayList<>();
            for (Member m : members.values()) if (subscriptions.get(m.memberId).contains(t.name())) subs.add(m.memberId);
            if (subs.isEmpty()) continue;
            subs.sort(null);
            Set<String> set = subscriberSets.computeIfAbsent(subs, HashSet::new);
            subscriberListOf.put(t.topicId(), subs);
            subscriberSetOf.put(t.topicId(), set);
            for (int p = 0; p < t.partitions(); p++) all.add(new TopicIdPartition(t.topicId(), p));
        }
        // Sticky within quotas, as Kafka's uniform assignor: every member may keep up to total / members of what it
        // holds, and total % members of them one more, so that what is left fills everyone to an even share.
        int minQuota = all.size() / members.size();
        int extraSlots = all.size() % members.size();
        List<TopicIdPartition> unassigned = new ArrayList<>();
        List<TopicIdPartition> overQuota = new ArrayList<>();
        for (TopicIdPartition tp : all) {
            String owner = owners.get(tp);
            if (owner == null || !subscriberSetOf.get(tp.topicId()).contains(owner)) unassigned.add(tp);
            else if (out.get(owner).size() < minQuota) out.get(owner).add(tp);
            else overQuota.add(tp);
        }
        for (TopicIdPartition tp : overQuota) {
            Set<TopicIdPartition> mine = out.get(owners.get(tp));
            if (extraSlots > 0 && mine.size() == minQuota) {
                mine.add(tp);
                extraSlots--;
            } else {
                unassigned.add(tp);
            }
        }
        // The members of each distinct subscriber list ordered by load, then id; a member moves in every list it is in.
        Comparator<String> byLoad = Comparator.comparingInt((String id) -> out.get(id).size()).thenComparing(id -> id);
        Map<List<String>, TreeSet<String>> queues = new HashMap<>();
        Map<String, List<TreeSet<String>>> queuesOf = new HashMap<>();
        for (List<String> subs : subscriberSets.keySet()) {
            TreeSet<String> q = new TreeSet<>(byLoad);
            q.addAll(subs);
            queues.put(subs, q);
            for (String id : subs) queuesOf.computeIfAbsent(id, k -> new ArrayList<>()).add(q);
        }
        Map<Uuid, TreeSet<String>> queueOf = new HashMap<>();
        subscriberListOf.forEach((topic, subs) -> queueOf.put(topic, queues.get(subs)));
        for (TopicIdPartition tp : unassigned) {
            String best = queueOf.get(tp.topicId()).first();
            List<TreeSet<String>> in = queuesOf.get(best);
            for (TreeSet<String> q : in) q.remove(best);
            out.get(best).add(tp);
            for (TreeSet<String> q : in) q.add(best);
        }
        return new TreeMap<>(out);
    }

    /** Range: per topic, contiguous ranges of partitions over the members subscribed to it, sorted by member id. */
    private Map<String, Set<TopicIdPartition>> range(Map<String, TopicMeta> topics) {
        Map<String, Set<TopicIdPartition>> out = new TreeMap<>();
        members.keySet().forEach(id -> out.put(id, new HashSet<>()));
        for (TopicMeta t : topics.values()) {
            List<String> subs = members.values().stream().filter(m -> m.subscribedTopics.contains(t.name())).map(m -> m.memberId).sorted().toList();
            if (subs.isEmpty()) continue;
            int per = t.partitions() / subs.size();
            int extra = t.partitions() % subs.size();
            int next = 0;
            for (int i = 0; i < subs.size(); i++) {
                int n = per + (i < extra ? 1 : 0);
                for (int k = 0; k < n; k++) out.get(subs.get(i)).add(new TopicIdPartition(t.topicId(), next++));
            }
        }
        return out;
    }

    /**
     * Moves {@code m} toward its target: partitions it must give up go to pending revocation; once nothing is
     * pending, it gets the target partitions no other member still holds, and its epoch reaches the assignment epoch.
     *
     * @return whether the member's assignment changed
     */
    boolean reconcile(Member m) {
        Set<TopicIdPartition> goal = target.getOrDefault(m.memberId, Set.of());
        boolean changed = false;
        Set<TopicIdPartition> revoke = new HashSet<>(m.assigned);
        revoke.removeAll(goal);
        if (!revoke.isEmpty()) {
            m.assigned.removeAll(revoke);
            m.pendingRevocation.addAll(revoke);
            changed = true;
        }
        if (m.pendingRevocation.isEmpty()) {
            for (TopicIdPartition tp : goal) {
                if (!m.assigned.contains(tp) && heldByOthers(tp, m) == null) {
                    m.assigned.add(tp);
                    changed = true;
                }
            }
            m.memberEpoch = assignmentEpoch;
        }
        return changed;
    }

    private String heldByOthers(TopicIdPartition tp, Member self) {
        for (Member o : members.values()) {
            if (o != self && (o.assigned.contains(tp) || o.pendingRevocation.contains(tp))) return o.memberId;
        }
        return null;
    }
}
