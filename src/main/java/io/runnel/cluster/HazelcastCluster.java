package io.runnel.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.partition.ClusterTopic;
import io.runnel.partition.TopicAuthority;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster membership through Hazelcast (the only class family that imports it): the Hazelcast member of this broker
 * (TCP-IP discovery of {@code cluster.members}, multicast off), Vert.x clustered on it, the registry of live
 * brokers and the election of the controller.
 *
 * <p>Hazelcast state, all in IMaps whose values are JSON text (no Hazelcast serialisation of our classes):
 * <ul>
 *   <li>{@code runnel-cluster}: {@code clusterId}, set by the first broker and adopted by every other;</li>
 *   <li>{@code runnel-brokers}: node id to {@code {"member", "listeners", "http"}}, written by each broker for itself;
 *       an entry whose Hazelcast member is gone is not a live broker;</li>
 *   <li>{@code runnel-controller}: {@code controller} to {@code {"nodeId", "epoch", "member"}}.</li>
 * </ul>
 *
 * <p>Controller election: the oldest Hazelcast member is the controller (Hazelcast orders members by join time and
 * every member sees the same order). When it becomes oldest it takes the {@code controller} entry with a
 * compare-and-set that raises the epoch by one, so epochs only grow and a stale controller, whose CAS fails, learns
 * that it was replaced. The trade-off (docs/cluster.md): during a network partition both sides elect an oldest
 * member; the epoch check on every metadata write keeps the minority's controller from overwriting the majority's
 * metadata once the partition heals.
 *
 * <p>Threads: Hazelcast calls block, so they run on worker threads; its listeners run on Hazelcast's event threads
 * and only replace immutable snapshots.
 */
public final class HazelcastCluster implements ClusterView {
    private static final Logger LOG = LoggerFactory.getLogger(HazelcastCluster.class);
    private static final String CLUSTER_MAP = "runnel-cluster";
    private static final String BROKERS_MAP = "runnel-brokers";
    private static final String CONTROLLER_MAP = "runnel-controller";
    private static final String CONTROLLER_KEY = "controller";
    private static final String TOPICS_MAP = "runnel-topics";
    private static final String DELETED_MAP = "runnel-deleted";

    private final HazelcastInstance hz;
    private final Vertx vertx;
    private final IMap<Integer, String> brokersMap;
    private final IMap<String, String> controllerMap;
    private final Map<Integer, JsonObject> registrations = new ConcurrentHashMap<>();
    private volatile Set<UUID> liveMembers = Set.of();
    private volatile List<BrokerNode> brokers = List.of();
    private volatile JsonObject controller;
    private volatile int nodeId = -1;
    private volatile boolean uncleanElection;
    private final IMap<String, String> topicsMap;
    private final IMap<String, String> deletedMap;
    private final Map<String, ClusterTopic> topicsCache = new ConcurrentHashMap<>();
    private final Set<Uuid> deletedCache = ConcurrentHashMap.newKeySet();
    /** Where this broker applies cluster images (the Partitions), on {@link #context}; set by the server. */
    private volatile BiConsumer<Map<String, ClusterTopic>, Set<Uuid>> imageListener;
    private final Context context;
    private ClusterController controllerRole;

    private HazelcastCluster(HazelcastInstance hz, Vertx vertx) {
        this.hz = hz;
        this.vertx = vertx;
        this.brokersMap = hz.getMap(BROKERS_MAP);
        this.controllerMap = hz.getMap(CONTROLLER_MAP);
        this.topicsMap = hz.getMap(TOPICS_MAP);
        this.deletedMap = hz.getMap(DELETED_MAP);
        this.context = vertx.getOrCreateContext();
    }

