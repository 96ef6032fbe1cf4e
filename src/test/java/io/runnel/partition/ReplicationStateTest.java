package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.ManualTime;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The leader's replication state on a manual clock: high watermark, ISR shrink and expansion, one proposal at a time. */
class ReplicationStateTest {
    private static final long T0 = 1_700_000_000_000L;
    private static final long LAG_MS = 10_000;
    private final ManualTime time = new ManualTime(T0);
    private final ReplicationState state = new ReplicationState(1, time, LAG_MS);
    private final Placement led = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2, 3));

    /** A follower's fetch as the replica takes it: its position, then the high watermark, then a possible ISR expansion. */
    private List<Integer> fetched(Placement p, int replica, long fetchOffset, long leaderLogEnd) {
        state.followerFetched(replica, fetchOffset, leaderLogEnd, true);
        state.advance(p, leaderLogEnd);
        return state.expandedIsr(p, replica);
    }

    @Test
    void theHighWatermarkIsTheSmallestLogEndOfTheInSyncReplicasAndNeverGoesBack() {
        state.resetHighWatermark(10);
        state.startLeading(led);
        assertThat(state.advance(led, 20)).as("followers that have not fetched in this epoch hold it").isFalse();
        assertThat(state.highWatermark()).isEqualTo(10);
        fetched(led, 2, 15, 20);
        assertThat(state.highWatermark()).isEqualTo(10); // broker 3 still unknown
        fetched(led, 3, 18, 20);
        assertThat(state.highWatermark()).isEqualTo(15);
        fetched(led, 2, 20, 20);
        assertThat(state.highWatermark()).isEqualTo(18);
        fetched(led, 3, 12, 20); // a follower that went back (truncated) does not lower it
        assertThat(state.highWatermark()).isEqualTo(18);
        Placement shrunk = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2));
        assertThat(state.advance(shrunk, 20)).as("once 3 left the ISR, 2 and the leader count").isTrue();
        assertThat(state.highWatermark()).isEqualTo(20);
    }

    @Test
    void aFollowerNotCaughtUpForTheLagTimeLeavesTheIsrAndComesBackOnceItReachesTheHighWatermark() {
        state.startLeading(led);
        time.advance(LAG_MS);
        assertThat(state.shrunkIsr(led)).as("every follower has the lag time from the start of the epoch").isNull();
        fetched(led, 2, 100, 100); // caught up now
        fetched(led, 3, 40, 100); // behind
        time.advance(1);
        assertThat(state.shrunkIsr(led)).containsExactly(1, 2);
        assertThat(state.follower(3)).isEqualTo(new ReplicationState.Follower(40, T0));
        Placement without3 = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2));
        state.advance(without3, 100);
        assertThat(state.highWatermark()).isEqualTo(100);
        assertThat(fetched(without3, 3, 99, 100)).as("below the high watermark").isNull();
        assertThat(fetched(without3, 3, 100, 100)).containsExactly(1, 2, 3);
        assertThat(fetched(without3, 4, 100, 100)).as("not a replica").isNull();
    }

    @Test
    void aReplicaRefusedAsIneligibleIsNotProposedAgainUntilTheBackoffEndsOrThePlacementChanges() {
        Placement without3 = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2));
        state.startLeading(without3);
        fetched(without3, 2, 100, 100);
        state.advance(without3, 100);
        List<Integer> wider = fetched(without3, 3, 100, 100);
        assertThat(wider).containsExactly(1, 2, 3);
        state.refusedAsIneligible(wider, without3, 5_000); // broker 3 is in controlled shutdown
        assertThat(fetched(without3, 3, 100, 100)).as("within the backoff").isNull();
        time.advance(5_000);
        assertThat(fetched(without3, 3, 100, 100)).as("after the backoff (a restarted broker)").containsExactly(1, 2, 3);
        state.refusedAsIneligible(wider, without3, 5_000);
        state.placementChanged(new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2), 1));
        assertThat(fetched(without3, 3, 100, 100)).as("after a new placement").containsExactly(1, 2, 3);
    }

    @Test
    void oneIsrProposalIsOutstandingAtATimeAndAStaleAnswerDoesNotEndANewerOne() {
        Placement p = new Placement(List.of(1, 2), 1, 5, List.of(1), 7);
        List<Integer> first = state.beginProposal(List.of(1, 2), 5);
        assertThat(first).containsExactly(1, 2);
        assertThat(state.beginProposal(List.of(1), 5)).isNull();
        state.placementChanged(new Placement(List.of(1, 2), 1, 6, List.of(1), 8)); // a new leader epoch: fenced
        List<Integer> second = state.beginProposal(List.of(1, 2), 6);
        state.proposalAnswered(first, -1, p); // the first proposal's late answer
        assertThat(state.beginProposal(List.of(1), 6)).as("the second proposal is still outstanding").isNull();
        state.proposalAnswered(second, -1, p); // refused
        assertThat(state.beginProposal(List.of(1), 6)).containsExactly(1);
    }

    /**
     * Kafka's maximal ISR (KIP-497): once a follower is proposed into the ISR, the controller may elect it before the
     * leader has the placement that says so, so the high watermark waits for it from the proposal on, until that
     * placement arrives. (The controller simulation found the loss this prevents: a record acknowledged by the old
     * ISR after the expansion was accepted, missing from the new member.)
     */
    @Test
    void aFollowerProposedIntoTheIsrHoldsTheHighWatermarkUntilThePlacementThatHoldsItArrives() {
        Placement two = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2), 7);
        state.resetHighWatermark(10);
        state.startLeading(two);
        fetched(two, 2, 20, 20);
        assertThat(state.highWatermark()).isEqualTo(20);
        state.followerFetched(3, 20, 20, false); // caught up: proposed in
        List<Integer> proposal = state.beginProposal(List.of(1, 2, 3), 5);
        assertThat(state.maximalIsr(two)).containsExactly(1, 2, 3);
        state.proposalAnswered(proposal, 8, two); // accepted at partition epoch 8; this replica still has epoch 7
        fetched(two, 2, 30, 30); // records 20..29: broker 2 has them, broker 3 not yet
        assertThat(state.highWatermark()).as("broker 3 may be elected already: it holds the high watermark").isEqualTo(20);
        state.placementChanged(new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2), 7)); // an older placement again: no end
        assertThat(state.maximalIsr(two)).containsExactly(1, 2, 3);
        Placement three = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2, 3), 8);
        state.placementChanged(three);
        assertThat(state.maximalIsr(three)).containsExactly(1, 2, 3);
        assertThat(state.beginProposal(List.of(1, 2), 5)).as("the proposal ended with the placement that holds it").isNotNull();

        // A shrink: the follower proposed out still counts until the placement without it arrives.
        Placement shrunk = new Placement(List.of(1, 2, 3), 1, 5, List.of(1, 2), 9);
        assertThat(state.maximalIsr(three)).containsExactly(1, 2, 3);
        state.placementChanged(shrunk);
        assertThat(state.maximalIsr(shrunk)).as("unanswered: the answer decides").containsExactly(1, 2);
    }

    @Test
    void aFollowerTakesItsLeadersHighWatermarkNoHigherThanItsOwnLogEnd() {
        Placement followed = new Placement(List.of(2, 1), 2, 3, List.of(2, 1));
        assertThat(state.advance(followed, 50)).as("only a leader advances it from followers").isFalse();
        state.followLeader(40, 30);
        assertThat(state.highWatermark()).isEqualTo(30);
        state.followLeader(20, 30);
        assertThat(state.highWatermark()).isEqualTo(30);
        state.truncatedTo(25);
        assertThat(state.highWatermark()).isEqualTo(25);
        state.resetHighWatermark(1_000); // restarted at the leader's log start
        assertThat(state.highWatermark()).isEqualTo(1_000);
    }

    @Test
    void aLeaderIsInTouchOnlyWhileAnInSyncFollowerFetchedWithinTheLeaseOrItIsTheWholeIsr() {
        long lease = 5_000;
        state.startLeading(led);
        assertThat(state.inTouch(led, lease)).as("no follower has fetched in this epoch yet").isFalse();
        state.followerFetched(2, 0, 0, false);
        assertThat(state.inTouch(led, lease)).as("a fetch from a replica outside the ISR is no evidence").isFalse();
        state.followerFetched(3, 0, 0, true);
        assertThat(state.inTouch(led, lease)).isTrue();
        time.advance(lease);
        assertThat(state.inTouch(led, lease)).isTrue();
        time.advance(1); // cut off or frozen: nobody fetched for longer than the lease
        assertThat(state.inTouch(led, lease)).as("a successor may have been elected meanwhile").isFalse();
        state.followerFetched(2, 0, 0, true);
        assertThat(state.inTouch(led, lease)).isTrue();

        Placement alone = new Placement(List.of(1, 2, 3), 1, 6, List.of(1));
        state.startLeading(alone);
        time.advance(60_000);
        assertThat(state.inTouch(alone, lease)).as("the whole ISR: no other replica can be elected cleanly").isTrue();
        Placement followed = new Placement(List.of(1, 2, 3), 2, 7, List.of(2, 1));
        state.stopLeading();
        assertThat(state.inTouch(followed, lease)).as("a follower never is").isFalse();
    }
}
