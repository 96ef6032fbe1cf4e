package io.runnel.testkit;

import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.executor.impl.DefaultRaftNodeExecutor;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.statemachine.StateMachine;
import io.runnel.quorum.FileRaftStore;
import io.runnel.quorum.QuorumEndpoint;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import org.awaitility.Awaitility;
import java.time.Duration;

/**
 * A Raft group of MicroRaft nodes in this JVM, each with its log on disk ({@link FileRaftStore}) and its own
 * {@link QuorumTransport} on a loopback port: the real parts of the metadata quorum without brokers around them.
 * Members are numbered from 1; a stopped member can be started again from its directory.
 */
public final class LocalRaftGroup implements AutoCloseable {
    private final Vertx vertx;
    private final Path root;
    private final RaftConfig config;
    private final IntFunction<StateMachine> machines;
    /** The group's initial members; members added later are not in it (MicroRaft starts them with this list too). */
    private final List<QuorumEndpoint> endpoints = new ArrayList<>();
    private final Map<QuorumEndpoint, SocketAddress> addresses = new ConcurrentHashMap<>();
    private final Map<Integer, QuorumEndpoint> endpointOf = new ConcurrentHashMap<>();
    private final Map<Integer, RaftNode> nodes = new ConcurrentHashMap<>();
    private final Map<Integer, QuorumTransport> transports = new ConcurrentHashMap<>();
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
        for (int i = 1; i <= endpoints.size(); i++) launch(i, null);
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
        launch(i, null);
    }

    private void launch(int i, RestoredRaftState restored) throws Exception {
        QuorumEndpoint self = endpointOf.get(i);
        DefaultRaftNodeExecutor executor = new DefaultRaftNodeExecutor();
        AtomicReference<RaftNode> node = new AtomicReference<>();
        QuorumTransport t = new QuorumTransport(vertx, self, "local-raft-group", addresses::get, new NetServerOptions().setHost("127.0.0.1").setPort(0),
                new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, executor::execute, m -> node.get().handle(m));
        int port = t.start().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        addresses.put(self, SocketAddress.inetSocketAddress(port, "127.0.0.1"));
        StateMachine machine = machines.apply(i);
        RaftNode.RaftNodeBuilder b = RaftNode.newBuilder().setGroupId("metadata").setConfig(config).setTransport(t).setStateMachine(machine)
                .setExecutor(executor).setStore(new FileRaftStore(dir(i)));
        if (restored == null) {
            b.setLocalEndpoint(self).setInitialGroupMembers(new ArrayList<RaftEndpoint>(endpoints));
        } else {
            b.setRestoredState(restored);
        }
        node.set(b.build());
        nodes.put(i, node.get());
        transports.put(i, t);
        machineOf.put(i, machine);
        node.get().start();
    }

    private Path dir(int i) {
        return root.resolve("member-" + i);
    }

    public RaftNode node(int i) {
        return nodes.get(i);
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
        for (RaftNode n : nodes.values()) {
            RaftEndpoint l = n.getTerm().getLeaderEndpoint();
            if (l == null || (leader != null && !leader.equals(l))) return -1;
            leader = l;
        }
        if (leader == null) return -1;
        int id = ((QuorumEndpoint) leader).nodeId();
        return nodes.containsKey(id) ? id : -1; // the members still name one that stopped until their heartbeat timeout
    }

    /** Stops member {@code i}: its node and transport; its directory stays. */
    public void stop(int i) throws Exception {
        RaftNode n = nodes.remove(i);
        if (n == null) return;
        n.terminate().get(10, TimeUnit.SECONDS);
        transports.remove(i).closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /** Starts member {@code i} again from what its directory holds (on a new port: the others learn it). */
    public void restart(int i) throws Exception {
        stop(i);
        launch(i, FileRaftStore.restore(dir(i)).orElseThrow());
    }

    @Override
    public void close() throws Exception {
        for (int i : List.copyOf(nodes.keySet())) stop(i);
    }
}