    /**
     * Starts this broker's Hazelcast member, joins {@code cluster.members} and builds a Vert.x clustered on it.
     * Blocks while Hazelcast joins (call it before any event loop depends on it).
     */
    public static Future<HazelcastCluster> join(BrokerConfig config, VertxOptions options, VertxMetricsFactory metrics) {
        HazelcastInstance hz;
        try {
            hz = Hazelcast.newHazelcastInstance(hazelcastConfig(config));
        } catch (RuntimeException e) {
            return Future.failedFuture(new IllegalStateException("cannot join the cluster " + config.clusterMembers() + ": " + e.getMessage(), e));
        }
        String host = config.get(BrokerConfig.CLUSTER_HOST);
        if (host != null) options.getEventBusOptions().setHost(host);
        return Vertx.builder().with(options).withMetrics(metrics).withClusterManager(new HazelcastClusterManager(hz)).buildClustered()
                .map(vertx -> {
                    HazelcastCluster c = new HazelcastCluster(hz, vertx);
                    c.uncleanElection = config.get(BrokerConfig.UNCLEAN_LEADER_ELECTION_ENABLE);
                    c.listen();
                    return c;
                })
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
        // A broker that stops answering is declared gone after 10 s (Kafka's broker.session.timeout.ms is 9 s); a
        // killed one is noticed at once, when its connections close.
        c.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        c.setProperty("hazelcast.max.no.heartbeat.seconds", "10");
        // A broker that was cut off (or frozen) and comes back merges into the cluster within seconds, not minutes.
        c.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
        c.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
        NetworkConfig net = c.getNetworkConfig();
        net.setPort(config.get(BrokerConfig.CLUSTER_PORT)).setPortAutoIncrement(false);
        String host = config.get(BrokerConfig.CLUSTER_HOST);
        if (host != null) {
            c.setProperty("hazelcast.local.localAddress", host);
            net.setPublicAddress(host + ":" + config.get(BrokerConfig.CLUSTER_PORT));
        }
        // Runnel's maps keep two synchronous backups, so that two brokers lost one after the other lose no metadata.
        c.addMapConfig(new com.hazelcast.config.MapConfig("runnel-*").setBackupCount(2).setAsyncBackupCount(0));
        JoinConfig join = net.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setMembers(new ArrayList<>(config.clusterMembers()));
        return c;
    }

    public Vertx vertx() {
        return vertx;
    }

    private void listen() {
        // After a split brain heals (a broker that was paused or cut off), Hazelcast merges the smaller side back: its
        // members come back with new identities, so this broker registers again and gives up a controller role it
        // took while alone (the merged maps keep the larger side's controller).
        hz.getLifecycleService().addLifecycleListener(e -> {
            if (e.getState() == com.hazelcast.core.LifecycleEvent.LifecycleState.MERGED) {
                LOG.warn("Broker {} rejoined the cluster after a split; registering again", nodeId);
                vertx.executeBlocking(() -> {
                    resign();
                    reload();
                    reregister();
                    return null;
                }, false).onFailure(x -> LOG.error("Registering again after the merge failed", x));
            }
        });
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent e) {
                membersChanged();
            }

