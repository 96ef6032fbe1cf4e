package io.runnel.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.cp.CPMember;
import com.hazelcast.cp.CPSubsystemManagementService;
import com.hazelcast.map.IMap;
import io.runnel.cluster.CpRecovery.Published;
import io.runnel.config.Limits;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the CP group (the metadata quorum) whole in CP mode, checking every {@link Limits#CP_GROUP_CHECK_MS}:
 * <ul>
 *   <li>a broker removes from the group the CP identities it held before (published under its node id, or recorded
 *       for it in the group) and no longer holds: a restarted broker, or one that lost its identity when it merged
 *       back after a freeze or a cut. Only the broker itself can know that for sure (one process per node id), so the
 *       group shrinks only by members that are certainly gone, and at once; Hazelcast's own removal of missing
 *       members waits {@link Limits#CP_MEMBER_REMOVAL_S};</li>
 *   <li>a broker that is not a CP member promotes itself while the group has fewer members than
 *       {@code cluster.cp.member.count};</li>
 *   <li>each broker publishes in the {@code runnel-cp-members} map, under its node id, its CP identity (or none), the
 *       highest metadata version it applied and the highest controller epoch it saw ({@link Published}); CP members
 *       have identities of their own, and a crashed broker's former self (same address, not yet removed) is not
 *       counted for the restarted one. The {@link BrokerRegistry} gets the node ids of the CP members, for
 *       {@code /api/cluster};</li>
 *   <li>while the group answers, the broker that sees it change records its members (CP uuid to node id) in
 *       {@code runnel-cp-group};</li>
 *   <li>when the group stops answering and has lost its majority for good ({@link CpRecovery#lostForGood}: a
 *       majority of its members' brokers are back without their CP identity, after crashes, or merges after a freeze
 *       or a cut longer than the failure detector allows), the oldest member, with a majority of the registered
 *       brokers live and at least {@code cluster.cp.member.count} members, empties the broker registrations (every
 *       broker registers again at once, with the newest placements it knows: nothing can have been decided since the
 *       quorum was lost) and resets the CP subsystem. A new group forms, a controller is elected and rebuilds the
 *       metadata from those reports, as after a whole-cluster restart ({@link CpMetadata#claim} continues versions
 *       and epochs; a leaderless partition waits for every member of its ISR to report).</li>
 * </ul>
 */
final class CpGroupKeeper {
    private static final Logger LOG = LoggerFactory.getLogger(CpGroupKeeper.class);
    static final String CP_MEMBERS_MAP = "runnel-cp-members";
    private static final String CP_GROUP_MAP = "runnel-cp-group";
    private static final String GROUP_KEY = "members";

    private final HazelcastMember member;
    private final BrokerRegistry registry;
    private final int cpMemberCount;
    private final LongSupplier appliedVersion;
    private final AtomicBoolean checking = new AtomicBoolean();
    private volatile boolean running = true;
    /** CP identities this broker held in earlier processes or before a merge, to be removed (on the check's worker only). */
    private final Set<String> formerSelves = new HashSet<>();
    /** Consecutive checks in which the CP group did not answer (on the check's worker only). */
    private int failedChecks;

    /** @param appliedVersion the highest metadata version this broker applied (-1 before the first) */
    CpGroupKeeper(HazelcastMember member, BrokerRegistry registry, int cpMemberCount, LongSupplier appliedVersion) {
        this.member = member;
        this.registry = registry;
        this.cpMemberCount = cpMemberCount;
        this.appliedVersion = appliedVersion;
    }

    /** Starts the periodic check (once this broker has registered). */
    void start() {
        member.vertx().setPeriodic(0, Limits.CP_GROUP_CHECK_MS, id -> check());
    }

    void stop() {
        running = false;
    }

    /** The highest metadata version applied and controller epoch seen by any broker ({@link CpRecovery#floor}). Blocking. */
    static long[] floor(HazelcastInstance hz) {
        List<Published> all = new ArrayList<>();
        hz.<Integer, String>getMap(CP_MEMBERS_MAP).values().forEach(v -> all.add(Published.decode(v)));
        return CpRecovery.floor(all);
    }

    private void check() {
        if (!running || !checking.compareAndSet(false, true)) return;
        Vertx vertx = member.vertx();
        vertx.executeBlocking(() -> {
            CPSubsystemManagementService management = member.hz().getCPSubsystem().getCPSubsystemManagementService();
            if (!management.isDiscoveryCompleted()) return null;
            IMap<Integer, String> published = member.hz().getMap(CP_MEMBERS_MAP);
            int nodeId = registry.nodeId();
            String localId = localCpId(management);
            Published before = publish(published, localId);
            // What this node id published before and no longer holds is a former self of this broker (a crashed
            // process, or this one before a merge that cost it its CP identity): provably gone, removed below.
            if (before != null && !before.cpMember().isEmpty() && !before.cpMember().equals(localId)) formerSelves.add(before.cpMember());
            Collection<CPMember> members;
            try {
                members = CpMetadata.await(management.getCPMembers());
            } catch (RuntimeException e) {
                failedChecks++;
                maybeRecover(management, published);
                throw e;
            }
            failedChecks = 0;
            Map<String, Integer> recordedBefore = recordedGroup();
            Map<Integer, Published> entries = entries(published, recordedBefore.values());
            Map<String, Integer> group = new HashMap<>();
            Set<String> cpIds = new HashSet<>();
            for (CPMember m : members) {
                String uuid = m.getUuid().toString();
                cpIds.add(uuid);
                entries.forEach((id, p) -> {
                    if (p != null && p.cpMember().equals(uuid)) group.put(uuid, id);
                });
            }
            registry.cpMembersChanged(registry.liveNodeIds().stream().filter(id -> entries.get(id) != null && cpIds.contains(entries.get(id).cpMember()))
                    .sorted().toList());
            // Recorded once every member is known by its broker, so that a lost group is judged by all its members.
            if (group.size() == members.size()) {
                String recorded = new JsonObject(new HashMap<>(group)).encode();
                IMap<String, String> groups = member.hz().getMap(CP_GROUP_MAP);
                if (!recorded.equals(ap(groups.getAsync(GROUP_KEY)))) ap(groups.putAsync(GROUP_KEY, recorded));
            }
            recordedBefore.forEach((uuid, id) -> {
                if (id == nodeId && !uuid.equals(localId)) formerSelves.add(uuid);
            });
            int size = members.size();
            for (String former : List.copyOf(formerSelves)) {
                if (cpIds.contains(former)) {
                    // Replaced at once rather than after Hazelcast's missing-member timeout, which would also shrink
                    // the group below a majority of cluster.cp.member.count one crash at a time (a group of two
                    // drops its missing member on its leader's word alone).
                    LOG.info("Removing CP member {}, broker {}'s former identity (it restarted or lost it in a merge), from the CP group", former, nodeId);
                    CpMetadata.await(management.removeCPMember(UUID.fromString(former)));
                    size--;
                }
                formerSelves.remove(former);
            }
            if (localId.isEmpty() && size < cpMemberCount) {
                CpMetadata.await(management.promoteToCPMember());
                LOG.info("Broker {} is now a member of the CP group", nodeId);
            }
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) LOG.debug("Checking the CP group failed", ar.cause());
            checking.set(false);
        });
    }

    /**
     * Publishes this broker's entry with {@code cpMember} as its CP identity, if it changed, never lowering the version
     * and epoch published under its node id before ({@link CpRecovery#merge}: a restarted broker starts from nothing).
     * Synchronized: the entry written last holds the highest controller epoch (the registry's only grows).
     *
     * @return the entry published before (null if none)
     */
    private synchronized Published publish(IMap<Integer, String> published, String cpMember) {
        String before = ap(published.getAsync(registry.nodeId()));
        Published previous = Published.decode(before);
        Published mine = CpRecovery.merge(previous, cpMember, appliedVersion.getAsLong(), registry.highestControllerEpoch());
        if (!mine.encode().equals(before)) ap(published.putAsync(registry.nodeId(), mine.encode()));
        return previous;
    }

    /**
     * Publishes this broker's entry now, with the highest controller epoch it has heard of: a controller just elected
     * acts only once its epoch is published, so that a CP group reset after it starts above that epoch. Blocking.
     */
    void publishNow() {
        publish(member.hz().getMap(CP_MEMBERS_MAP), localCpId(member.hz().getCPSubsystem().getCPSubsystemManagementService()));
    }

    /** The CP member uuid this process holds, or "" when it is not a CP member. */
    private static String localCpId(CPSubsystemManagementService management) {
        CPMember local = management.getLocalCPMember();
        return local == null ? "" : local.getUuid().toString();
    }

    /** The CP group as last recorded while it answered: CP member uuid to node id (empty before the first). Blocking. */
    private Map<String, Integer> recordedGroup() {
        String recorded = ap(member.hz().<String, String>getMap(CP_GROUP_MAP).getAsync(GROUP_KEY));
        Map<String, Integer> group = new HashMap<>();
        if (recorded != null) new JsonObject(recorded).forEach(e -> group.put(e.getKey(), ((Number) e.getValue()).intValue()));
        return group;
    }

    /**
     * The entries published by the live brokers, by {@code alsoIds} (the recorded group's) and by this one. Read key by
     * key, each read bounded: a query over the whole map ({@code forEach}, {@code values}) waits for the partition
     * table to settle and held this check for minutes while a merge migrated partitions. Blocking.
     */
    private Map<Integer, Published> entries(IMap<Integer, String> published, Collection<Integer> alsoIds) {
        Set<Integer> ids = new HashSet<>(registry.liveNodeIds());
        ids.addAll(alsoIds);
        ids.add(registry.nodeId());
        Map<Integer, CompletionStage<String>> reads = new HashMap<>();
        ids.forEach(id -> reads.put(id, published.getAsync(id)));
        Map<Integer, Published> out = new HashMap<>();
        reads.forEach((id, read) -> {
            String v = ap(read);
            if (v != null) out.put(id, Published.decode(v));
        });
        return out;
    }

    /**
     * Waits for a call to one of the cluster's (AP) maps, at most {@link Limits#CP_CALL_TIMEOUT_S}: while a merge
     * migrates partitions such a call can wait far longer, and this check must go on to the CP group's own calls.
     */
    private static <T> T ap(CompletionStage<T> call) {
        return CpMetadata.await(call, "a cluster map", IllegalStateException::new);
    }

    /**
     * The CP group did not answer: after {@link Limits#CP_RECOVERY_FAILED_CHECKS} checks in a row, the oldest member
     * resets it if it lost its majority for good (see the class comment). Blocking, on the check's worker.
     */
    private void maybeRecover(CPSubsystemManagementService management, IMap<Integer, String> published) {
        if (failedChecks < Limits.CP_RECOVERY_FAILED_CHECKS || !member.isOldest()) return;
        Map<String, Integer> group = recordedGroup();
        if (group.isEmpty()) return;
        Set<Integer> live = new HashSet<>(registry.liveNodeIds());
        if (!CpRecovery.lostForGood(group, entries(published, group.values()), live)) {
            if (failedChecks == Limits.CP_RECOVERY_FAILED_CHECKS) {
                LOG.warn("The metadata quorum (CP group {}) does not answer; its members may still come back, so it is not reset", group);
            }
            return;
        }
        if (member.members().size() < cpMemberCount || !registry.hasMajority()) {
            LOG.warn("The metadata quorum (CP group {}) lost its majority for good; it is reset once {} brokers, a majority of the registered ones, "
                    + "are live ({})", group, cpMemberCount, registry.majorityText());
            return;
        }
        LOG.warn("The metadata quorum (CP group {}) lost its majority for good (its members' brokers came back without their CP identity): "
                + "resetting the CP subsystem; brokers register again and the controller rebuilds the metadata from their reports", group);
        registry.clearRegistrations();
        CpMetadata.await(management.reset());
        member.hz().<String, String>getMap(CP_GROUP_MAP).remove(GROUP_KEY);
        failedChecks = 0;
    }
}
