package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.log.value.TopicRecord;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.PreferredLeaderNotAvailableException;
import org.junit.jupiter.api.Test;

/** The controller's decisions as plain functions: replica assignment and leader election from the ISR. */
class ClusterControllerTest {

    @Test
    void assignmentSpreadsLeadersAndReplicasEvenlyWithDistinctReplicasPerPartition() {
        List<Placement> placements = ClusterController.assign(List.of(1, 2, 3), 0, 6, 3, 1, 2);
        Map<Integer, Integer> leaders = new HashMap<>();
        for (Placement p : placements) {
            assertThat(new HashSet<>(p.replicas())).hasSize(3);
            assertThat(p.leader()).isEqualTo(p.replicas().get(0)); // the preferred leader leads at first
            assertThat(p.isr()).isEqualTo(p.replicas());
            leaders.merge(p.leader(), 1, Integer::sum);
        }
        assertThat(leaders).containsOnly(Map.entry(1, 2), Map.entry(2, 2), Map.entry(3, 2));
        List<Placement> single = ClusterController.assign(List.of(4, 5), 0, 4, 1, 0, 0);
        assertThat(single).extracting(Placement::leader).containsExactly(4, 5, 4, 5);
        List<Placement> grown = ClusterController.assign(List.of(1, 2, 3), 6, 9, 2, 0, 0); // CreatePartitions continues the pattern
        assertThat(grown).hasSize(3).allMatch(p -> p.replicas().size() == 2 && !p.replicas().get(0).equals(p.replicas().get(1)));
    }

    @Test
    void aDeadLeaderIsReplacedByTheFirstLiveInSyncReplicaAndNeverByAnOutOfSyncOneUnlessUncleanElectionIsOn() {
        Placement p = new Placement(List.of(1, 2, 3), 1, 4, List.of(1, 3));
        Placement next = ClusterController.reconcile(p, Set.of(2, 3), false);
        assertThat(next.leader()).isEqualTo(3); // 2 is alive but was not in sync
        assertThat(next.leaderEpoch()).isEqualTo(5);
        assertThat(next.isr()).containsExactly(3);

        assertThat(ClusterController.reconcile(p, Set.of(1, 2, 3), false)).isEqualTo(p); // nothing changed
        assertThat(ClusterController.reconcile(new Placement(List.of(1, 2, 3), 1, 4, List.of(1, 2, 3)), Set.of(1, 2), false).isr())
                .containsExactly(1, 2); // a dead follower leaves the ISR, the leader stays

        Placement orphan = ClusterController.reconcile(p, Set.of(2), false);
        assertThat(orphan.hasLeader()).isFalse(); // every in-sync replica is gone: no leader (no data loss)
        Placement unclean = ClusterController.reconcile(p, Set.of(2), true);
        assertThat(unclean.leader()).isEqualTo(2); // unclean.leader.election.enable: availability over the lost records

        Placement sole = new Placement(List.of(7), 7, 2, List.of(7));
        Placement offline = ClusterController.reconcile(sole, Set.of(), false);
        assertThat(offline.hasLeader()).isFalse();
        Placement back = ClusterController.reconcile(offline, Set.of(7), false);
        assertThat(back.leader()).isEqualTo(7); // a sole replica holds every acknowledged record when it returns
        assertThat(back.leaderEpoch()).isGreaterThan(offline.leaderEpoch());
    }

    @Test
    void preferredElectionNeedsALiveInSyncPreferredReplicaAndTheImbalanceRatioPicksBrokers() {
        Placement away = new Placement(List.of(1, 2, 3), 2, 7, List.of(2, 3, 1));
        Placement back = ClusterController.preferredElection(away, Set.of(1, 2, 3));
        assertThat(back.leader()).isEqualTo(1);
        assertThat(back.leaderEpoch()).isEqualTo(8);
        assertThatThrownBy(() -> ClusterController.preferredElection(back, Set.of(1, 2, 3))).isInstanceOf(ElectionNotNeededException.class);
        assertThatThrownBy(() -> ClusterController.preferredElection(away, Set.of(2, 3))).isInstanceOf(PreferredLeaderNotAvailableException.class);
        Placement outOfSync = new Placement(List.of(1, 2, 3), 2, 7, List.of(2, 3));
        assertThatThrownBy(() -> ClusterController.preferredElection(outOfSync, Set.of(1, 2, 3))).isInstanceOf(PreferredLeaderNotAvailableException.class);

        // Broker 1 is preferred for 4 partitions and leads 3 of them (25 % away); broker 2 leads all of its own.
        List<Placement> ps = List.of(away, new Placement(List.of(1, 2), 1, 0, List.of(1, 2)), new Placement(List.of(1, 3), 1, 0, List.of(1, 3)),
                new Placement(List.of(1, 3), 1, 0, List.of(1, 3)), new Placement(List.of(2, 1), 2, 0, List.of(2, 1)));
        TopicMetadata t = new TopicMetadata(new TopicRecord("t", Uuid.randomUuid(), ps.size(), Map.of()), ps);
        assertThat(ClusterController.imbalancedBrokers(List.of(t), 10)).containsExactly(1);
        assertThat(ClusterController.imbalancedBrokers(List.of(t), 25)).isEmpty(); // not above the threshold
    }

    @Test
    void aReassignmentCompletesOnceItsTargetIsInSyncAndALeaderMovedAwayHandsOver() {
        TopicMetadata.Reassignment r = new TopicMetadata.Reassignment(List.of(1, 2), List.of(4, 2));
        assertThat(r.adding()).containsExactly(4);
        assertThat(r.removing()).containsExactly(1);
        Placement moving = new Placement(List.of(4, 2, 1), 1, 3, List.of(1, 2));
        TopicMetadata t = new TopicMetadata(new TopicRecord("t", Uuid.randomUuid(), 1, Map.of()), List.of(moving), Map.of(0, r));
        assertThat(ClusterController.completeReassignments(t, Set.of(1, 2, 4))).isSameAs(t); // 4 is not in sync yet

        TopicMetadata caughtUp = t.withPlacements(List.of(new Placement(List.of(4, 2, 1), 1, 3, List.of(1, 2, 4))));
        TopicMetadata done = ClusterController.completeReassignments(caughtUp, Set.of(1, 2, 4));
        assertThat(done.reassignments()).isEmpty();
        Placement after = done.placements().get(0);
        assertThat(after.replicas()).containsExactly(4, 2);
        assertThat(after.isr()).containsExactly(2, 4);
        assertThat(after.leader()).isEqualTo(2); // the leader was removed: the first in-sync replica left takes over
        assertThat(after.leaderEpoch()).isEqualTo(4);
    }
}
