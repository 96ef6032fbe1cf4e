package io.runnel.testkit;

import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.statemachine.StateMachine;
import io.runnel.quorum.QuorumEndpoint;
import io.runnel.quorum.QuorumMember;
import io.runnel.quorum.QuorumTransport;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;
import java.time.Duration;
import org.awaitility.Awaitility;

/**
 * A Raft group of MicroRaft nodes in this JVM, each a {@link QuorumMember} with its log on disk and its own
 * {@link QuorumTransport} on a loopback port: the real parts of the metadata quorum without brokers around them.
 * Members are numbered from 1; a stopped member can be started again from its directory.
 */
public final class LocalRaftGroup implements AutoCloseable {
    /** The cluster id in the members' hellos. */
    public static final String CLUSTER_ID = "local-raft-group";
    /** Quick elections for tests: a 1 s election timeout, heartbeats every second, a leader given up after 3 s. */
    public static final RaftConfig CONFIG = config(RaftConfig.DEFAULT_COMMIT_COUNT_TO_TAKE_SNAPSHOT);

    /** {@link #CONFIG} with a snapshot every {@code commits} entries (so that restarts and catch-ups use snapshots). */
    public static RaftConfig config(int commits) {
        return RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(1000).setLeaderHeartbeatPeriodSecs(1).setLeaderHeartbeatTimeoutSecs(3)
                .setCommitCountToTakeSnapshot(commits).build();
    }

    private final Vertx vertx;
    private final Path root;
    private final RaftConfig config;
    private final IntFunction<StateMachine> machines;
    /** The group's initial members; members added later are not in it (MicroRaft starts them with this list too). */
    private final List<QuorumEndpoint> endpoints = new ArrayList<>();
    private final Map<QuorumEndpoint, SocketAddress> addresses = new ConcurrentHashMap<>();
    private final Map<Integer, QuorumEndpoint> endpointOf = new ConcurrentHashMap<>();
    private final Map<Integer, QuorumMember> members = new ConcurrentHashMap<>();
    private final Map<Integer, StateMachine> machineOf = new ConcurrentHashMap<>();
    private int size;

    /** {@code machines} makes member {@code i}'s state machine each time it starts. */
    public LocalRaftGroup(Vertx vertx, Path root, int size, RaftConfig config, IntFunction<StateMachine> machines) {
        this.vertx = vertx;
        this.root = root;
        this.config = config;
        this.machines = machines;
        for (int i = 1; i <= size; i++) {
            endpoints.add(new QuorumEndpoint(i, "dir-" + i));
            endpointOf.put(i, endpoints.get(i - 1));
        }
        this.size = size;
    }

    /** Starts every member, new. */
    public LocalRaftGroup start() throws Exception {
        for (int i = 1; i <= endpoints.size(); i++) launch(i);
        return this;
    }

    /**
     * A member beyond the initial ones, not started: the leader adds it to the group first (a membership change),
     * then {@link #startAdded} starts it.
     */
    public QuorumEndpoint newMember() {
        int i = ++size;
        endpointOf.put(i, new QuorumEndpoint(i, "dir-" + i));
        return endpointOf.get(i);
    }

    /** The endpoint of member {@code i} (one made by {@link #newMember} included). */
    public QuorumEndpoint newMemberEndpoint(int i) {
        return endpointOf.get(i);
    }

    /** Starts a member made by {@link #newMember}, new. */
    public void startAdded(int i) throws Exception {
        launch(i);
    }

    private void launch(int i) throws Exception {
        QuorumEndpoint self = endpointOf.get(i);
        StateMachine machine = machines.apply(i);
        QuorumMember m = QuorumMember.start(vertx, dir(i), self, port -> endpoints, config, machine, new QuorumMember.Network(CLUSTER_ID,
                addresses::get, new NetServerOptions().setHost("127.0.0.1").setPort(0), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE));
        addresses.put(self, SocketAddress.inetSocketAddress(m.port(), "127.0.0.1"));
        members.put(i, m);
        machineOf.put(i, machine);
    }

    private Path dir(int i) {
        return root.resolve("member-" + i);
    }

    public RaftNode node(int i) {
        QuorumMember m = members.get(i);
        return m == null ? null : m.node();
    }

    /** Member {@code i} while it runs, else null. */
    public QuorumMember member(int i) {
        return members.get(i);
    }

    /** The initial members' endpoints, in order. */
    public List<QuorumEndpoint> endpoints() {
        return List.copyOf(endpoints);
    }

    /** Where a member's quorum listener is now (null before it first started). */
    public SocketAddress address(QuorumEndpoint member) {
        return addresses.get(member);
    }

    public StateMachine machine(int i) {
        return machineOf.get(i);
    }

    /** The leader every running member names, once they agree and it is running. */
    public int awaitLeader() {
        return Awaitility.await().atMost(Duration.ofSeconds(30)).until(this::leader, l -> l > 0);
    }

    private int leader() {
        RaftEndpoint leader = null;
        for (QuorumMember m : members.values()) {
            RaftEndpoint l = m.node().getTerm().getLeaderEndpoint();
            if (l == null || (leader != null && !leader.equals(l))) return -1;
            leader = l;
        }
        if (leader == null) return -1;
        int id = ((QuorumEndpoint) leader).nodeId();
        return members.containsKey(id) ? id : -1; // the members still name one that stopped until their heartbeat timeout
    }

    /** Stops member {@code i}: its node and transport; its directory stays. */
    public void stop(int i) throws Exception {
        QuorumMember m = members.remove(i);
        if (m != null) m.close();
    }

    /** Starts member {@code i} again from what its directory holds (on a new port: the others learn it). */
    public void restart(int i) throws Exception {
        stop(i);
        launch(i);
    }

    @Override
    public void close() throws Exception {
        for (int i : List.copyOf(members.keySet())) stop(i);
    }
}
