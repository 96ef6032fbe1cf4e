package io.runnel.cluster;

import io.microraft.RaftNode;
import io.microraft.RaftNodeStatus;
import io.runnel.config.Limits;
import io.runnel.quorum.QuorumEndpoint;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller election of the metadata quorum: the broker whose Raft node leads the quorum is the controller, as
 * KRaft's active controller is its quorum's leader. On becoming leader it claims the image ({@link RaftMetadata#claim}):
 * the claim is committed after every entry of earlier terms, so the new controller decides from everything committed,
 * and its epoch fences every write of the controllers before it. It acts until it stops leading (MicroRaft demotes a
 * leader that has not heard from a majority for the leader heartbeat timeout) or its role ends, checking every
 * {@link Limits#RAFT_ELECTION_POLL_MS}; then it resigns and, if it leads again later, claims a new epoch.
 *
 * <p>The role is given as three functions so that the election does not depend on how the controller runs:
 * {@code take} starts it for the epoch won and answers a handle, {@code holds} says whether that handle still runs,
 * {@code resign} stops it. Claims block, so the election runs on a thread of its own.
 *
 * @param <C> the handle of a running controller
 */
final class RaftElection<C> implements ControllerElection {
    private static final Logger LOG = LoggerFactory.getLogger(RaftElection.class);

    private final RaftNode node;
    private final RaftMetadata store;
    private final int nodeId;
    private final UUID member;
    private final Supplier<long[]> floor;
    private final Consumer<ControllerInfo> announce;
    private final Function<ControllerInfo, C> take;
    private final Predicate<C> holds;
    private final Runnable resign;
    private volatile boolean running = true;
    private Thread thread;
    /** The quorum leader this broker last logged (-2 before the first), so that each change is logged once. */
    private int loggedLeader = -2;
    /** When claiming last failed with a warning (claims are retried every poll; warned at most every 10 s). */
    private long lastClaimWarning;

    /**
     * @param floor    {version, epoch}: the highest any broker applied and saw before this quorum (for its first claim)
     * @param announce hears each epoch won, before the role starts (the registry names the controller)
     */
    RaftElection(RaftNode node, RaftMetadata store, int nodeId, UUID member, Supplier<long[]> floor, Consumer<ControllerInfo> announce,
            Function<ControllerInfo, C> take, Predicate<C> holds, Runnable resign) {
        this.node = node;
        this.store = store;
        this.nodeId = nodeId;
        this.member = member;
        this.floor = floor;
        this.announce = announce;
        this.take = take;
        this.holds = holds;
        this.resign = resign;
    }

    @Override
    public synchronized void start() {
        if (thread == null) thread = ClusterThread.start("runnel-raft-election", this::loop);
    }

    /** Raft decides by itself: nothing to do when members or registrations change. */
    @Override
    public void recheck() {
    }

    /** Raft decides by itself: a split brain's minority side has no leader. */
    @Override
    public void merged() {
    }

    @Override
    public void stop() {
        running = false;
        Thread t;
        synchronized (this) {
            t = thread;
        }
        ClusterThread.stop(t);
    }

    /** Whether this node leads the quorum in {@code term} (any term when negative). */
    private boolean leads(int term) {
        var t = node.getTerm();
        return node.getStatus() == RaftNodeStatus.ACTIVE && node.getLocalEndpoint().equals(t.getLeaderEndpoint())
                && (term < 0 || t.getTerm() == term);
    }

    /** Logs who leads the quorum, as this voter sees it, when that changes (what an operator reads after a fault). */
    private void logLeader() {
        var t = node.getTerm();
        var l = t.getLeaderEndpoint();
        int leader = l instanceof QuorumEndpoint e ? e.nodeId() : -1;
        if (leader == loggedLeader) return;
        loggedLeader = leader;
        if (leader < 0) LOG.info("Broker {} sees no leader of the metadata quorum (term {})", nodeId, t.getTerm());
        else LOG.info("Broker {} sees broker {} lead the metadata quorum (term {})", nodeId, leader, t.getTerm());
    }

    private void loop() {
        while (running) {
            try {
                logLeader();
                if (!leads(-1)) {
                    Thread.sleep(Limits.RAFT_ELECTION_POLL_MS);
                    continue;
                }
                int term = node.getTerm().getTerm();
                long[] f = floor.get();
                ControllerInfo won = store.claim(nodeId, member, f[0], f[1]);
                try {
                    announce.accept(won);
                    C c = take.apply(won);
                    LOG.info("Broker {} leads the metadata quorum in term {} and is the controller in epoch {}", nodeId, term, won.epoch());
                    while (running && holds.test(c) && leads(term)) Thread.sleep(Limits.RAFT_ELECTION_POLL_MS);
                    LOG.info("Broker {} gives up the controller role (epoch {})", nodeId, won.epoch());
                } finally {
                    resign.run();
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                // Not the leader any more, or no majority: the next turn looks again.
                long now = System.currentTimeMillis();
                if (now - lastClaimWarning >= 10_000) {
                    lastClaimWarning = now;
                    LOG.warn("Broker {} leads the metadata quorum but could not claim the controller role (tried again every {} ms): {}",
                            nodeId, Limits.RAFT_ELECTION_POLL_MS, e.toString());
                } else {
                    LOG.debug("Claiming the controller role failed", e);
                }
                try {
                    Thread.sleep(Limits.RAFT_ELECTION_POLL_MS);
                } catch (InterruptedException x) {
                    return;
                }
            }
        }
    }
}
