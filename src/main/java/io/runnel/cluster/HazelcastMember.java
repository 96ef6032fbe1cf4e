package io.runnel.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.KubernetesConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent.LifecycleState;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This broker's Hazelcast member: its configuration (the join {@code cluster.discovery} chooses: TCP-IP to
 * {@code cluster.members}, multicast, or Kubernetes DNS or API; failure detection and merge timings, the CP subsystem when asked for), joining the cluster with Vert.x clustered on
 * it, the membership and split-brain merge events, and leaving. Membership is Hazelcast's: every member sees the same
 * members in the same (join) order, which the oldest-member election relies on.
 */
final class HazelcastMember {
    private static final Logger LOG = LoggerFactory.getLogger(HazelcastMember.class);

    private final HazelcastInstance hz;
    private final Vertx vertx;
    /** Set when this broker leaves ({@link #shutdown}): a member ended otherwise was ended by Hazelcast. */
    private volatile boolean leaving;

    private HazelcastMember(HazelcastInstance hz, Vertx vertx) {
        this.hz = hz;
        this.vertx = vertx;
    }

    /**
     * Starts this broker's Hazelcast member, joins the cluster ({@code cluster.discovery}) and builds a Vert.x clustered on it.
     * Blocks while Hazelcast joins (call it before any event loop depends on it).
     */
    static Future<HazelcastMember> join(BrokerConfig config, VertxOptions options, VertxMetricsFactory metrics) {
        HazelcastInstance hz;
        try {
            hz = Hazelcast.newHazelcastInstance(hazelcastConfig(config));
        } catch (RuntimeException e) {
            return Future.failedFuture(new IllegalStateException("cannot join the cluster " + joinTarget(config) + ": " + e.getMessage(), e));
        }
        try {
            // Before anything uses the CP subsystem: with a CP configuration other than the cluster's, Vert.x's own
            // start would wait for a CP group that never forms.
            ClusterIdAgreement.agreeMode(hz, config);
            if (config.quorumMode() && config.quorumVoters().isEmpty()) {
                QuorumVoters.publishRemembered(hz.getMap(ClusterIdAgreement.CLUSTER_MAP), config.logDir());
            }
        } catch (RuntimeException | IOException e) {
            hz.shutdown();
            return Future.failedFuture(e);
        }
        String host = config.get(BrokerConfig.CLUSTER_HOST);
        if (host != null) options.getEventBusOptions().setHost(host);
        return Vertx.builder().with(options).withMetrics(metrics).withClusterManager(new HazelcastClusterManager(hz)).buildClustered()
                .map(vertx -> new HazelcastMember(hz, vertx))
                .onFailure(e -> hz.shutdown());
    }

