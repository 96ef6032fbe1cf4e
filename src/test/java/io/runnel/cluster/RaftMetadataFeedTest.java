package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.microraft.RaftConfig;
import io.microraft.RaftNode;
import io.microraft.statemachine.StateMachine;
import io.runnel.log.value.TopicRecord;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.runnel.quorum.QuorumEndpoint;
import io.runnel.quorum.QuorumObserver;
import io.runnel.testkit.LocalRaftGroup;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every voter's feed hands over the quorum's metadata as typed images, in version order, ending with the same image on
 * each member, and names the controller; a member restarted from disk hands over the image it replayed; an observer's
 * feed follows the voters'.
 */
class RaftMetadataFeedTest {
    private static final RaftConfig RAFT = LocalRaftGroup.config(25);

    @TempDir
    Path root;
    private Vertx vertx;
    private final Map<Integer, RaftMetadataFeed> feeds = new HashMap<>();
    private final Map<Integer, List<MetadataImage>> images = new HashMap<>();
    private final Map<Integer, AtomicReference<ControllerInfo>> controllers = new HashMap<>();

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void stop() throws Exception {
        feeds.values().forEach(RaftMetadataFeed::stop);
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void eachVoterHandsOverTheImagesInOrderAndEndsWithTheSameOne() throws Exception {
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, root, 3, RAFT, this::feed).start()) {
            int leader = group.awaitLeader();
            RaftMetadata store = new RaftMetadata(group.node(leader));
            ControllerInfo won = store.claim(leader, UUID.randomUUID(), 0, 0);
            for (int i = 0; i < 60; i++) store.createTopic(won.epoch(), "t" + i, topic("t" + i));
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                for (int m = 1; m <= 3; m++) {
                    List<MetadataImage> seen = images.get(m);
                    assertThat(seen).isNotEmpty();
                    assertThat(seen.get(seen.size() - 1).topics()).as("member %d", m).hasSize(60);
                    assertThat(controllers.get(m).get()).isEqualTo(won);
                }
            });
            for (int m = 1; m <= 3; m++) {
                assertThat(images.get(m).stream().map(MetadataImage::version).toList()).as("versions handed to member %d", m).isSorted()
                        .doesNotHaveDuplicates();
            }
            assertThat(images.get(1).get(images.get(1).size() - 1)).isEqualTo(images.get(2).get(images.get(2).size() - 1));

            int other = leader % 3 + 1;
            group.restart(other); // a new feed for the restarted member: it replays snapshot and log
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                List<MetadataImage> seen = images.get(other);
                assertThat(seen.get(seen.size() - 1).topics()).hasSize(60);
            });
        }
    }

    /**
     * A broker that is not a voter follows the quorum as an observer: its feed ends with the voters' image, in version
     * order, through the stop of the voter it reads from (it moves to another) and while the quorum elects a new leader.
     */
    @Test
    void anObserverFollowsTheVotersImageThroughTheStopOfItsVoter() throws Exception {
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, root, 3, RAFT, this::feed).start()) {
            for (int m = 1; m <= 3; m++) serveObservers(group, m);
            int leader = group.awaitLeader();
            RaftMetadata store = new RaftMetadata(group.node(leader));
            ControllerInfo won = store.claim(leader, UUID.randomUUID(), 0, 0);
            for (int i = 0; i < 20; i++) store.createTopic(won.epoch(), "t" + i, topic("t" + i));

            List<MetadataImage> seen = new CopyOnWriteArrayList<>();
            AtomicReference<ControllerInfo> named = new AtomicReference<>();
            RaftMetadataFeed observed = new RaftMetadataFeed(vertx, named::set);
            observed.start();
            observed.onImage(seen::add);
            QuorumObserver observer = new QuorumObserver(vertx, new QuorumEndpoint(9, "observer"), LocalRaftGroup.CLUSTER_ID,
                    group::endpoints, group::address, new NetClientOptions(), null, 0, observed::observed);
            observer.start();
            try {
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                    assertThat(seen).isNotEmpty();
                    assertThat(seen.get(seen.size() - 1).topics()).hasSize(20);
                    assertThat(named.get()).isEqualTo(won);
                });
                assertThat(observer.source()).as("it reads from the leader").isEqualTo(group.endpoints().get(leader - 1));

                group.stop(leader);
                int next = group.awaitLeader();
                RaftMetadata now = new RaftMetadata(group.node(next));
                ControllerInfo second = now.claim(next, UUID.randomUUID(), 0, 0);
                for (int i = 20; i < 30; i++) now.createTopic(second.epoch(), "t" + i, topic("t" + i));
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    assertThat(seen.get(seen.size() - 1).topics()).hasSize(30);
                    assertThat(named.get()).isEqualTo(second);
                });
                assertThat(seen.stream().map(MetadataImage::version).toList()).as("versions handed over").isSorted().doesNotHaveDuplicates();
                assertThat(seen.get(seen.size() - 1)).isEqualTo(images.get(next).get(images.get(next).size() - 1));
            } finally {
                observer.closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
                observed.stop();
            }
        }
    }

    private void serveObservers(LocalRaftGroup group, int m) {
        RaftNode node = group.node(m);
        group.member(m).transport().serveObservers(feeds.get(m).imageServer(() -> (QuorumEndpoint) node.getTerm().getLeaderEndpoint()));
    }

    private StateMachine feed(int member) {
        RaftMetadataFeed old = feeds.get(member);
        if (old != null) old.stop();
        images.put(member, new CopyOnWriteArrayList<>());
        controllers.putIfAbsent(member, new AtomicReference<>());
        RaftMetadataFeed f = new RaftMetadataFeed(vertx, c -> controllers.get(member).set(c));
        feeds.put(member, f);
        f.start();
        f.onImage(images.get(member)::add);
        return f.machine();
    }

    private static String topic(String name) {
        return TopicJson.encode(new TopicMetadata(new TopicRecord(name, Uuid.randomUuid(), 1, Map.of()),
                List.of(new Placement(List.of(1, 2, 3), 1, 0, List.of(1, 2, 3), 0))));
    }
}
