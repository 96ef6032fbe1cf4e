package io.runnel.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.microraft.RaftConfig;
import io.microraft.RaftNode;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.quorum.QuorumEndpoint;
import io.runnel.quorum.QuorumMember;
import io.runnel.quorum.QuorumObserver;
import io.runnel.quorum.QuorumTransport;
import io.runnel.security.BrokerSecurity;
import io.runnel.security.InterBrokerLink;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotControllerException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This broker's part in the cluster's own metadata quorum ({@code cluster.quorum.voters}), which replaces Hazelcast's
 * CP subsystem: the voters run a Raft group ({@link QuorumMember}, MicroRaft) whose log is the metadata
 * ({@link MetadataMachine}); the voter that leads it is the controller ({@link RaftElection}); every other broker
 * follows the committed image as an observer ({@link QuorumObserver}), as KRaft's brokers follow the controllers'
 * quorum. Hazelcast still carries membership, the registrations and the voters' addresses, but no metadata: a split
 * brain of Hazelcast decides nothing here, a Raft majority does.
 *
 * <p>Start: a voter makes (or reads) its endpoint in {@code <log.dir>/quorum} (the directory id tells a voter that
 * lost its disk from the one that voted), starts its listener on {@code cluster.host:cluster.quorum.port} and
 * advertises both in Hazelcast's {@code runnel-quorum} map. A new quorum starts once every configured voter has
 * advertised its endpoint (the initial members); a voter restored from its directory starts at once. A broker that is
 * not a voter starts observing at once and reads the image from whichever voter answers.
 *
 * <p>Threads: the start runs on a thread of its own (it waits for the other voters, and the store forces writes);
 * the election on another ({@link RaftElection}); addresses are read from a local copy of the map, kept by its events.
 */
final class QuorumMetadata implements ControllerElection {
    private static final Logger LOG = LoggerFactory.getLogger(QuorumMetadata.class);
    private static final String VOTERS_MAP = "runnel-quorum";
    /** The observer's endpoint in its hellos: brokers that are not voters have no directory in the quorum. */
    private static final String OBSERVER_DIRECTORY = "observer";

    private final HazelcastMember member;
    private final Vertx vertx;
    private final BrokerConfig config;
    private final BrokerRegistry registry;
    private final QuorumVoters voterChoice;
    /** The voters' node ids: empty until known ({@link QuorumVoters}: configured, remembered or chosen). */
    private volatile List<Integer> voterIds = List.of();
    private final RaftMetadataFeed feed;
    private final IMap<Integer, String> votersMap;
    /** The voters' advertisements (node id to {directory, host, port}), kept by the map's events. */
    private final Map<Integer, JsonObject> voters = new ConcurrentHashMap<>();
    private final Store store = new Store();
    private volatile ControllerRole role;
    private volatile BrokerSecurity security;
    private volatile QuorumMember quorumMember;
    private volatile QuorumObserver observer;
    private volatile RaftElection<ClusterController> election;
    private volatile boolean running = true;
    /** What this voter last advertised in the map (written again after a merge), or null. */
    private volatile JsonObject advertised;
    private Thread starter;

    QuorumMetadata(HazelcastMember member, BrokerConfig config, BrokerRegistry registry) {
        this.member = member;
        this.vertx = member.vertx();
        this.config = config;
        this.registry = registry;
        this.voterChoice = new QuorumVoters(config.quorumVoters(), config.logDir(), member.hz().getMap(ClusterIdAgreement.CLUSTER_MAP),
                config.clusterMembers().size());
        this.feed = new RaftMetadataFeed(vertx, registry::controllerChanged);
        this.votersMap = member.hz().getMap(VOTERS_MAP);
        votersMap.addEntryListener(new Listener(), true);
        votersMap.forEach((id, v) -> voters.put(id, new JsonObject(v)));
    }

    /** Where the controller keeps the metadata: this quorum, once this voter's member runs. */
    MetadataStore store() {
        return store;
    }

