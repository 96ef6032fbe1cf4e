package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.microraft.RaftConfig;
import io.runnel.testkit.LocalRaftGroup;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller election on a real three-member quorum: the quorum's leader claims the controller role, a leader
 * that hands over (leadership transfer) or stops gives it up, and each new controller acts in a higher epoch than
 * every one before it (the first above the floor brokers saw before the quorum existed).
 */
class RaftElectionTest {
    private static final RaftConfig RAFT = LocalRaftGroup.CONFIG;

    /** A controller running on broker {@code node} in {@code epoch}. */
    record Acting(int node, long epoch) {
    }

    @TempDir
    Path root;
    private Vertx vertx;
    private final Map<Integer, AtomicReference<Acting>> acting = new HashMap<>();
    private final List<Acting> taken = new CopyOnWriteArrayList<>();
    private final List<RaftElection<Acting>> elections = new ArrayList<>();

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void stop() throws Exception {
        elections.forEach(RaftElection::stop);
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void theQuorumsLeaderIsTheControllerAndEachNewOneActsInAHigherEpoch() throws Exception {
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, root, 3, RAFT, i -> new MetadataMachine(() -> { })).start()) {
            for (int i = 1; i <= 3; i++) {
                int node = i;
                AtomicReference<Acting> mine = new AtomicReference<>();
                acting.put(node, mine);
                RaftElection<Acting> e = new RaftElection<>(group.node(node), new RaftMetadata(group.node(node)), node, UUID.randomUUID(),
                        () -> new long[] {50, 10}, won -> { }, won -> {
                            Acting a = new Acting(node, won.epoch());
                            taken.add(a);
                            mine.set(a);
                            return a;
                        }, a -> mine.get() == a, () -> mine.set(null));
                elections.add(e);
                e.start();
            }
            Acting first = awaitSoleController(group.awaitLeader());
            assertThat(first.epoch()).as("above the floor").isEqualTo(11);

            int next = first.node() % 3 + 1;
            group.node(first.node()).transferLeadership(group.node(next).getLocalEndpoint()).get(10, TimeUnit.SECONDS);
            Acting second = awaitSoleController(next);
            assertThat(second.epoch()).isGreaterThan(first.epoch());

            group.stop(next);
            elections.get(next - 1).stop();
            Acting third = awaitSoleController(group.awaitLeader());
            assertThat(third.node()).isNotEqualTo(next);
            assertThat(third.epoch()).isGreaterThan(second.epoch());

            assertThat(taken.stream().map(Acting::epoch).toList()).as("every epoch taken once, in order").isSorted().doesNotHaveDuplicates();
        }
    }

    /** Waits until broker {@code node} acts as the controller and no other broker does. */
    private Acting awaitSoleController(int node) {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            Map<Integer, Acting> now = new HashMap<>();
            acting.forEach((k, v) -> {
                if (v.get() != null) now.put(k, v.get());
            });
            assertThat(now).as("controllers acting").containsOnlyKeys(node);
        });
        return acting.get(node).get();
    }
}
