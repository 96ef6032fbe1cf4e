package io.runnel.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.cp.lock.FencedLock;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.TopicMetadata;
import io.runnel.partition.TopicAuthority;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotControllerException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;
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
    /** Where a controller announces a new metadata version (CP mode), so brokers read it at once. */
    private static final String METADATA_ADDRESS = "runnel.metadata";
    private static final String CONTROLLER_LOCK = "runnel-controller";
    private static final String CP_MEMBERS_MAP = "runnel-cp-members";

    private final HazelcastInstance hz;
    private final Vertx vertx;
    private final IMap<Integer, String> brokersMap;
    private final IMap<String, String> controllerMap;
    private final Map<Integer, JsonObject> registrations = new ConcurrentHashMap<>();
    private volatile Set<UUID> liveMembers = Set.of();
    private volatile List<BrokerNode> brokers = List.of();
    private volatile JsonObject controller;
    private volatile int nodeId = -1;
    private volatile ClusterController.Settings controllerSettings = new ClusterController.Settings(false, false, 300_000, 10);
    private final IMap<String, String> topicsMap;
    private final IMap<String, String> deletedMap;
    private final Map<String, TopicMetadata> topicsCache = new ConcurrentHashMap<>();
    private final Set<Uuid> deletedCache = ConcurrentHashMap.newKeySet();
    /** Where this broker applies cluster images (the Partitions), on {@link #context}; set by the server. */
    private volatile Consumer<MetadataImage> imageListener;
    /** The version of the last image handed to the broker (on {@link #context}). */
    private long imageVersion;
    private final Context context;
    private ClusterController controllerRole;
    /** CP members the metadata quorum should have; 0 when the oldest member is the controller (AP maps). */
    private final int cpMemberCount;
    /** The CP-subsystem metadata, or null without a CP group. */
    private final CpMetadata cp;
    private final MetadataStore store;
    private volatile boolean running = true;
    /** Wakes the metadata poller (a write was announced); capacity one, so signals coalesce. */
    private final BlockingQueue<Boolean> pollSignal = new ArrayBlockingQueue<>(1);
    private volatile long appliedVersion = -1;
    private volatile List<Integer> cpMembers = List.of();
    private final AtomicBoolean cpCheckRunning = new AtomicBoolean();
    private Thread electionThread;
    private Thread pollerThread;

    private HazelcastCluster(HazelcastInstance hz, Vertx vertx, int cpMemberCount) {
        this.hz = hz;
        this.vertx = vertx;
        this.brokersMap = hz.getMap(BROKERS_MAP);
        this.controllerMap = hz.getMap(CONTROLLER_MAP);
        this.topicsMap = hz.getMap(TOPICS_MAP);
        this.deletedMap = hz.getMap(DELETED_MAP);
        this.context = vertx.getOrCreateContext();
        this.cpMemberCount = cpMemberCount;
        this.cp = cpMemberCount > 0 ? new CpMetadata(hz, v -> vertx.eventBus().publish(METADATA_ADDRESS, v)) : null;
        this.store = cp != null ? cp : new ApMetadataStore(topicsMap, deletedMap, this::currentControllerEpoch, this::hasQuorum);
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
                    HazelcastCluster c = new HazelcastCluster(hz, vertx, config.cpMemberCount());
                    c.controllerSettings = new ClusterController.Settings(config.get(BrokerConfig.UNCLEAN_LEADER_ELECTION_ENABLE),
                            config.get(BrokerConfig.AUTO_LEADER_REBALANCE_ENABLE), config.get(BrokerConfig.LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS) * 1000,
                            config.get(BrokerConfig.LEADER_IMBALANCE_PER_BROKER_PERCENTAGE));
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
        c.addMapConfig(new MapConfig("runnel-*").setBackupCount(2).setAsyncBackupCount(0));
        int cpMembers = config.cpMemberCount();
        if (cpMembers > 0) {
            // The metadata quorum (docs/cluster.md): a Raft group of cpMembers brokers elects the controller with a
            // FencedLock and keeps the metadata. A CP member that is gone for 10 s is removed so that a restarted
            // broker (a new member at the same address) can be promoted in its place; sessions (the lock holder's)
            // expire after 10 s, as Kafka's broker.session.timeout.ms is 9 s; Raft leaders are suspected after 5 s.
            c.getCPSubsystemConfig().setCPMemberCount(cpMembers).setGroupSize(Math.min(cpMembers % 2 == 0 ? cpMembers - 1 : cpMembers, 7))
                    .setSessionTimeToLiveSeconds(10).setSessionHeartbeatIntervalSeconds(1).setMissingCPMemberAutoRemovalSeconds(10);
            c.getCPSubsystemConfig().getRaftAlgorithmConfig().setLeaderHeartbeatPeriodInMillis(1000).setMaxMissedLeaderHeartbeatCount(5)
                    .setLeaderElectionTimeoutInMillis(2000);
        }
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
            if (e.getState() == LifecycleEvent.LifecycleState.MERGED) {
                LOG.warn("Broker {} rejoined the cluster after a split; registering again", nodeId);
                vertx.executeBlocking(() -> {
                    if (cp == null) resign(); // in CP mode the controller lock decides
                    // The merged maps are read once the partition table settled: read during the merge's migrations,
                    // they missed entries (a broker's registration), and no event brings back an entry that did not
                    // change (a CI run left a broker without the leader's address for good).
                    awaitClusterSafe();
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
        if (cp == null) {
            controllerMap.addEntryListener(new ControllerListener(), true);
            topicsMap.addEntryListener(new TopicsListener(), true);
            deletedMap.addEntryListener((EntryAddedListener<String, String>) e -> {
                deletedCache.add(Uuid.fromString(e.getKey()));
                imageChanged();
            }, true);
            readApMetadata();
        } else {
            vertx.eventBus().<Long>consumer(METADATA_ADDRESS, m -> pollSignal.offer(Boolean.TRUE));
            pollerThread = daemon("runnel-metadata-poller", this::pollLoop);
        }
        liveMembers = members();
        registrations.putAll(readRegistrations());
        rebuild();
        vertx.setPeriodic(REGISTRATION_CHECK_MS, id -> checkRegistrations());
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    // ---------------------------------------------------------------- CP mode

    /**
     * Reads the CP metadata whenever a controller announces a write, and at least every second checks its version
     * (a full read every 10 s regardless): the broker applies images in version order and never an older one, so a
     * broker that was cut off keeps its last image until it can read the quorum's again.
     */
    private void pollLoop() {
        int idle = 0;
        while (running) {
            try {
                pollSignal.poll(1, TimeUnit.SECONDS);
                if (cp.version() == appliedVersion && ++idle < 10) continue;
                idle = 0;
                CpMetadata.Image image = cp.read();
                if (image.version() > appliedVersion) apply(image);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debug("Reading the cluster metadata failed (no CP majority reachable?)", e);
            }
        }
    }

    private synchronized void apply(CpMetadata.Image image) {
        if (image.version() <= appliedVersion) return;
        appliedVersion = image.version();
        topicsCache.keySet().retainAll(image.topics().keySet());
        image.topics().forEach((k, v) -> topicsCache.put(k, TopicJson.decode(v)));
        deletedCache.addAll(image.deleted());
        if (image.controller() != null) controller = image.controller();
        imageChanged();
    }

    /**
     * The controller election of CP mode: whoever holds the FencedLock {@code runnel-controller} is the controller,
     * and its fencing token is the controller epoch (it claims the metadata with it). The holder checks every second
     * that it still holds the lock (a broker frozen past its CP session's 10 s loses it) and gives the role up
     * otherwise; a broker without a CP majority can neither take the lock nor write.
     */
    private void electionLoop() {
        FencedLock lock = hz.getCPSubsystem().getLock(CONTROLLER_LOCK);
        while (running) {
            try {
                long fence = lock.tryLockAndGetFence(1, TimeUnit.SECONDS);
                if (fence == FencedLock.INVALID_FENCE) continue;
                try {
                    if (cp.claim(fence, nodeId, self().toString())) {
                        ClusterController role = takeRole(fence);
                        while (running && controllerRole == role && lock.isLockedByCurrentThread()) Thread.sleep(1000);
                        LOG.info("Broker {} gives up the controller role (epoch {})", nodeId, fence);
                    }
                } finally {
                    resign();
                    try {
                        if (lock.isLockedByCurrentThread()) lock.unlock();
                    } catch (RuntimeException e) {
                        LOG.debug("Releasing the controller lock failed", e);
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debug("Controller election failed (no CP majority yet?); trying again", e);
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException x) {
                    return;
                }
            }
        }
    }

    /**
     * Keeps the CP group at its size: a broker that is not a CP member promotes itself while the group has fewer
     * members than {@code cluster.cp.member.count} (a restarted broker, once Hazelcast removed its former self after
     * 10 s). Also refreshes the node ids of the CP members for /api/cluster.
     */
    private void checkCpGroup() {
        if (!running || !cpCheckRunning.compareAndSet(false, true)) return;
        vertx.executeBlocking(() -> {
            var management = hz.getCPSubsystem().getCPSubsystemManagementService();
            if (!management.isDiscoveryCompleted()) return null;
            var members = CpMetadata.await(management.getCPMembers());
            // CP members have identities of their own: each broker publishes its own, so that a crashed broker's
            // former self (same address, not yet removed) is not counted for the restarted one.
            IMap<Integer, String> published = hz.getMap(CP_MEMBERS_MAP);
            var local = management.getLocalCPMember();
            if (local != null && !local.getUuid().toString().equals(published.get(nodeId))) published.put(nodeId, local.getUuid().toString());
            Set<String> cpIds = new HashSet<>();
            members.forEach(m -> cpIds.add(m.getUuid().toString()));
            cpMembers = brokers.stream().map(BrokerNode::nodeId).filter(id -> cpIds.contains(published.get(id))).sorted().toList();
            if (local == null && members.size() < cpMemberCount) {
                CpMetadata.await(management.promoteToCPMember());
                LOG.info("Broker {} is now a member of the CP group", nodeId);
            }
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) LOG.debug("Checking the CP group failed", ar.cause());
            cpCheckRunning.set(false);
        });
    }

    @Override
    public String metadataMode() {
        return cp == null ? "oldest-member" : "cp";
    }

    @Override
    public List<Integer> cpMembers() {
        return cpMembers;
    }

    @Override
    public int cpMemberCount() {
        return cpMemberCount;
    }

    /** A broker registered (or registered again): the view, the controller election and the controller's adoption. */
    private void registered(int id, JsonObject r) {
        registrations.put(id, r);
        rebuild();
        if (cp == null && nodeId >= 0) vertx.executeBlocking(() -> { // a registration may complete the majority
            elect();
            return null;
        }, false);
        ClusterController c = controllerRole;
        if (c != null) c.run(() -> {
            c.adopt(id, r.getJsonArray("topics", new JsonArray()));
            return null;
        });
    }

    private final class BrokerListener implements EntryAddedListener<Integer, String>, EntryUpdatedListener<Integer, String>,
            EntryRemovedListener<Integer, String> {
        @Override
        public void entryAdded(EntryEvent<Integer, String> e) {
            registered(e.getKey(), new JsonObject(e.getValue()));
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

    /** Waits (blocking, up to {@link #MERGE_SETTLE_MS}) until Hazelcast has no migrations running and every backup is in sync. */
    private void awaitClusterSafe() throws InterruptedException {
        long deadline = System.nanoTime() + MERGE_SETTLE_MS * 1_000_000L;
        while (running && !hz.getPartitionService().isClusterSafe() && System.nanoTime() < deadline) Thread.sleep(100);
    }

    private static final long MERGE_SETTLE_MS = 30_000;
    /** How often the broker registrations are read again, whatever the events said ({@link #checkRegistrations}). */
    private static final long REGISTRATION_CHECK_MS = 5_000;

    /**
     * Reads the broker registrations again and takes them when they differ from what the events built: registration
     * events can be missed (a member failing, a merge's migrations) and a registration that does not change again
     * sends none. A few small entries, read on a worker every {@link #REGISTRATION_CHECK_MS}.
     */
    private void checkRegistrations() {
        if (!running || !registrationCheckRunning.compareAndSet(false, true)) return;
        vertx.executeBlocking(() -> {
            if (!hz.getPartitionService().isClusterSafe()) return null; // migrating: a read now may miss entries
            Map<Integer, JsonObject> read = readRegistrations();
            // Added or changed entries only: nothing removes a registration but its own event.
            Map<Integer, JsonObject> differing = new HashMap<>();
            read.forEach((id, r) -> {
                if (!r.equals(registrations.get(id))) differing.put(id, r);
            });
            if (!differing.isEmpty()) {
                LOG.info("Registrations of brokers {} differed from Hazelcast's map (events missed); taking the map's", differing.keySet());
                liveMembers = members();
                differing.forEach(this::registered);
            }
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) LOG.debug("Checking the broker registrations failed", ar.cause());
            registrationCheckRunning.set(false);
        });
    }

    /** Every broker registration in Hazelcast's map. Blocking. */
    private Map<Integer, JsonObject> readRegistrations() {
        Map<Integer, JsonObject> read = new HashMap<>();
        brokersMap.forEach((k, v) -> read.put(k, new JsonObject(v)));
        return read;
    }

    private final AtomicBoolean registrationCheckRunning = new AtomicBoolean();

    /** Reads every map again (after a merge the local copies may be stale) and hands the broker a fresh image. */
    private void reload() {
        // Swapped in without emptying the view first, as readApMetadata does with the topics.
        Map<Integer, JsonObject> read = readRegistrations();
        registrations.keySet().retainAll(read.keySet());
        registrations.putAll(read);
        if (cp != null) { // the metadata is the quorum's: read it again
            liveMembers = members();
            rebuild();
            pollSignal.offer(Boolean.TRUE);
            return;
        }
        readApMetadata();
        liveMembers = members();
        rebuild();
        imageChanged();
    }

    /** Oldest-member mode: reads the controller entry, the topics and the tombstones from Hazelcast's maps. */
    private void readApMetadata() {
        String c = controllerMap.get(CONTROLLER_KEY);
        controller = c == null ? null : new JsonObject(c);
        // Swapped in without emptying the cache first: an image copied meanwhile must not miss a live topic.
        Map<String, TopicMetadata> read = new HashMap<>();
        topicsMap.forEach((k, v) -> read.put(k, TopicJson.decode(v)));
        topicsCache.keySet().retainAll(read.keySet());
        topicsCache.putAll(read);
        deletedMap.keySet().forEach(k -> deletedCache.add(Uuid.fromString(k)));
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

    /**
     * Hands the current topic metadata to the broker, on the cluster context so that images are applied in order.
     * The copy is taken there too, not on the calling thread: Hazelcast delivers events of different keys (and
     * membership events) on different threads, and a copy taken before another thread's update could otherwise be
     * applied after that thread's newer copy, leaving the broker on a stale placement until the topic changed again.
     */
    private void imageChanged() {
        Consumer<MetadataImage> l = imageListener;
        if (l == null) return;
        context.runOnContext(v -> l.accept(new MetadataImage(++imageVersion, topicsCache, deletedCache)));
    }

    /** Where to apply the cluster's topic metadata from now on; it gets the current image at once. */
    public void onImage(Consumer<MetadataImage> listener) {
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
            if (cp != null) {
                electionThread = daemon("runnel-controller-election", this::electionLoop);
                vertx.setPeriodic(0, 2_000, id -> checkCpGroup());
            }
            elect();
            return null;
        }, false);
    }

    /** Takes the controller role when this broker is the oldest live member and does not hold it yet. */
    private synchronized void elect() {
        if (cp != null || nodeId < 0 || !hz.getLifecycleService().isRunning()) return;
        Member oldest = hz.getCluster().getMembers().iterator().next();
        if (!oldest.getUuid().equals(self())) return;
        if (!hasQuorum()) {
            // Cut off with a minority of the brokers (a partition, or the others frozen): no decisions here, as a
            // KRaft controller without a majority of its voters makes none.
            if (controllerRole != null) LOG.warn("Broker {} sees {} members for {} registered brokers: not acting as controller", nodeId,
                    liveMembers.size(), registrations.size());
            resign();
            return;
        }
        while (true) {
            String current = controllerMap.get(CONTROLLER_KEY);
            JsonObject cur = current == null ? null : new JsonObject(current);
            if (cur != null && cur.getString("member").equals(self().toString()) && controllerRole != null) return;
            resign();
            long epoch = cur == null ? 1 : cur.getLong("epoch") + 1;
            String next = new JsonObject().put("nodeId", nodeId).put("epoch", epoch).put("member", self().toString()).encode();
            boolean won = current == null ? controllerMap.putIfAbsent(CONTROLLER_KEY, next) == null : controllerMap.replace(CONTROLLER_KEY, current, next);
            if (won) {
                takeRole(epoch);
                return;
            }
        }
    }

    /** Starts acting as the controller of {@code epoch} (the metadata is already claimed for it). */
    private ClusterController takeRole(long epoch) {
        LOG.info("Broker {} is the controller (epoch {})", nodeId, epoch);
        controller = new JsonObject().put("nodeId", nodeId).put("epoch", epoch).put("member", self().toString());
        ClusterController role = new ClusterController(this, vertx, store, epoch, controllerSettings);
        controllerRole = role;
        context.runOnContext(v -> {
            role.start();
            // the reports of brokers that registered before this one became controller
            registrations.forEach((id, r) -> role.run(() -> {
                role.adopt(id, r.getJsonArray("topics", new JsonArray()));
                return null;
            }));
        });
        return role;
    }

    /**
     * Oldest-member mode: whether a majority of the registered brokers (a registration stays when its broker dies) is
     * live in this broker's view of the cluster. Without it the controller changes nothing: an isolated broker (a
     * network partition, or the others frozen) must not elect leaders from its stale copy of the metadata. CP mode
     * has the CP group's own majority instead.
     */
    boolean hasQuorum() {
        if (cp != null) return true;
        // Hazelcast members, not live registrations: a broker joins before it registers, and the two kinds of
        // events arrive in either order (counting registrations made a restarted cluster lose its majority for a
        // moment while it rebuilt the metadata from the brokers' reports).
        int registered = registrations.size();
        return registered == 0 || liveMembers.size() * 2 > registered;
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
            public Future<Map<TopicPartition, ApiError>> electLeaders(boolean unclean,
                    Map<String, List<Integer>> partitions) {
                JsonObject wanted = null;
                if (partitions != null) {
                    wanted = new JsonObject();
                    for (var e : partitions.entrySet()) wanted.put(e.getKey(), new JsonArray(new ArrayList<>(e.getValue())));
                }
                return commandReply(new JsonObject().put("op", "elect").put("type", unclean ? ClusterController.UNCLEAN : ClusterController.PREFERRED)
                        .put("partitions", wanted)).map(reply -> {
                            Map<TopicPartition, ApiError> out = new LinkedHashMap<>();
                            for (Object x : reply.getJsonArray("results", new JsonArray())) {
                                JsonObject r = (JsonObject) x;
                                out.put(new TopicPartition(r.getString("topic"), r.getInteger("partition")),
                                        new ApiError(Errors.forCode(r.getInteger("error").shortValue()), r.getString("message")));
                            }
                            return out;
                        });
            }

            @Override
            public Future<Void> reassign(String topic, int partition, List<Integer> replicas, boolean allowReplicationFactorChange) {
                return command(new JsonObject().put("op", "reassign").put("name", topic).put("partition", partition)
                        .put("replicas", replicas == null ? null : new JsonArray(new ArrayList<>(replicas))).put("allowRfChange", allowReplicationFactorChange));
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
        return commandReply(c).mapEmpty();
    }

    /** Sends a command to the controller and hands back its reply. */
    private Future<JsonObject> commandReply(JsonObject c) {
        return vertx.eventBus().<JsonObject>request(ClusterController.ADDRESS, c, new DeliveryOptions().setSendTimeout(Limits.CLUSTER_CHANGE_TIMEOUT_MS))
                .map(Message::body)
                .recover(e -> {
                    if (e instanceof ReplyException r && r.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
                        Errors error = Errors.forCode((short) r.failureCode());
                        return Future.failedFuture(error == Errors.UNKNOWN_SERVER_ERROR ? new IllegalStateException(r.getMessage())
                                : error.exception(r.getMessage()));
                    }
                    // No controller consumes the address (none elected yet, or it just changed): retriable.
                    return Future.failedFuture(new NotControllerException("No controller answered: " + e.getMessage()));
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
        running = false;
        for (Thread t : new Thread[] {electionThread, pollerThread}) {
            if (t == null) continue;
            t.interrupt();
            try {
                t.join(3_000); // the election thread releases the controller lock: the next controller need not wait 10 s
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            hz.shutdown();
        } catch (RuntimeException e) {
            LOG.debug("Hazelcast shutdown failed", e);
        }
    }
}
