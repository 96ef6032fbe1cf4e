package io.runnel.quorum;

import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftNodeStatus;
import io.microraft.RaftRole;
import io.microraft.executor.impl.DefaultRaftNodeExecutor;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.state.RaftState;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.statemachine.StateMachine;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A broker's member of the metadata quorum: its Raft node, with its log and votes in a directory of its own
 * ({@link FileRaftStore}), a thread of its own ({@link DefaultRaftNodeExecutor}: the store forces writes to disk, never
 * on an event loop), and its {@link QuorumTransport}. A member whose directory holds its state is restored from it,
 * whatever it is told; a new one starts with the group's initial members (a member added later is started with them
 * too, as MicroRaft wants, once the leader has added it).
 */
public final class QuorumMember implements AutoCloseable {
    /** The Raft group's id: one metadata quorum per cluster. */
    public static final String GROUP_ID = "metadata";
    private static final long START_TIMEOUT_S = 30;

    /** How the member reaches the others and who may reach it ({@link QuorumTransport}'s settings). */
    public record Network(String clusterId, Function<QuorumEndpoint, SocketAddress> addresses, NetServerOptions server,
            NetClientOptions client, String[] credentials, QuorumTransport.Admission admission) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(QuorumMember.class);

    private final RaftNode node;
    private final QuorumTransport transport;
    private final int port;

    private QuorumMember(RaftNode node, QuorumTransport transport, int port) {
        this.node = node;
        this.transport = transport;
        this.port = port;
    }

    /**
     * Works around a MicroRaft 0.7 defect that left a cluster without a controller: every node starts with a pre-vote
     * (RaftNodeImpl.start), and a restarted follower whose pre-vote is overtaken by the leader's heartbeats in the same
     * term keeps its pre-candidate state for good (only a new term, a candidacy or a leadership clears it, and the
     * pre-vote's retry returns early once a leader is known). Its heartbeat task then never starts a pre-vote when
     * that leader dies: with both followers of a three-voter quorum restarted so, the leader's crash left the two
     * without an election (ReplicationTest, one run in four). Checked on the Raft thread every leader heartbeat
     * period: a follower that still names a leader it has not heard from within the timeout and is stuck as a
     * pre-candidate does what MicroRaft's heartbeat task would have done: forgets the leader and runs a pre-vote.
     */
    private static void watchForStuckPreVote(RaftNodeImpl node, DefaultRaftNodeExecutor executor, long periodSecs) {
        executor.schedule(() -> {
            if (RaftNodeStatus.isTerminal(node.getStatus())) return;
            try {
                RaftState state = node.state();
                // Where MicroRaft's heartbeat task runs (any status but INITIAL and the terminal ones: a membership change too).
                if (node.getStatus() != RaftNodeStatus.INITIAL && state.role() == RaftRole.FOLLOWER && state.leader() != null
                        && state.preCandidateState() != null && node.isLeaderHeartbeatTimeoutElapsed()) {
                    LOG.warn("The metadata quorum's leader {} has not been heard from and this voter's election was stuck (MicroRaft 0.7); "
                            + "starting one", state.leader().getId());
                    node.leader(null);
                    node.runPreVote();
                }
            } catch (RuntimeException e) {
                LOG.warn("Checking the metadata quorum's election failed", e);
            }
            watchForStuckPreVote(node, executor, periodSecs);
        }, periodSecs, TimeUnit.SECONDS);
    }

    /**
     * This broker's endpoint in {@code dir}: the one persisted there, else a new one with a new directory id, persisted
     * before it is returned (a broker that crashes right after advertising it comes back with the same id). A
     * directory of another node id is refused. Blocking.
     */
    public static QuorumEndpoint endpoint(Path dir, int nodeId) throws IOException {
        Optional<QuorumEndpoint> stored = FileRaftStore.localEndpoint(dir);
        if (stored.isPresent()) {
            if (stored.get().nodeId() != nodeId) {
                throw new IllegalStateException("The metadata quorum directory " + dir + " belongs to node " + stored.get().nodeId()
                        + ", not to node.id " + nodeId);
            }
            return stored.get();
        }
        QuorumEndpoint fresh = new QuorumEndpoint(nodeId, UUID.randomUUID().toString());
        try (FileRaftStore store = new FileRaftStore(dir)) {
            store.persistAndFlushLocalEndpoint(QuorumCodec.MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(fresh)
                    .setVoting(true).build());
        }
        return fresh;
    }

    /**
     * Starts the member {@code self} on {@code dir}: restored when the directory holds a member, else new with
     * {@code initialMembers}, asked only then and given the port the transport listens on (a new member may have to
     * advertise it before the others can be known). Returns once its transport listens. Blocking.
     */
    public static QuorumMember start(Vertx vertx, Path dir, QuorumEndpoint self, IntFunction<List<QuorumEndpoint>> initialMembers,
            RaftConfig config, StateMachine machine, Network network) throws IOException {
        Optional<RestoredRaftState> restored = FileRaftStore.restore(dir);
        if (restored.isPresent() && !restored.get().getLocalEndpointPersistentState().getLocalEndpoint().equals(self)) {
            throw new IllegalStateException("The metadata quorum directory " + dir + " holds "
                    + restored.get().getLocalEndpointPersistentState().getLocalEndpoint() + ", not " + self);
        }
        DefaultRaftNodeExecutor executor = new DefaultRaftNodeExecutor();
        AtomicReference<RaftNode> node = new AtomicReference<>();
        QuorumTransport transport = new QuorumTransport(vertx, self, network.clusterId(), network.addresses(), network.server(), network.client(),
                network.credentials(), network.admission(), executor::execute, m -> node.get().handle(m));
        int port;
        try {
            port = transport.start().toCompletionStage().toCompletableFuture().get(START_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            transport.close();
            throw new IOException("Interrupted while the metadata quorum's listener started", e);
        } catch (ExecutionException | TimeoutException e) {
            transport.close();
            throw new IOException("The metadata quorum's listener did not start: " + e.getMessage(), e);
        }
        RaftNode.RaftNodeBuilder b = RaftNode.newBuilder().setGroupId(GROUP_ID).setConfig(config).setTransport(transport)
                .setStateMachine(machine).setExecutor(executor);
        try {
            if (restored.isPresent()) {
                b.setRestoredState(restored.get());
            } else {
                b.setLocalEndpoint(self).setInitialGroupMembers(new ArrayList<RaftEndpoint>(initialMembers.apply(port)));
            }
        } catch (RuntimeException e) {
            transport.close(); // the initial members could not be had (the broker stops): nothing of the member stays
            throw e;
        }
        FileRaftStore store = null;
        try {
            store = new FileRaftStore(dir);
            node.set(b.setStore(store).build());
            node.get().start();
            if (node.get() instanceof RaftNodeImpl impl) watchForStuckPreVote(impl, executor, config.getLeaderHeartbeatPeriodSecs());
        } catch (IOException | RuntimeException e) {
            // Nothing of a member that did not start stays open: its listener and its log file.
            transport.close();
            if (store != null) store.close();
            throw e;
        }
        return new QuorumMember(node.get(), transport, port);
    }

    public RaftNode node() {
        return node;
    }

    public QuorumTransport transport() {
        return transport;
    }

    /** The port the member's transport listens on. */
    public int port() {
        return port;
    }

    /** Stops the node (its store closes with it) and the transport. Blocking, bounded. */
    @Override
    public void close() throws IOException {
        try {
            node.terminate().get(START_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // terminating an already terminated node fails; the transport goes anyway
        } finally {
            transport.close();
        }
    }
}
