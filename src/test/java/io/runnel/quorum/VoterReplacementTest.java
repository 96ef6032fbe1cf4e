package io.runnel.quorum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.microraft.MembershipChangeMode;
import io.microraft.RaftConfig;
import io.microraft.RaftNode;
import io.microraft.report.RaftGroupMembers;
import io.runnel.testkit.LocalRaftGroup;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A voter gone for good is replaced on a real three-member group (logs on disk, loopback transport): the newcomer
 * fetches the log as a learner, becomes a voter, the old one is removed, and the group then commits with the newcomer
 * counted in its majority (one more original member stopped, the leader and the newcomer still commit).
 */
class VoterReplacementTest {
    /** Snapshots every 30 entries: the newcomer catches up through a snapshot and the log after it. */
    private static final RaftConfig RAFT = LocalRaftGroup.config(30);

    @TempDir
    Path root;
    private Vertx vertx;
    private ScheduledExecutorService timer;
    private final List<List<String>> applied = new ArrayList<>();

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        timer = Executors.newSingleThreadScheduledExecutor();
        for (int i = 0; i <= 4; i++) applied.add(new CopyOnWriteArrayList<>());
    }

    @AfterEach
    void stop() throws Exception {
        timer.shutdownNow();
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void aVoterGoneForGoodIsReplacedAndTheNewcomerCountsInTheMajority() throws Exception {
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, root, 3, RAFT, i -> new ListMachine(applied.get(i))).start()) {
            int leader = group.awaitLeader();
            List<String> expected = new ArrayList<>();
            replicate(group.node(leader), expected, 0, 100);
            int gone = leader % 3 + 1;
            int staying = 6 - leader - gone;
            group.stop(gone);

            int newcomer = group.newMember().nodeId();
            // Started first: the learner step sends it the log as soon as it is a member.
            group.startAdded(newcomer);
            RaftGroupMembers members = VoterReplacement.replace(group.node(leader), group.node(staying).getCommittedMembers().getMembers().stream()
                            .filter(e -> ((QuorumEndpoint) e).nodeId() == gone).findFirst().orElseThrow(), group.node(newcomer).getLocalEndpoint(),
                    timer, Duration.ofSeconds(30)).get(60, TimeUnit.SECONDS);
            assertThat(members.getVotingMembers()).extracting(e -> ((QuorumEndpoint) e).nodeId()).containsExactlyInAnyOrder(leader, staying, newcomer);
            assertThat(members.getMembers()).hasSize(3);
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(applied.get(newcomer)).containsExactlyElementsOf(expected));

            // The newcomer is a voter: with the other original member stopped too, the leader and it still commit.
            group.stop(staying);
            replicate(group.node(leader), expected, 100, 110);
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(applied.get(newcomer)).containsExactlyElementsOf(expected));
            assertThat(applied.get(leader)).containsExactlyElementsOf(expected);
        }
    }

    /** A replacement that finds the newcomer already a learner (an earlier attempt timed out) goes on from there. */
    @Test
    void aReplacementGoesOnFromALearnerAddedBefore() throws Exception {
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, root, 3, RAFT, i -> new ListMachine(applied.get(i))).start()) {
            int leader = group.awaitLeader();
            List<String> expected = new ArrayList<>();
            replicate(group.node(leader), expected, 0, 10);
            int newcomer = group.newMember().nodeId();
            RaftNode l = group.node(leader);
            var endpoint = group.newMemberEndpoint(newcomer);
            l.changeMembership(endpoint, MembershipChangeMode.ADD_LEARNER, l.getCommittedMembers().getLogIndex()).get(10, TimeUnit.SECONDS);
            group.startAdded(newcomer);
            int outgoing = leader % 3 + 1;
            RaftGroupMembers members = VoterReplacement.replace(l, group.node(outgoing).getLocalEndpoint(), endpoint, timer, Duration.ofSeconds(30))
                    .get(60, TimeUnit.SECONDS);
            assertThat(members.getVotingMembers()).contains(endpoint).doesNotContain(group.node(outgoing).getLocalEndpoint());
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(applied.get(newcomer)).containsExactlyElementsOf(expected));
        }
    }

    private static void replicate(RaftNode leader, List<String> expected, int from, int to) throws Exception {
        for (int i = from; i < to; i++) {
            leader.replicate("op-" + i).get(10, TimeUnit.SECONDS);
            expected.add("op-" + i);
        }
    }
}