    MetadataFeed feed() {
        return feed;
    }

    /** The role the election runs (made with {@link #store}, so given after construction). */
    void useRole(ControllerRole role) {
        this.role = role;
    }

    /** The security the quorum's listener and connections use (the inter-broker listener's); before {@link #start}. */
    void useSecurity(BrokerSecurity security) {
        this.security = security;
    }


    @Override
    public synchronized void start() {
        if (starter == null) starter = ClusterThread.start("runnel-quorum-start", this::startMember);
    }

    /** Raft decides by itself: nothing to do when members or registrations change. */
    @Override
    public void recheck() {
    }

    /**
     * Raft decides by itself: a split brain of Hazelcast changes nothing in the quorum. But the voters' addresses are
     * in a Hazelcast map, whose merge keeps the larger side's entries: this voter writes its own again, and the local
     * copy is read again. Blocking.
     */
    @Override
    public void merged() {
        JsonObject own = advertised;
        if (own != null) votersMap.put(registry.nodeId(), own.encode());
        votersMap.forEach((id, v) -> voters.put(id, new JsonObject(v)));
    }

    @Override
    public void stop() {
        Thread t;
        synchronized (this) {
            running = false;
            t = starter;
        }
        ClusterThread.stop(t);
        RaftElection<ClusterController> e;
        QuorumMember m;
        synchronized (this) {
            e = election;
            m = quorumMember;
        }
        if (e != null) e.stop();
        QuorumObserver o = observer;
        if (o != null) o.close();
        if (m != null) closeQuietly(m);
        feed.stop();
    }

