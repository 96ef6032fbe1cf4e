package io.runnel.cluster;

import com.hazelcast.cp.CPMember;
import com.hazelcast.cp.CPSubsystemManagementService;
import com.hazelcast.map.IMap;
import io.runnel.config.Limits;
import io.vertx.core.Vertx;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the CP group at its size in CP mode: a broker that is not a CP member promotes itself while the group has
 * fewer members than {@code cluster.cp.member.count} (a restarted broker, once Hazelcast removed its former self).
 * Also tells the {@link BrokerRegistry} the node ids of the CP members, for {@code /api/cluster}: CP members have identities of their own, so
 * each broker publishes its own in the {@code runnel-cp-members} map, and a crashed broker's former self (same
 * address, not yet removed) is not counted for the restarted one. Checks every {@link Limits#CP_GROUP_CHECK_MS}.
 */
final class CpGroupKeeper {
    private static final Logger LOG = LoggerFactory.getLogger(CpGroupKeeper.class);
    private static final String CP_MEMBERS_MAP = "runnel-cp-members";

    private final HazelcastMember member;
    private final BrokerRegistry registry;
    private final int cpMemberCount;
    private final AtomicBoolean checking = new AtomicBoolean();
    private volatile boolean running = true;

    CpGroupKeeper(HazelcastMember member, BrokerRegistry registry, int cpMemberCount) {
        this.member = member;
        this.registry = registry;
        this.cpMemberCount = cpMemberCount;
    }

    /** Starts the periodic check (once this broker has registered). */
    void start() {
        member.vertx().setPeriodic(0, Limits.CP_GROUP_CHECK_MS, id -> check());
    }

    void stop() {
        running = false;
    }

    private void check() {
        if (!running || !checking.compareAndSet(false, true)) return;
        Vertx vertx = member.vertx();
        vertx.executeBlocking(() -> {
            CPSubsystemManagementService management = member.hz().getCPSubsystem().getCPSubsystemManagementService();
            if (!management.isDiscoveryCompleted()) return null;
            Collection<CPMember> members = CpMetadata.await(management.getCPMembers());
            IMap<Integer, String> published = member.hz().getMap(CP_MEMBERS_MAP);
            int nodeId = registry.nodeId();
            CPMember local = management.getLocalCPMember();
            if (local != null && !local.getUuid().toString().equals(published.get(nodeId))) published.put(nodeId, local.getUuid().toString());
            Set<String> cpIds = new HashSet<>();
            members.forEach(m -> cpIds.add(m.getUuid().toString()));
            registry.cpMembersChanged(registry.liveNodeIds().stream().filter(id -> cpIds.contains(published.get(id))).sorted().toList());
            if (local == null && members.size() < cpMemberCount) {
                CpMetadata.await(management.promoteToCPMember());
                LOG.info("Broker {} is now a member of the CP group", nodeId);
            }
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) LOG.debug("Checking the CP group failed", ar.cause());
            checking.set(false);
        });
    }
}
