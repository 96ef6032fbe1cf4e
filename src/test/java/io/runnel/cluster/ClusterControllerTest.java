package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.log.value.TopicRecord;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
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
    void rackAwareAssignmentSpreadsEachPartitionOverRacksAndLeadersOverBrokers() {
        // Six brokers in three racks, listed alternating between racks.
        Map<Integer, String> racks = Map.of(1, "a", 2, "a", 3, "b", 4, "b", 5, "c", 6, "c");
        assertThat(ClusterController.rackAlternated(racks)).containsExactly(1, 3, 5, 2, 4, 6);
        for (int start = 0; start < 6; start++) {
            for (int shift = 0; shift < 6; shift++) {
                List<Placement> placements = ClusterController.assignRackAware(racks, 0, 12, 3, start, shift);
                Map<Integer, Integer> leaders = new HashMap<>();
                Map<Integer, Integer> replicas = new HashMap<>();
                for (Placement p : placements) {
                    assertThat(p.replicas().stream().map(racks::get).distinct()).as("racks of %s", p.replicas()).hasSize(3);
                    assertThat(new HashSet<>(p.replicas())).hasSize(3);
                    leaders.merge(p.leader(), 1, Integer::sum);
                    p.replicas().forEach(r -> replicas.merge(r, 1, Integer::sum));
                }
                assertThat(leaders.values()).as("leaders per broker").containsOnly(2);
                assertThat(replicas.values()).as("replicas per broker").containsOnly(6);
            }
        }
        // Two racks, three replicas: both racks are used and no broker twice.
        Map<Integer, String> two = Map.of(1, "a", 2, "a", 3, "b", 4, "b");
        for (Placement p : ClusterController.assignRackAware(two, 0, 8, 3, 1, 3)) {
            assertThat(p.replicas().stream().map(two::get).distinct()).hasSize(2);
            assertThat(new HashSet<>(p.replicas())).hasSize(3);
        }
        // Replication factor 2 over racks {a: 1, 2} and {b: 3}: every partition has broker 3, the only one of rack b.
        Map<Integer, String> lopsided = Map.of(1, "a", 2, "a", 3, "b");
        assertThat(ClusterController.assignRackAware(lopsided, 0, 9, 2, 2, 1)).allMatch(p -> p.replicas().contains(3));
        // A broker without a rack ("") counts as a rack of its own.
        Map<Integer, String> mixed = Map.of(1, "a", 2, "a", 3, "");
        assertThat(ClusterController.assignRackAware(mixed, 0, 6, 2, 0, 0)).allMatch(p -> p.replicas().contains(3));
    }

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

    @Test
    void aBrokersReportOfANewerPlacementReplacesTheStoredOneBeforeALeaderIsElectedFromIt() {
        // The controller's side of a healed split brain kept the placement from before the other side shrank the ISR to
        // {3, 2} (partition epoch 2); leader 3 is gone. Electing from the stale ISR would pick broker 1, which lacks
        // records acknowledged by {3, 2}.
        InMemoryMetadataStore store = new InMemoryMetadataStore();
        TopicRecord record = new TopicRecord("frozen", Uuid.randomUuid(), 1, Map.of());
        store.putTopic(1, "frozen", TopicJson.encode(new TopicMetadata(record, List.of(new Placement(List.of(3, 1, 2), 3, 0, List.of(3, 1, 2), 0)))));
        ClusterController controller = new ClusterController(null, store, 1, new ClusterController.Settings(false, false, 300_000, 10), () -> List.of(1, 2));

        controller.adoptReport(1, report(record, new Placement(List.of(3, 1, 2), 3, 0, List.of(3, 1, 2), 0))); // as old: nothing taken
        assertThat(stored(store)).isEqualTo(new Placement(List.of(3, 1, 2), 3, 0, List.of(3, 1, 2), 0));
        controller.adoptReport(2, report(record, new Placement(List.of(3, 1, 2), 3, 0, List.of(3, 2), 2)));
        controller.reconcileAll();

        Placement p = stored(store);
        assertThat(p.leader()).as("the in-sync survivor leads").isEqualTo(2);
        assertThat(p.leaderEpoch()).isEqualTo(1);
        assertThat(p.isr()).containsExactly(2);
        assertThat(p.partitionEpoch()).as("raised past the adopted placement's").isEqualTo(3);

        controller.adoptReport(3, report(record, new Placement(List.of(3, 1, 2), 3, 0, List.of(3), 5))); // an older leader epoch
        assertThat(stored(store)).isEqualTo(p);
    }

    @Test
    void afterAWholeClusterRestartNoLeaderIsElectedUntilEveryIsrMemberHasReported() {
        // Before the restart: ISR {2, 3} at leader epoch 5 (broker 1 had fallen out, its file still says {1, 2, 3} at
        // epoch 4). Broker 1 comes back first. Electing it at once would make 2 and 3 truncate what it lacks.
        InMemoryMetadataStore store = new InMemoryMetadataStore();
        TopicRecord record = new TopicRecord("restarted", Uuid.randomUuid(), 1, Map.of());
        Set<Integer> registered = new java.util.HashSet<>(Set.of(1));
        List<Integer> live = new ArrayList<>(List.of(1));
        ClusterController controller = new ClusterController(null, store, 1, new ClusterController.Settings(false, false, 300_000, 10), () -> live,
                registered::contains);

        controller.adoptReport(1, report(record, new Placement(List.of(1, 2, 3), -1, 4, List.of(1, 2, 3), 7)));
        controller.reconcileAll();
        Placement waiting = TopicJson.decode(store.topic("restarted")).placements().get(0);
        assertThat(waiting.hasLeader()).as("no leader while 2 and 3 have not reported").isFalse();
        controller.rebalance(); // broker 1 is the preferred replica, live and in the stale ISR: no election either
        assertThat(TopicJson.decode(store.topic("restarted")).placements().get(0).hasLeader()).as("no preferred election").isFalse();
        assertThatThrownBy(() -> ClusterController.preferredElection(waiting, Set.of(1), registered::contains))
                .isInstanceOf(PreferredLeaderNotAvailableException.class);

        registered.add(2);
        live.add(2);
        controller.adoptReport(2, report(record, new Placement(List.of(1, 2, 3), -1, 5, List.of(2, 3), 8)));
        controller.reconcileAll();
        assertThat(TopicJson.decode(store.topic("restarted")).placements().get(0).hasLeader()).as("3 has not reported yet").isFalse();

        registered.add(3);
        live.add(3);
        controller.adoptReport(3, report(record, new Placement(List.of(1, 2, 3), -1, 5, List.of(2, 3), 8)));
        controller.reconcileAll();
        Placement elected = TopicJson.decode(store.topic("restarted")).placements().get(0);
        assertThat(elected.leader()).as("a member of the newest ISR leads").isIn(2, 3);
        assertThat(elected.leaderEpoch()).as("above every epoch given out before").isEqualTo(6);
        assertThat(elected.isr()).containsExactly(2, 3);

        // With unclean election on, a leaderless partition does not wait for reports.
        Placement stale = new Placement(List.of(1, 2, 3), -1, 4, List.of(1, 2, 3), 7);
        assertThat(ClusterController.reconcile(stale, Set.of(1), true, id -> id == 1).leader()).isEqualTo(1);
        assertThat(ClusterController.reconcile(stale, Set.of(1), false, id -> id == 1).hasLeader()).isFalse();
    }

    @Test
    void everyStoredChangeOfAPlacementRaisesItsPartitionEpochAndNothingElseDoes() {
        InMemoryMetadataStore store = new InMemoryMetadataStore();
        TopicRecord record = new TopicRecord("t", Uuid.randomUuid(), 2, Map.of());
        store.putTopic(1, "t", TopicJson.encode(new TopicMetadata(record, List.of(new Placement(List.of(1, 2), 1, 4, List.of(1, 2), 7),
                new Placement(List.of(2, 1), 2, 0, List.of(2, 1), 3)))));
        List<Integer> live = new ArrayList<>(List.of(1, 2));
        ClusterController controller = new ClusterController(null, store, 1, new ClusterController.Settings(false, false, 300_000, 10), () -> live);
        controller.reconcileAll();
        assertThat(TopicJson.decode(store.topic("t")).placements()).extracting(Placement::partitionEpoch).containsExactly(7, 3);
        live.remove(Integer.valueOf(2));
        controller.reconcileAll();
        List<Placement> after = TopicJson.decode(store.topic("t")).placements();
        assertThat(after.get(0)).isEqualTo(new Placement(List.of(1, 2), 1, 4, List.of(1), 8)); // follower gone: ISR shrinks
        assertThat(after.get(1)).isEqualTo(new Placement(List.of(2, 1), 1, 1, List.of(1), 4)); // leader gone: 1 takes over
    }

    @Test
    void aControlledShutdownMovesLeadershipToInSyncReplicasAndKeepsTheBrokerOutOfEveryIsrUntilItRegistersAgain() {
        InMemoryMetadataStore store = new InMemoryMetadataStore();
        TopicRecord record = new TopicRecord("t", Uuid.randomUuid(), 5, Map.of());
        store.putTopic(1, "t", TopicJson.encode(new TopicMetadata(record, List.of(
                new Placement(List.of(1, 2, 3), 1, 4, List.of(1, 2, 3), 0), // led by 1: 2 is the first in-sync replica
                new Placement(List.of(3, 1, 2), 3, 2, List.of(3, 1, 2), 0), // followed by 1: it leaves the ISR
                new Placement(List.of(1, 2, 3), 1, 6, List.of(1), 0),       // 1 alone in sync: it stays, and is remaining
                new Placement(List.of(1), 1, 0, List.of(1), 0),             // one replica: nothing to move, nothing to wait for
                new Placement(List.of(1, 3, 2), 1, 1, List.of(1, 2), 0)))));  // 3 is out of sync: 2 takes over
        List<Integer> live = new ArrayList<>(List.of(1, 2, 3));
        ClusterController controller = new ClusterController(null, store, 1, new ClusterController.Settings(false, false, 300_000, 10), () -> live);

        JsonObject reply = controller.execute(ControllerCommand.decode(ControllerCommand.encode(new ControllerCommand.Shutdown(1))));
        assertThat(reply.getJsonArray("remaining")).containsExactly("t-2");
        List<Placement> after = TopicJson.decode(store.topic("t")).placements();
        assertThat(after.get(0)).extracting(Placement::leader, Placement::leaderEpoch, Placement::isr).containsExactly(2, 5, List.of(2, 3));
        assertThat(after.get(1)).extracting(Placement::leader, Placement::leaderEpoch, Placement::isr).containsExactly(3, 2, List.of(3, 2));
        assertThat(after.get(2)).isEqualTo(new Placement(List.of(1, 2, 3), 1, 6, List.of(1), 0));
        assertThat(after.get(3)).isEqualTo(new Placement(List.of(1), 1, 0, List.of(1), 0));
        assertThat(after.get(4)).extracting(Placement::leader, Placement::leaderEpoch, Placement::isr).containsExactly(2, 2, List.of(2));

        // Leader 3 sees broker 1 caught up while it still fetches: the ISR does not take it back (INELIGIBLE_REPLICA).
        assertThatThrownBy(() -> controller.execute(new ControllerCommand.AlterIsr("t", 1, 3, 2, List.of(3, 2, 1))))
                .isInstanceOf(org.apache.kafka.common.errors.IneligibleReplicaException.class);
        assertThat(TopicJson.decode(store.topic("t")).placements().get(1).isr()).containsExactly(3, 2);
        // Broker 1's new process registers: it may join the ISR again.
        controller.adopt(1, new JsonArray());
        controller.execute(new ControllerCommand.AlterIsr("t", 1, 3, 2, List.of(3, 2, 1)));
        assertThat(TopicJson.decode(store.topic("t")).placements().get(1).isr()).containsExactly(3, 2, 1);

        // Broker 3 is gone and broker 1 shuts down again, then 2: partition 0 has no other usable replica, so 2 keeps it,
        // and nothing is remaining (no live replica could catch up and take it).
        live.remove(Integer.valueOf(3));
        controller.controlledShutdown(1);
        assertThat(controller.controlledShutdown(2)).isEmpty();
        assertThat(TopicJson.decode(store.topic("t")).placements().get(0).leader()).isEqualTo(2);
    }

    private static Placement stored(InMemoryMetadataStore store) {
        return TopicJson.decode(store.topic("frozen")).placements().get(0);
    }

    /** A broker's report of one topic it holds (partition 0, local), as Broker makes it. */
    private static JsonArray report(TopicRecord record, Placement p) {
        JsonObject placement = new JsonObject().put("replicas", new JsonArray(new ArrayList<>(p.replicas()))).put("leader", p.leader())
                .put("epoch", p.leaderEpoch()).put("isr", new JsonArray(new ArrayList<>(p.isr()))).put("partitionEpoch", p.partitionEpoch());
        return new JsonArray().add(new JsonObject().put("name", record.name()).put("topicId", record.topicId().toString()).put("partitions", 1)
                .put("configs", new JsonObject()).put("local", new JsonArray().add(0)).put("placements", new JsonArray().add(placement)));
    }
}
