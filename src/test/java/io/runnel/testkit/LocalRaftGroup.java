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
    private final List<QuorumEndpoint> endpoints = new ArrayList<>();
    private final Map<QuorumEndpoint, SocketAddress> addresses = new ConcurrentHashMap<>();
    private final RaftNode[] nodes;
    private final QuorumTransport[] transports;
    private final StateMachine[] machineOf;

    /** {@code machines} makes member {@code i}'s state machine each time it starts. */
    public LocalRaftGroup(Vertx vertx, Path root, int size, RaftConfig config, IntFunction<StateMachine> machines) {
        this.vertx = vertx;
        this.root = root;
        this.config = config;
        this.machines = machines;
        for (int i = 1; i <= size; i++) endpoints.add(new QuorumEndpoint(i, "dir-" + i));
        nodes = new RaftNode[size + 1];
        transports = new QuorumTransport[size + 1];
        machineOf = new StateMachine[size + 1];
    }

    /** Starts every member, new. */
    public LocalRaftGroup start() throws Exception {
        for (int i = 1; i < nodes.length; i++) launch(i, null);
        return this;
    }

    private void launch(int i, RestoredRaftState restored) throws Exception {
        QuorumEndpoint self = endpoints.get(i - 1);
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
        nodes[i] = node.get();
        transports[i] = t;
        machineOf[i] = machine;
        node.get().start();
    }

    private Path dir(int i) {
        return root.resolve("member-" + i);
    }

    public RaftNode node(int i) {
        return nodes[i];
    }

    public StateMachine machine(int i) {
        return machineOf[i];
    }

    /** The leader every running member names, once they agree. */
    public int awaitLeader() {
        return Awaitility.await().atMost(Duration.ofSeconds(30)).until(this::leader, l -> l > 0);
    }

    private int leader() {
        RaftEndpoint leader = null;
        for (int i = 1; i < nodes.length; i++) {
            if (nodes[i] == null) continue;
            RaftEndpoint l = nodes[i].getTerm().getLeaderEndpoint();
            if (l == null || (leader != null && !leader.equals(l))) return -1;
            leader = l;
        }
        return leader == null ? -1 : ((QuorumEndpoint) leader).nodeId();
    }

    /** Stops member {@code i}: its node and transport; its directory stays. */
    public void stop(int i) throws Exception {
        if (nodes[i] == null) return;
        nodes[i].terminate().get(10, TimeUnit.SECONDS);
        transports[i].closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        nodes[i] = null;
    }

    /** Starts member {@code i} again from what its directory holds (on a new port: the others learn it). */
    public void restart(int i) throws Exception {
        stop(i);
        launch(i, FileRaftStore.restore(dir(i)).orElseThrow());
    }

    @Override
    public void close() throws Exception {
        for (int i = 1; i < nodes.length; i++) stop(i);
    }
}