            @Override
            public void memberRemoved(MembershipEvent e) {
                LOG.info("Cluster member {} left", e.getMember().getAddress());
                membersChanged();
            }
        });
        brokersMap.addEntryListener(new BrokerListener(), true);
        controllerMap.addEntryListener(new ControllerListener(), true);
        topicsMap.addEntryListener(new TopicsListener(), true);
        deletedMap.addEntryListener((EntryAddedListener<String, String>) e -> {
            deletedCache.add(Uuid.fromString(e.getKey()));
            imageChanged();
        }, true);
        topicsMap.forEach((k, v) -> topicsCache.put(k, TopicJson.decode(v)));
        deletedMap.keySet().forEach(k -> deletedCache.add(Uuid.fromString(k)));
        liveMembers = members();
        brokersMap.forEach((k, v) -> registrations.put(k, new JsonObject(v)));
        String c = controllerMap.get(CONTROLLER_KEY);
        if (c != null) controller = new JsonObject(c);
        rebuild();
    }

    private final class BrokerListener implements EntryAddedListener<Integer, String>, EntryUpdatedListener<Integer, String>,
            EntryRemovedListener<Integer, String> {
        @Override
        public void entryAdded(EntryEvent<Integer, String> e) {
            JsonObject r = new JsonObject(e.getValue());
            registrations.put(e.getKey(), r);
            rebuild();
            ClusterController c = controllerRole;
            if (c != null) c.run(() -> {
                c.adopt(e.getKey(), r.getJsonArray("topics", new JsonArray()));
                return null;
            });
        }

        @Override
        public void entryUpdated(EntryEvent<Integer, String> e) {
            entryAdded(e);
        }

        @Override
        public void entryRemoved(EntryEvent<Integer, String> e) {
            registrations.remove(e.getKey());
            rebuild();
        }
    }

    /** Reads every map again (after a merge the local copies may be stale) and hands the broker a fresh image. */
    private void reload() {
        registrations.clear();
        brokersMap.forEach((k, v) -> registrations.put(k, new JsonObject(v)));
        String c = controllerMap.get(CONTROLLER_KEY);
        controller = c == null ? null : new JsonObject(c);
        topicsCache.clear();
        topicsMap.forEach((k, v) -> topicsCache.put(k, TopicJson.decode(v)));
        deletedMap.keySet().forEach(k -> deletedCache.add(Uuid.fromString(k)));
        liveMembers = members();
        rebuild();
        imageChanged();
    }

    private final class TopicsListener implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String>,
            EntryRemovedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> e) {
            topicsCache.put(e.getKey(), TopicJson.decode(e.getValue()));
            imageChanged();
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> e) {
            entryAdded(e);
        }

        @Override
        public void entryRemoved(EntryEvent<String, String> e) {
            topicsCache.remove(e.getKey());
            imageChanged();
        }
    }

    /** Hands the current topic metadata to the broker (on the cluster context, so images are applied in order). */
    private void imageChanged() {
        BiConsumer<Map<String, ClusterTopic>, Set<Uuid>> l = imageListener;
        if (l == null) return;
        Map<String, ClusterTopic> image = Map.copyOf(topicsCache);
        Set<Uuid> deleted = Set.copyOf(deletedCache);
        context.runOnContext(v -> l.accept(image, deleted));
    }

    /** Where to apply the cluster's topic metadata from now on; it gets the current image at once. */
    public void onImage(BiConsumer<Map<String, ClusterTopic>, Set<Uuid>> listener) {
        imageListener = listener;
        imageChanged();
    }

    private final class ControllerListener implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> e) {
            controller = new JsonObject(e.getValue());
            LOG.info("Controller is broker {} (epoch {})", controller.getInteger("nodeId"), controller.getLong("epoch"));
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> e) {
            entryAdded(e);
        }
    }

    /** This broker's Hazelcast member id (it changes when the member rejoins after a split brain). */
    private UUID self() {
        return hz.getCluster().getLocalMember().getUuid();
    }

    private Set<UUID> members() {
        Set<UUID> out = new HashSet<>();
        for (Member m : hz.getCluster().getMembers()) out.add(m.getUuid());
        return out;
    }

    private void membersChanged() {
        liveMembers = members();
        rebuild();
        if (nodeId >= 0) vertx.executeBlocking(() -> {
            elect();
            return null;
        }, false);
        ClusterController c = controllerRole;
        if (c != null) c.run(() -> {
            // A member gone may have taken map entries with it (more failures than backups): the live brokers'
            // reports bring missing topics back before the leaders are checked.
            registrations.forEach((id, r) -> c.adopt(id, r.getJsonArray("topics", new JsonArray())));
            c.reconcileAll();
            return null;
        });
    }

    private synchronized void rebuild() {
        List<BrokerNode> out = new ArrayList<>();
        Set<UUID> live = liveMembers;
        registrations.forEach((id, r) -> {
            if (!live.contains(UUID.fromString(r.getString("member")))) return;
            Map<String, String> listeners = new HashMap<>();
            r.getJsonObject("listeners").forEach(e -> listeners.put(e.getKey(), (String) e.getValue()));
            out.add(new BrokerNode(id, Map.copyOf(listeners), r.getString("http", "")));
        });
        out.sort(Comparator.comparingInt(BrokerNode::nodeId));
        brokers = List.copyOf(out);
    }

    /**
     * Makes the cluster's id this broker's: the first broker's id wins and the others adopt it. Returns the id to
     * use; a broker whose data already belongs to another cluster id is refused.
     */
    public Future<String> agreeClusterId(String localId, boolean localIsNew) {
        return vertx.executeBlocking(() -> {
            IMap<String, String> m = hz.getMap(CLUSTER_MAP);
            String existing = m.putIfAbsent("clusterId", localId);
            if (existing == null || existing.equals(localId)) return localId;
            if (localIsNew) return existing;
            throw new IllegalStateException("log.dirs belongs to cluster " + localId + " but the brokers at cluster.members form cluster "
                    + existing + " (Kafka's INCONSISTENT_CLUSTER_ID); use an empty log.dirs to join it");
        }, false);
    }

    /**
     * Registers this broker with its advertised endpoints and takes part in controller elections. Fails when a live
     * broker already has this node id.
     */
    private volatile Runnable reregistration;

    private void reregister() {
        Runnable r = reregistration;
        if (r != null) r.run();
    }

    public Future<Void> register(int nodeId, Map<String, String> listeners, String http, JsonArray localTopics) {
        reregistration = () -> {
            brokersMap.put(nodeId, new JsonObject().put("member", hz.getCluster().getLocalMember().getUuid().toString())
                    .put("listeners", new JsonObject(new HashMap<>(listeners))).put("http", http).put("topics", localTopics).encode());
            liveMembers = members();
            rebuild();
            elect();
        };
        return vertx.executeBlocking(() -> {
            brokersMap.lock(nodeId);
            try {
                String old = brokersMap.get(nodeId);
                if (old != null) {
                    UUID member = UUID.fromString(new JsonObject(old).getString("member"));
                    if (!member.equals(self()) && members().contains(member)) {
                        throw new IllegalStateException("node.id " + nodeId + " is already used by the live broker at "
                                + hz.getCluster().getMembers().stream().filter(m -> m.getUuid().equals(member)).findFirst().map(Member::getAddress).orElse(null));
                    }
                }
                brokersMap.put(nodeId, new JsonObject().put("member", self().toString()).put("listeners", new JsonObject(new HashMap<>(listeners)))
                        .put("http", http).put("topics", localTopics).encode());
            } finally {
                brokersMap.unlock(nodeId);
            }
            this.nodeId = nodeId;
            elect();
            return null;
        }, false);
    }

    /** Takes the controller role when this broker is the oldest live member and does not hold it yet. */
    private synchronized void elect() {
        if (nodeId < 0 || !hz.getLifecycleService().isRunning()) return;
        Member oldest = hz.getCluster().getMembers().iterator().next();
        if (!oldest.getUuid().equals(self())) return;
        while (true) {
            String current = controllerMap.get(CONTROLLER_KEY);
            JsonObject cur = current == null ? null : new JsonObject(current);
            if (cur != null && cur.getString("member").equals(self().toString())) return;
            resign();
            long epoch = cur == null ? 1 : cur.getLong("epoch") + 1;
            String next = new JsonObject().put("nodeId", nodeId).put("epoch", epoch).put("member", self().toString()).encode();
            boolean won = current == null ? controllerMap.putIfAbsent(CONTROLLER_KEY, next) == null : controllerMap.replace(CONTROLLER_KEY, current, next);
            if (won) {
                LOG.info("Broker {} is the controller (epoch {})", nodeId, epoch);
                controller = new JsonObject(next);
                ClusterController role = new ClusterController(this, vertx, topicsMap, deletedMap, epoch, uncleanElection);
                context.runOnContext(v -> {
                    ClusterController old = controllerRole;
                    if (old != null) old.stop();
                    controllerRole = role;
                    role.start();
                    // the reports of brokers that registered before this one became controller
                    registrations.forEach((id, r) -> role.run(() -> {
                        role.adopt(id, r.getJsonArray("topics", new JsonArray()));
                        return null;
                    }));
                });
                return;
            }
        }
    }

    /** Stops acting as controller (another broker holds the role now). */
    private void resign() {
        ClusterController c = controllerRole;
        if (c == null) return;
        controllerRole = null;
        context.runOnContext(v -> c.stop());
    }

    /** The controller epoch stored in Hazelcast now (a blocking read). */
    long currentControllerEpoch() {
        String c = controllerMap.get(CONTROLLER_KEY);
        return c == null ? 0 : new JsonObject(c).getLong("epoch");
    }

    int nodeId() {
        return nodeId;
    }

    /** Node ids of the live, registered brokers, ascending. */
    List<Integer> liveNodeIds() {
        return brokers.stream().map(BrokerNode::nodeId).toList();
    }

    /** The controller as the brokers' {@link TopicAuthority}: commands over the clustered event bus. */
    public TopicAuthority authority() {
        return new TopicAuthority() {
            @Override
            public Future<Void> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs) {
                return command(new JsonObject().put("op", "create").put("name", name).put("partitions", partitions)
                        .put("replicationFactor", replicationFactor).put("configs", new JsonObject(new HashMap<>(configs))));
            }

            @Override
            public Future<Void> deleteTopic(String name) {
                return command(new JsonObject().put("op", "delete").put("name", name));
            }

            @Override
            public Future<Void> createPartitions(String name, int total) {
                return command(new JsonObject().put("op", "grow").put("name", name).put("total", total));
            }

            @Override
            public Future<Void> alterTopicConfig(String name, Map<String, String> configs) {
                return command(new JsonObject().put("op", "configure").put("name", name).put("configs", new JsonObject(new HashMap<>(configs))));
            }

            @Override
            public Future<Void> alterIsr(String topic, int partition, int leaderEpoch, List<Integer> isr) {
                return command(new JsonObject().put("op", "alterIsr").put("name", topic).put("partition", partition).put("leader", nodeId)
                        .put("leaderEpoch", leaderEpoch).put("isr", new JsonArray(new ArrayList<>(isr))));
            }
        };
    }

    /** Sends a command to the controller; its failure comes back as the Kafka exception the controller raised. */
    private Future<Void> command(JsonObject c) {
        return vertx.eventBus().<JsonObject>request(ClusterController.ADDRESS, c, new DeliveryOptions().setSendTimeout(Limits.CLUSTER_CHANGE_TIMEOUT_MS))
                .<Void>mapEmpty()
                .recover(e -> {
                    if (e instanceof ReplyException r && r.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
                        Errors error = Errors.forCode((short) r.failureCode());
                        return Future.failedFuture(error == Errors.UNKNOWN_SERVER_ERROR ? new IllegalStateException(r.getMessage())
                                : error.exception(r.getMessage()));
                    }
                    // No controller consumes the address (none elected yet, or it just changed): retriable.
                    return Future.failedFuture(new org.apache.kafka.common.errors.NotControllerException("No controller answered: " + e.getMessage()));
                });
    }

    @Override
    public int controllerId() {
        JsonObject c = controller;
        if (c == null || !liveMembers.contains(UUID.fromString(c.getString("member")))) return -1;
        return c.getInteger("nodeId");
    }

    @Override
    public List<BrokerNode> brokers() {
        return brokers;
    }

    @Override
    public boolean clustered() {
        return true;
    }

    /**
     * Shuts this broker's Hazelcast member down (after Vert.x is closed: Vert.x unregisters its event-bus addresses
     * first). Blocks; the other members see the broker leave at once.
     */
    public void shutdownHazelcast() {
        try {
            hz.shutdown();
        } catch (RuntimeException e) {
            LOG.debug("Hazelcast shutdown failed", e);
        }
    }
}
