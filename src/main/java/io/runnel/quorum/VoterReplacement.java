package io.runnel.quorum;

import io.microraft.MembershipChangeMode;
import io.microraft.Ordered;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.report.RaftGroupMembers;
import io.microraft.report.RaftNodeReport;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Puts a new member in the place of a voter of the metadata quorum: a voter gone for good, or one back with an empty
 * directory (a new directory id makes it a new member: it has none of the votes and entries the old one had, KIP-853).
 * The order is KIP-853's, add then remove: the new member joins as a learner (it does not count for the majority while
 * it fetches the log), is promoted to voter once its log matches the leader's commit index, and only then is the old
 * voter removed. Each step is one committed membership change made against the members the step before committed, so
 * a concurrent change fails the replacement rather than mixing with it. Run on the leader.
 *
 * <p>MicroRaft allows at most two learners at a time, so learners are only this transient step: brokers that are not
 * voters follow the metadata as observers, not as Raft members.
 */
public final class VoterReplacement {
    /** How often the leader's report is read while the learner catches up, in ms. */
    static final long CATCH_UP_POLL_MS = 100;

    private VoterReplacement() {
    }

    /**
     * Replaces {@code outgoing} by {@code incoming}; completes with the members committed last, or fails (not the
     * leader, a concurrent change, or {@code incoming} not caught up within {@code catchUp}: it stays a learner, and
     * a later replacement goes on from there).
     */
    public static CompletableFuture<RaftGroupMembers> replace(RaftNode leader, RaftEndpoint outgoing, RaftEndpoint incoming,
            ScheduledExecutorService timer, Duration catchUp) {
        RaftGroupMembers now = leader.getCommittedMembers();
        CompletableFuture<RaftGroupMembers> learner = now.getMembers().contains(incoming) ? CompletableFuture.completedFuture(now)
                : change(leader, incoming, MembershipChangeMode.ADD_LEARNER, now);
        return learner
                .thenCompose(m -> m.getVotingMembers().contains(incoming) ? CompletableFuture.completedFuture(m)
                        : caughtUp(leader, incoming, timer, System.nanoTime() + catchUp.toNanos())
                                .thenCompose(v -> change(leader, incoming, MembershipChangeMode.ADD_OR_PROMOTE_TO_FOLLOWER, leader.getCommittedMembers())))
                .thenCompose(m -> m.getMembers().contains(outgoing) ? change(leader, outgoing, MembershipChangeMode.REMOVE_MEMBER, m)
                        : CompletableFuture.completedFuture(m));
    }

    private static CompletableFuture<RaftGroupMembers> change(RaftNode leader, RaftEndpoint endpoint, MembershipChangeMode mode, RaftGroupMembers base) {
        return leader.changeMembership(endpoint, mode, base.getLogIndex()).thenApply(Ordered::getResult);
    }

    /** Completes once {@code member}'s match index reaches the leader's commit index. */
    private static CompletableFuture<Void> caughtUp(RaftNode leader, RaftEndpoint member, ScheduledExecutorService timer, long deadline) {
        return leader.getReport().thenApply(Ordered::getResult).thenCompose(report -> {
            if (matches(report, member)) return CompletableFuture.completedFuture(null);
            if (System.nanoTime() > deadline) {
                return CompletableFuture.failedFuture(new TimeoutException(member + " did not catch up with the quorum's log in time"));
            }
            CompletableFuture<Void> next = new CompletableFuture<>();
            timer.schedule(() -> caughtUp(leader, member, timer, deadline).whenComplete((v, e) -> {
                if (e != null) next.completeExceptionally(e);
                else next.complete(null);
            }), CATCH_UP_POLL_MS, TimeUnit.MILLISECONDS);
            return next;
        });
    }

    private static boolean matches(RaftNodeReport report, RaftEndpoint member) {
        Long match = report.getLog().getFollowerMatchIndices().get(member);
        return match != null && match >= report.getLog().getCommitIndex();
    }
}
