package io.runnel.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default controller election: the oldest Hazelcast member is the controller (Hazelcast orders members by join
 * time and every member sees the same order). When it becomes oldest, with a majority of the registered brokers live
 * ({@link BrokerRegistry#hasMajority}), it takes the {@code controller} entry of the {@code runnel-controller} map
 * with a compare-and-set that raises the epoch by one, so epochs only grow and a stale controller, whose
 * compare-and-set fails, learns that it was replaced. The trade-off (docs/cluster.md): during a network partition
 * both sides may elect an oldest member; the majority rule keeps the minority's from acting, and the epoch check on
 * every metadata write keeps a replaced controller from overwriting its successor's metadata.
 */
final class OldestMemberElection implements ControllerElection {
    private static final Logger LOG = LoggerFactory.getLogger(OldestMemberElection.class);
    private static final String CONTROLLER_MAP = "runnel-controller";
    private static final String CONTROLLER_KEY = "controller";

    private final HazelcastMember member;
    private final BrokerRegistry registry;
    private final ControllerRole role;
    private final IMap<String, String> controllerMap;
    private volatile boolean started;

    OldestMemberElection(HazelcastMember member, BrokerRegistry registry, ControllerRole role) {
        this.member = member;
        this.registry = registry;
        this.role = role;
        this.controllerMap = member.hz().getMap(CONTROLLER_MAP);
    }

    /** Follows the controller entry, so that this broker's view names the controller. Blocking (one read). */
    void watch() {
        controllerMap.addEntryListener(new Listener(), true);
        readController();
    }

    /** Reads the controller entry again (after a merge the local view may be stale). Blocking. */
    void readController() {
        String c = controllerMap.get(CONTROLLER_KEY);
        registry.controllerChanged(c == null ? null : ControllerInfo.fromJson(new JsonObject(c)));
    }

    /** The controller epoch stored in Hazelcast now, 0 before the first election (metadata writes are fenced by it). Blocking. */
    static long storedEpoch(HazelcastInstance hz) {
        String c = hz.<String, String>getMap(CONTROLLER_MAP).get(CONTROLLER_KEY);
        return c == null ? 0 : new JsonObject(c).getLong("epoch");
    }

    @Override
    public void start() {
        started = true;
        recheck();
    }

    /** Takes the controller role when this broker is the oldest live member and does not hold it yet. */
    @Override
    public synchronized void recheck() {
        if (!started || registry.nodeId() < 0 || !member.isRunning() || !member.isOldest()) return;
        if (!registry.hasMajority()) {
            // Cut off with a minority of the brokers (a partition, or the others frozen): no decisions here, as a
            // KRaft controller without a majority of its voters makes none.
            if (role.active()) LOG.warn("Broker {} sees {}: not acting as controller", registry.nodeId(), registry.majorityText());
            role.resign();
            return;
        }
        while (true) {
            String current = controllerMap.get(CONTROLLER_KEY);
            ControllerInfo cur = current == null ? null : ControllerInfo.fromJson(new JsonObject(current));
            if (cur != null && cur.member().equals(member.self()) && role.active()) return;
            role.resign();
            ControllerInfo next = new ControllerInfo(registry.nodeId(), cur == null ? 1 : cur.epoch() + 1, member.self());
            String text = next.toJson().encode();
            boolean won = current == null ? controllerMap.putIfAbsent(CONTROLLER_KEY, text) == null : controllerMap.replace(CONTROLLER_KEY, current, text);
            if (won) {
                role.take(next);
                return;
            }
        }
    }

    @Override
    public void merged() {
        role.resign(); // the merged maps keep the larger side's controller
    }

    /** Stops deciding; the role ends with the broker's Vert.x and the other brokers see this member leave. */
    @Override
    public void stop() {
        started = false;
    }

    private final class Listener implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> e) {
            ControllerInfo c = ControllerInfo.fromJson(new JsonObject(e.getValue()));
            registry.controllerChanged(c);
            LOG.info("Controller is broker {} (epoch {})", c.nodeId(), c.epoch());
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> e) {
            entryAdded(e);
        }
    }
}
