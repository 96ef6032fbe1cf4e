package io.runnel.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.runnel.config.Limits;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The brokers of the cluster as this broker sees them ({@link ClusterView}): each broker registers itself in
 * Hazelcast's {@code runnel-brokers} map (node id to {@code {"member", "listeners", "http", "rack", "topics"}}, the last being
 * its report of the topics it holds), and a registration counts as a live broker while its Hazelcast member is. The
 * view is rebuilt from registration and membership events, and checked against the map every
 * {@link Limits#CLUSTER_REGISTRATION_CHECK_MS} (events can be missed). It also tells whether a majority of the
 * registered brokers is live, which the oldest-member controller needs before it decides anything.
 *
 * <p>Threads: Hazelcast calls block and run on workers; listeners run on Hazelcast's event threads and only replace
 * immutable snapshots.
 */
final class BrokerRegistry implements ClusterView {
    private static final Logger LOG = LoggerFactory.getLogger(BrokerRegistry.class);
    private static final String BROKERS_MAP = "runnel-brokers";

    private final HazelcastMember member;
    private final Vertx vertx;
    private final IMap<Integer, String> brokersMap;
    private final String metadataMode;
    private final int cpMemberCount;
    private volatile List<Integer> quorumVoters = List.of();
    private volatile IntSupplier quorumLeader = () -> -1;
    private volatile List<Integer> cpMembers = List.of();
    private final Map<Integer, JsonObject> registrations = new ConcurrentHashMap<>();
    private final List<BiConsumer<Integer, JsonArray>> registrationListeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean checkRunning = new AtomicBoolean();
    private volatile Set<UUID> liveMembers = Set.of();
    private volatile List<BrokerNode> brokers = List.of();
    private volatile ControllerInfo controller;
    private volatile long highestControllerEpoch;
    private volatile long actingEpoch = -1;
    private volatile int nodeId = -1;
    /** Writes this broker's registration again (after a merge); set by {@link #register}. */
    private volatile Runnable reregistration;
    /** Whether this broker's registration says it is fenced: until it has applied its first metadata image. */
    private volatile boolean selfFenced = true;
    /** This broker's {@code broker.rack} (null: none), written in its registration. */
    private volatile String rack;
    private volatile Set<Integer> fenced = Set.of();
    private volatile boolean running = true;

    /**
     * @param metadataMode  {@code oldest-member} or {@code cp} ({@link ClusterView#metadataMode})
     * @param cpMemberCount the CP members the metadata quorum should have (0 in oldest-member mode)
     */
    BrokerRegistry(HazelcastMember member, String metadataMode, int cpMemberCount) {
        this.member = member;
        this.vertx = member.vertx();
        this.brokersMap = member.hz().getMap(BROKERS_MAP);
        this.metadataMode = metadataMode;
        this.cpMemberCount = cpMemberCount;
    }

    /** Reads the registrations, listens for changes and starts the periodic check. Blocking. */
    void start() {
        brokersMap.addEntryListener(new Listener(), true);
        liveMembers = member.members();
        registrations.putAll(read());
        rebuild();
        vertx.setPeriodic(Limits.CLUSTER_REGISTRATION_CHECK_MS, id -> check());
    }

    void stop() {
        running = false;
    }

    /** Calls {@code listener} with a broker's node id and topic report when it registers or registers again. */
    void onRegistered(BiConsumer<Integer, JsonArray> listener) {
        registrationListeners.add(listener);
    }

    /**
     * Registers this broker with its advertised endpoints and its report of the topics it holds (made again for each
     * registration: after a merge it carries the newest placements this broker knows). Fails when a live broker
     * already has this node id. Blocking.
     */
    void register(int nodeId, Map<String, String> listeners, String http, Supplier<JsonArray> localTopics) {
        reregistration = () -> {
            brokersMap.put(nodeId, registration(listeners, http, localTopics.get()));
            membersChanged();
        };
        brokersMap.lock(nodeId);
        try {
            String old = brokersMap.get(nodeId);
            if (old != null) {
                UUID owner = UUID.fromString(new JsonObject(old).getString("member"));
                if (!owner.equals(member.self()) && member.members().contains(owner)) {
                    throw new IllegalStateException("node.id " + nodeId + " is already used by the live broker at " + member.addressOf(owner));
                }
            }
            brokersMap.put(nodeId, registration(listeners, http, localTopics.get()));
        } finally {
            brokersMap.unlock(nodeId);
        }
        this.nodeId = nodeId;
    }

    private String registration(Map<String, String> listeners, String http, JsonArray localTopics) {
        return new JsonObject().put("member", member.self().toString()).put("listeners", new JsonObject(new HashMap<>(listeners)))
                .put("http", http).put("rack", rack).put("topics", localTopics).put("fenced", selfFenced).encode();
    }

    /** This broker's rack, for its registration (before {@link #register}). */
    void rack(String rack) {
        this.rack = rack;
    }

    /** The rack a live broker registered with, or null (no rack, or not live). */
    String rackOf(int nodeId) {
        for (BrokerNode b : brokers) if (b.nodeId() == nodeId) return b.rack();
        return null;
    }

    /** This broker has applied its first metadata image: its registration says it is no longer fenced. Blocking. */
    void unfence() {
        if (!selfFenced) return;
        selfFenced = false;
        reregister();
    }

    /** Writes this broker's registration again (a merge gave it a new member id). Blocking. */
    void reregister() {
        Runnable r = reregistration;
        if (r != null) r.run();
    }

    /** This broker's node id once registered, else -1. */
    int nodeId() {
        return nodeId;
    }

    /** A member joined or left: the live brokers are recomputed. */
    void membersChanged() {
        liveMembers = member.members();
        rebuild();
    }

    /** The node ids of the brokers in the CP group now (CP mode; {@link CpGroupKeeper} reads them). */
    void cpMembersChanged(List<Integer> nodeIds) {
        cpMembers = List.copyOf(nodeIds);
    }

    /** This broker runs the controller of {@code epoch} from now on, or none ({@code -1}). */
    void acting(long epoch) {
        actingEpoch = epoch;
    }

    /** The controller this broker last heard of (an election's entry, or the CP image's). */
    void controllerChanged(ControllerInfo c) {
        controller = c;
        if (c != null && c.epoch() > highestControllerEpoch) highestControllerEpoch = c.epoch();
    }

    /** The highest controller epoch this broker has heard of (0 before the first). */
    long highestControllerEpoch() {
        return highestControllerEpoch;
    }

    /**
     * Removes every registration from Hazelcast's map, so that each live broker registers again (its listener sees its
     * own entry go) with a fresh report of the placements it knows: a CP group reset ({@link CpGroupKeeper}) is
     * followed by a rebuild of the metadata from reports made after the quorum was lost. Blocking.
     */
    void clearRegistrations() {
        for (Integer id : new ArrayList<>(brokersMap.keySet())) brokersMap.remove(id);
    }

    /** This broker's own registration was removed while it runs: it registers again (on a worker). */
    private void ownRegistrationRemoved() {
        if (!running || reregistration == null) return;
        vertx.executeBlocking(() -> {
            reregister();
            LOG.info("Broker {} registered again (its registration had been removed)", nodeId);
            return null;
        }, false).onFailure(e -> LOG.warn("Registering again failed; the next check retries", e));
    }

    /**
     * Oldest-member mode: whether a majority of the registered brokers (a registration stays when its broker dies) is
     * live in this broker's view of the cluster. Without it the controller changes nothing: an isolated broker (a
     * network partition, or the others frozen) must not elect leaders from its stale copy of the metadata.
     */
    boolean hasMajority() {
        // Hazelcast members, not live registrations: a broker joins before it registers, and the two kinds of
        // events arrive in either order (counting registrations made a restarted cluster lose its majority for a
        // moment while it rebuilt the metadata from the brokers' reports).
        int registered = registrations.size();
        return registered == 0 || liveMembers.size() * 2 > registered;
    }

    /**
     * Whether every live Hazelcast member has registered under its current member id. A member that rejoined after a
     * split brain has not until it registers again, and its registration then carries the newest placements it
     * knows; a controller taking office waits for that before it decides anything ({@link ControllerRole#take}).
     */
    boolean everyMemberRegistered() {
        Set<UUID> registered = new HashSet<>();
        registrations.values().forEach(r -> registered.add(UUID.fromString(r.getString("member"))));
        return registered.containsAll(member.members());
    }

    /** How many brokers are registered and how many members are live, for log lines. */
    String majorityText() {
        return liveMembers.size() + " members for " + registrations.size() + " registered brokers";
    }

    /** Node ids of the live, registered brokers, ascending. */
    List<Integer> liveNodeIds() {
        return brokers.stream().map(BrokerNode::nodeId).toList();
    }

    /** Each registered broker's report of the topics it holds, by node id. */
    /**
     * Whether broker {@code nodeId} has registered since the registrations were last lost (a whole-cluster restart
     * empties them; a broker that died keeps its registration until then).
     */
    boolean isRegistered(int nodeId) {
        return registrations.containsKey(nodeId);
    }

    Map<Integer, JsonArray> reports() {
        Map<Integer, JsonArray> out = new HashMap<>();
        registrations.forEach((id, r) -> out.put(id, r.getJsonArray("topics", new JsonArray())));
        return out;
    }

    /** Reads every registration again and swaps them in (after a merge the local copies may be stale). Blocking. */
    void reload() {
        // Swapped in without emptying the view first, so that a reader meanwhile sees no broker missing.
        Map<Integer, JsonObject> read = read();
        registrations.keySet().retainAll(read.keySet());
        registrations.putAll(read);
        membersChanged();
    }

    private synchronized void rebuild() {
        List<BrokerNode> out = new ArrayList<>();
        Set<Integer> fencedNow = new HashSet<>();
        Set<UUID> live = liveMembers;
        registrations.forEach((id, r) -> {
            if (!live.contains(UUID.fromString(r.getString("member")))) return;
            if (r.getBoolean("fenced", false)) fencedNow.add(id);
            Map<String, String> listeners = new HashMap<>();
            r.getJsonObject("listeners").forEach(e -> listeners.put(e.getKey(), (String) e.getValue()));
            out.add(new BrokerNode(id, Map.copyOf(listeners), r.getString("http", ""), r.getString("rack")));
        });
        out.sort(Comparator.comparingInt(BrokerNode::nodeId));
        fenced = Set.copyOf(fencedNow);
        brokers = List.copyOf(out);
    }

    /** A broker registered (or registered again): the view, then the listeners (election, controller adoption). */
    private void registered(int id, JsonObject r) {
        registrations.put(id, r);
        rebuild();
        JsonArray report = r.getJsonArray("topics", new JsonArray());
        registrationListeners.forEach(l -> l.accept(id, report));
    }

    /**
     * Reads the registrations again and takes those that differ from what the events built: events can be missed
     * (a member failing, a merge's migrations) and a registration that does not change again sends none. Added or
     * changed entries only: nothing removes a registration but its own event. A few small entries, read on a worker.
     */
    private void check() {
        if (!running || !checkRunning.compareAndSet(false, true)) return;
        vertx.executeBlocking(() -> {
            if (!member.isClusterSafe()) return null; // migrating: a read now may miss entries
            Map<Integer, JsonObject> differing = new HashMap<>();
            Map<Integer, JsonObject> read = read();
            read.forEach((id, r) -> {
                if (!r.equals(registrations.get(id))) differing.put(id, r);
            });
            if (nodeId >= 0 && reregistration != null && !read.containsKey(nodeId)) {
                LOG.info("Broker {} found its registration gone (event missed); registering again", nodeId);
                reregister();
            } else if (nodeId >= 0 && reregistration != null && !selfFenced && read.get(nodeId).getBoolean("fenced", false)) {
                LOG.info("Broker {} found its registration still fenced (the write that unfenced it failed); registering again", nodeId);
                reregister();
            }
            if (!differing.isEmpty()) {
                LOG.info("Registrations of brokers {} differed from Hazelcast's map (events missed); taking the map's", differing.keySet());
                liveMembers = member.members();
                differing.forEach(this::registered);
            }
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) LOG.debug("Checking the broker registrations failed", ar.cause());
            checkRunning.set(false);
        });
    }

    /** Every registration in Hazelcast's map. Blocking. */
    private Map<Integer, JsonObject> read() {
        Map<Integer, JsonObject> read = new HashMap<>();
        brokersMap.forEach((k, v) -> read.put(k, new JsonObject(v)));
        return read;
    }

    private final class Listener implements EntryAddedListener<Integer, String>, EntryUpdatedListener<Integer, String>,
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
            if (e.getKey() == nodeId) ownRegistrationRemoved();
        }
    }

    // ---- ClusterView ----

    @Override
    public int controllerId() {
        ControllerInfo c = controller;
        if (c == null) return -1;
        if (liveMembers.contains(c.member())) return c.nodeId();
        // With the metadata quorum, Raft and not Hazelcast says who controls: a controller that merged back after a
        // split has a new Hazelcast member id but is still the controller while its broker is live (it registers
        // again under the new id). Named -1, Admin clients found no controller and waited.
        if (metadataMode.equals("quorum") && brokers.stream().anyMatch(b -> b.nodeId() == c.nodeId())) return c.nodeId();
        return -1;
    }

    @Override
    public long actingControllerEpoch() {
        return actingEpoch;
    }

    @Override
    public List<BrokerNode> brokers() {
        return brokers;
    }

    @Override
    public boolean clustered() {
        return true;
    }

    @Override
    public boolean fenced(int nodeId) {
        return fenced.contains(nodeId);
    }

    @Override
    public long controllerEpoch() {
        return highestControllerEpoch;
    }

    @Override
    public String metadataMode() {
        return metadataMode;
    }

    @Override
    public List<Integer> cpMembers() {
        return cpMembers;
    }

    @Override
    public List<Integer> quorumVoters() {
        return quorumVoters;
    }

    @Override
    public int quorumLeaderId() {
        return quorumLeader.getAsInt();
    }

    /** The metadata quorum's voters, and where this broker learns the quorum's leader, once known (quorum mode). */
    void quorumKnown(List<Integer> voters, IntSupplier leader) {
        quorumLeader = leader;
        quorumVoters = List.copyOf(voters);
    }

    @Override
    public int cpMemberCount() {
        return cpMemberCount;
    }
}