    static Config hazelcastConfig(BrokerConfig config) {
        Config c = ConfigUtil.loadConfig(); // Vert.x's own maps and multimaps configured as it needs them
        c.setClusterName(config.get(BrokerConfig.CLUSTER_NAME));
        // Vert.x on a Hazelcast instance it did not create finds its node id in this member attribute.
        c.getMemberAttributeConfig().setAttribute("__vertx.nodeId", UUID.randomUUID().toString());
        c.setProperty("hazelcast.logging.type", "slf4j");
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.shutdownhook.enabled", "false"); // the broker leaves the cluster in its own shutdown
        c.setProperty("hazelcast.wait.seconds.before.join", "0");
        // A killed broker is noticed at once, when its connections close; one that stops answering, after
        // CLUSTER_MEMBER_TIMEOUT_S.
        c.setProperty("hazelcast.heartbeat.interval.seconds", Integer.toString(Limits.CLUSTER_HEARTBEAT_INTERVAL_S));
        c.setProperty("hazelcast.max.no.heartbeat.seconds", Integer.toString(Limits.CLUSTER_MEMBER_TIMEOUT_S));
        c.setProperty("hazelcast.merge.first.run.delay.seconds", Integer.toString(Limits.CLUSTER_MERGE_INTERVAL_S));
        c.setProperty("hazelcast.merge.next.run.delay.seconds", Integer.toString(Limits.CLUSTER_MERGE_INTERVAL_S));
        NetworkConfig net = c.getNetworkConfig();
        net.setPort(config.get(BrokerConfig.CLUSTER_PORT)).setPortAutoIncrement(false);
        String host = config.get(BrokerConfig.CLUSTER_HOST);
        if (host != null) {
            c.setProperty("hazelcast.local.localAddress", host);
            net.setPublicAddress(host + ":" + config.get(BrokerConfig.CLUSTER_PORT));
        }
        // Runnel's maps keep two synchronous backups, so that two brokers lost one after the other lose no metadata.
        c.addMapConfig(new MapConfig("runnel-*").setBackupCount(2).setAsyncBackupCount(0));
        int cpMembers = config.cpMemberCount();
        if (cpMembers > 0) {
            // The metadata quorum (docs/cluster.md): a Raft group of cpMembers brokers elects the controller with a
            // FencedLock and keeps the metadata. A restarted broker removes its former CP identity itself
            // (CpGroupKeeper); Hazelcast removes a CP member missing for CP_MEMBER_REMOVAL_S, for brokers that never
            // return; sessions (the lock holder's) expire after CP_SESSION_TTL_S, as Kafka's broker.session.timeout.ms
            // is 9 s.
            c.getCPSubsystemConfig().setCPMemberCount(cpMembers).setGroupSize(Math.min(cpMembers % 2 == 0 ? cpMembers - 1 : cpMembers, 7))
                    .setSessionTimeToLiveSeconds(Limits.CP_SESSION_TTL_S).setSessionHeartbeatIntervalSeconds(Limits.CLUSTER_HEARTBEAT_INTERVAL_S)
                    .setMissingCPMemberAutoRemovalSeconds(Limits.CP_MEMBER_REMOVAL_S);
            c.getCPSubsystemConfig().getRaftAlgorithmConfig().setLeaderHeartbeatPeriodInMillis(Limits.CP_RAFT_HEARTBEAT_MS)
                    .setMaxMissedLeaderHeartbeatCount(Limits.CP_RAFT_MISSED_HEARTBEATS).setLeaderElectionTimeoutInMillis(Limits.CP_RAFT_ELECTION_TIMEOUT_MS);
        }
        join(net.getJoin(), config);
        return c;
    }

    /**
     * Hazelcast's join as {@code cluster.discovery} says: exactly one mechanism enabled (Hazelcast refuses two), and
     * its auto-detection off, so that a broker never joins a cluster it was not told about.
     */
    private static void join(JoinConfig join, BrokerConfig config) {
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(false);
        switch (config.get(BrokerConfig.CLUSTER_DISCOVERY)) {
            // Hazelcast sends from the interface of the address it binds (cluster.host when set).
            case "multicast" -> join.getMulticastConfig().setEnabled(true)
                    .setMulticastGroup(config.get(BrokerConfig.CLUSTER_MULTICAST_GROUP))
                    .setMulticastPort(config.get(BrokerConfig.CLUSTER_MULTICAST_PORT));
            case "kubernetes-dns" -> join.getKubernetesConfig().setEnabled(true)
                    .setProperty("service-dns", config.get(BrokerConfig.CLUSTER_KUBERNETES_SERVICE_DNS))
                    .setProperty("service-port", Integer.toString(config.get(BrokerConfig.CLUSTER_PORT)));
            case "kubernetes-api" -> {
                KubernetesConfig k = join.getKubernetesConfig().setEnabled(true)
                        .setProperty("service-port", Integer.toString(config.get(BrokerConfig.CLUSTER_PORT)));
                String namespace = config.get(BrokerConfig.CLUSTER_KUBERNETES_NAMESPACE);
                if (namespace != null) k.setProperty("namespace", namespace);
                String service = config.get(BrokerConfig.CLUSTER_KUBERNETES_SERVICE_NAME);
                if (service != null) k.setProperty("service-name", service);
            }
            default -> join.getTcpIpConfig().setEnabled(true).setMembers(new ArrayList<>(config.clusterMembers()));
        }
    }