    /**
     * When this voter leads the quorum (it is the controller), hands the leadership to another voter that is a live
     * broker, in node id order, the first that takes it (MicroRaft's leadership transfer: the leader stops taking
     * writes, the target catches up and is told to elect itself at once). Blocking, bounded by
     * {@link Limits#QUORUM_HANDOVER_TIMEOUT_MS} in all.
     */
    @Override
    public void handOver() {
        QuorumMember m = quorumMember;
        if (m == null) return;
        RaftNode node = m.node();
        if (!node.getLocalEndpoint().equals(node.getTerm().getLeaderEndpoint())) return;
        Set<Integer> live = new HashSet<>(registry.liveNodeIds());
        List<QuorumEndpoint> targets = new ArrayList<>();
        for (var e : node.getCommittedMembers().getVotingMembers()) {
            if (e instanceof QuorumEndpoint q && q.nodeId() != registry.nodeId() && live.contains(q.nodeId())) targets.add(q);
        }
        targets.sort(Comparator.comparingInt(QuorumEndpoint::nodeId));
        long deadline = System.nanoTime() + Limits.QUORUM_HANDOVER_TIMEOUT_MS * 1_000_000L;
        for (QuorumEndpoint target : targets) {
            long leftMs = (deadline - System.nanoTime()) / 1_000_000;
            if (leftMs <= 0) break;
            try {
                node.transferLeadership(target).get(leftMs, TimeUnit.MILLISECONDS);
                LOG.info("Broker {} handed the metadata quorum's leadership to broker {}", registry.nodeId(), target.nodeId());
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (ExecutionException | TimeoutException e) {
                LOG.info("Broker {} could not hand the metadata quorum's leadership to broker {}: {}", registry.nodeId(), target.nodeId(),
                        e.getCause() != null ? e.getCause() : e);
            }
        }
    }

    private void startMember() {
        int nodeId = registry.nodeId();
        List<Integer> ids;
        try {
            ids = voterChoice.await(() -> running, () -> member.members().size(), registry::everyMemberRegistered, registry::liveNodeIds);
        } catch (IOException | RuntimeException e) {
            LOG.error("Broker {} cannot know the metadata quorum's voters; it stays out of the quorum (fenced)", nodeId, e);
            return;
        }
        if (ids.isEmpty()) return; // stopped
        voterIds = ids;
        registry.quorumKnown(ids, () -> -1);
        String clusterId = ClusterIdAgreement.clusterId(member.hz());
        InterBrokerLink link = security == null ? null : security.interBroker();
        NetClientOptions client = new NetClientOptions();
        String[] credentials = null;
        if (link != null) {
            if (link.tls() != null) link.tls().applyTo(client);
            if (link.mechanism() != null) credentials = new String[] {link.username(), link.password()};
        }
        if (!ids.contains(nodeId)) {
            QuorumObserver o = new QuorumObserver(vertx, new QuorumEndpoint(nodeId, OBSERVER_DIRECTORY), clusterId, this::voterEndpoints,
                    this::addressOf, client, credentials, 0, feed::observed);
            observer = o;
            registry.quorumKnown(ids, o::leaderId);
            o.start();
            LOG.info("Broker {} follows the metadata quorum of voters {} as an observer", nodeId, voterIds);
            return;
        }
        while (running) {
            QuorumMember m = null;
            try {
                Path dir = config.logDir().resolve("quorum");
                QuorumEndpoint self = QuorumMember.endpoint(dir, nodeId);
                String host = config.get(BrokerConfig.CLUSTER_HOST) != null ? config.get(BrokerConfig.CLUSTER_HOST)
                        : member.hz().getCluster().getLocalMember().getAddress().getHost();
                NetServerOptions server = new NetServerOptions().setHost(host).setPort(config.get(BrokerConfig.CLUSTER_QUORUM_PORT));
                if (link != null && link.tls() != null) link.tls().applyTo(server);
                QuorumTransport.Admission admission = security == null ? QuorumTransport.Admission.ANYONE : new QuorumAdmission(vertx, security, link);
                RaftConfig raft = RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(Limits.QUORUM_ELECTION_TIMEOUT_MS)
                        .setLeaderHeartbeatPeriodSecs(Limits.QUORUM_HEARTBEAT_PERIOD_S).setLeaderHeartbeatTimeoutSecs(Limits.QUORUM_HEARTBEAT_TIMEOUT_S)
                        .setCommitCountToTakeSnapshot(Limits.QUORUM_SNAPSHOT_EVERY_COMMITS).build();
                m = QuorumMember.start(vertx, dir, self, port -> {
                    advertise(self, host, port);
                    return awaitInitialMembers();
                }, raft, feed.machine(), new QuorumMember.Network(clusterId, this::addressOf, server, client, credentials, admission));
                synchronized (this) {
                    if (!running) {
                        closeQuietly(m);
                        return;
                    }
                    quorumMember = m;
                }
                advertise(self, host, m.port());
                RaftNode node = m.node();
                registry.quorumKnown(ids, () -> {
                    QuorumEndpoint l = (QuorumEndpoint) node.getTerm().getLeaderEndpoint();
                    return l == null ? -1 : l.nodeId();
                });
                m.transport().serveObservers(feed.imageServer(() -> (QuorumEndpoint) node.getTerm().getLeaderEndpoint()));
                RaftMetadata metadata = new RaftMetadata(node);
                store.use(metadata);
                ControllerRole r = role;
                RaftElection<ClusterController> e = new RaftElection<>(node, metadata, nodeId, member.self(),
                        () -> new long[] {0, registry.highestControllerEpoch()}, registry::controllerChanged, r::take, r::holds, r::resign);
                synchronized (this) {
                    if (!running) return; // stop() closes the member
                    election = e;
                }
                e.start();
                LOG.info("Broker {} votes in the metadata quorum as {} (listening on {}:{})", nodeId, self, host, m.port());
                return;
            } catch (IOException | RuntimeException e) {
                if (!running) return;
                // A member that started but could not be wired (advertising failed, say) would vote and could lead with
                // no controller on it: it is closed, and the whole start tried again.
                LOG.error("Broker {} could not start its metadata quorum member; trying again in {} ms", nodeId, Limits.QUORUM_START_RETRY_MS, e);
                synchronized (this) {
                    if (quorumMember == m) quorumMember = null;
                }
                if (m != null) closeQuietly(m);
                try {
                    Thread.sleep(Limits.QUORUM_START_RETRY_MS);
                } catch (InterruptedException x) {
                    return;
                }
            }
        }
    }

    private static void closeQuietly(QuorumMember m) {
        try {
            m.close();
        } catch (IOException | RuntimeException x) {
            LOG.warn("Closing the metadata quorum member failed", x);
        }
    }

    /** Writes this voter's endpoint and address to the map (the others' copies follow by events). Blocking. */
    private void advertise(QuorumEndpoint self, String host, int port) {
        JsonObject a = new JsonObject().put("directory", self.directoryId()).put("host", host).put("port", port);
        advertised = a;
        voters.put(self.nodeId(), a);
        votersMap.put(self.nodeId(), a.encode());
    }

    /** Waits until every configured voter has advertised its endpoint: a new quorum's initial members. Blocking. */
    private List<QuorumEndpoint> awaitInitialMembers() {
        while (running) {
            List<QuorumEndpoint> known = voterEndpoints();
            if (known.size() == voterIds.size()) {
                LOG.info("Every voter of the metadata quorum advertised itself: a new quorum of {}", known);
                return known;
            }
            try {
                Thread.sleep(Limits.QUORUM_VOTERS_WAIT_POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new IllegalStateException("Stopped while waiting for the metadata quorum's voters");
    }

    /** The configured voters that have advertised an endpoint, in node id order. */
    private List<QuorumEndpoint> voterEndpoints() {
        List<QuorumEndpoint> out = new ArrayList<>();
        for (int id : voterIds) {
            JsonObject a = voters.get(id);
            if (a != null) out.add(new QuorumEndpoint(id, a.getString("directory")));
        }
        return out;
    }

    /** Where a voter's quorum listener is, as it last advertised; null for an endpoint it does not advertise now. */
    private SocketAddress addressOf(QuorumEndpoint e) {
        JsonObject a = voters.get(e.nodeId());
        if (a == null || !e.directoryId().equals(a.getString("directory")) || a.getInteger("port", 0) <= 0) return null;
        return SocketAddress.inetSocketAddress(a.getInteger("port"), a.getString("host"));
    }

    private final class Listener implements EntryAddedListener<Integer, String>, EntryUpdatedListener<Integer, String> {
        @Override
        public void entryAdded(EntryEvent<Integer, String> e) {
            voters.put(e.getKey(), new JsonObject(e.getValue()));
        }

        @Override
        public void entryUpdated(EntryEvent<Integer, String> e) {
            entryAdded(e);
        }
    }

    /** The controller's {@link MetadataStore}: the quorum's, once this voter's member runs (NOT_CONTROLLER before). */
    private static final class Store implements MetadataStore {
        private volatile RaftMetadata metadata;

        void use(RaftMetadata m) {
            metadata = m;
        }

        private RaftMetadata m() {
            RaftMetadata m = metadata;
            if (m == null) throw new NotControllerException("This broker's metadata quorum member has not started");
            return m;
        }

        @Override
        public void checkEpoch(long epoch) {
            m().checkEpoch(epoch);
        }

        @Override
        public long committedVersion() {
            return m().committedVersion();
        }

        @Override
        public String topic(String name) {
            return m().topic(name);
        }

        @Override
        public Map<String, String> topics() {
            return m().topics();
        }

        @Override
        public boolean createTopic(long epoch, String name, String json) {
            return m().createTopic(epoch, name, json);
        }

        @Override
        public void putTopic(long epoch, String name, String json) {
            m().putTopic(epoch, name, json);
        }

        @Override
        public void deleteTopic(long epoch, String name, Uuid id) {
            m().deleteTopic(epoch, name, id);
        }

        @Override
        public boolean isDeleted(Uuid id) {
            return m().isDeleted(id);
        }
    }
}