    /** What the join looks for, for messages: the members listed, or the discovery. */
    static String joinTarget(BrokerConfig config) {
        return switch (config.get(BrokerConfig.CLUSTER_DISCOVERY)) {
            case "multicast" -> "by multicast on " + config.get(BrokerConfig.CLUSTER_MULTICAST_GROUP) + ":" + config.get(BrokerConfig.CLUSTER_MULTICAST_PORT);
            case "kubernetes-dns" -> "at the addresses of " + config.get(BrokerConfig.CLUSTER_KUBERNETES_SERVICE_DNS);
            case "kubernetes-api" -> "through the Kubernetes API";
            default -> "at " + config.clusterMembers();
        };
    }

    HazelcastInstance hz() {
        return hz;
    }

    Vertx vertx() {
        return vertx;
    }

    /** This broker's member id (it changes when the member rejoins after a split brain). */
    UUID self() {
        return hz.getCluster().getLocalMember().getUuid();
    }

    /** The live members' ids. */
    Set<UUID> members() {
        Set<UUID> out = new HashSet<>();
        for (Member m : hz.getCluster().getMembers()) out.add(m.getUuid());
        return out;
    }

    /** Whether this broker is the oldest member (every member agrees on the order). */
    boolean isOldest() {
        return hz.getCluster().getMembers().iterator().next().getUuid().equals(self());
    }

    /** The address of a live member, or null. */
    String addressOf(UUID member) {
        for (Member m : hz.getCluster().getMembers()) if (m.getUuid().equals(member)) return m.getAddress().toString();
        return null;
    }

    boolean isRunning() {
        return hz.getLifecycleService().isRunning();
    }

    /** Calls {@code listener} (on a Hazelcast event thread) when a member joins or leaves. */
    void onMembershipChange(Runnable listener) {
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent e) {
                listener.run();
            }

            @Override
            public void memberRemoved(MembershipEvent e) {
                LOG.info("Cluster member {} left", e.getMember().getAddress());
                listener.run();
            }
        });
    }

    /**
     * Calls {@code listener} (on a Hazelcast thread) when this member merged back after a split brain: it was paused
     * or cut off, the larger side's maps won, and it rejoined with a new member id.
     */
    void onMerged(Runnable listener) {
        hz.getLifecycleService().addLifecycleListener(e -> {
            if (e.getState() == LifecycleState.MERGED) listener.run();
        });
    }

    /**
     * Whether Hazelcast itself ended this member, not {@link #shutdown}: a join or a split-brain merge it was refused
     * ("Node could not join cluster": a member that is merging refuses joins while its cluster state is FROZEN, as
     * happens when three brokers that started apart merge at once), after which Hazelcast shuts the member down.
     */
    boolean terminatedByHazelcast() {
        return !leaving && !hz.getLifecycleService().isRunning();
    }

    /** Calls {@code listener} (on a Hazelcast thread) when {@link #terminatedByHazelcast} becomes true. */
    void onTerminated(Runnable listener) {
        hz.getLifecycleService().addLifecycleListener(e -> {
            if (e.getState() == LifecycleState.SHUTDOWN && !leaving) listener.run();
        });
    }

    /** Whether no migration runs and every backup is in sync (a read then misses no entry). */
    boolean isClusterSafe() {
        return hz.getPartitionService().isClusterSafe();
    }

    /** Waits (blocking, up to {@link Limits#CLUSTER_MERGE_SETTLE_MS}) until {@link #isClusterSafe}, while {@code running}. */
    void awaitClusterSafe(BooleanSupplier running) throws InterruptedException {
        long deadline = System.nanoTime() + Limits.CLUSTER_MERGE_SETTLE_MS * 1_000_000L;
        while (running.getAsBoolean() && !isClusterSafe() && System.nanoTime() < deadline) Thread.sleep(Limits.CLUSTER_SAFE_POLL_MS);
    }

    /** Leaves the cluster (after Vert.x is closed: Vert.x unregisters its event-bus addresses first). Blocking. */
    void shutdown() {
        leaving = true;
        try {
            hz.shutdown();
        } catch (RuntimeException e) {
            LOG.debug("Hazelcast shutdown failed", e);
        }
    }
}
