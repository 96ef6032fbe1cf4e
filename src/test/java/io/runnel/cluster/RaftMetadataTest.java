package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.microraft.RaftConfig;
import io.runnel.testkit.LocalRaftGroup;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotControllerException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metadata store on a real three-member Raft group (logs on disk, loopback transport): the leader's claim makes
 * it the controller, its writes reach every member's image, a write of a deposed controller fails with NOT_CONTROLLER,
 * and a member restarted from its directory (log and snapshots) holds the same image.
 */
class RaftMetadataTest {
    /** Snapshots every 20 entries, so restarts go through snapshots as well as log entries. */
    private static final RaftConfig RAFT = LocalRaftGroup.config(20);

    @TempDir
    Path root;
    private Vertx vertx;

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void theLeadersClaimFencesTheControllerBeforeIt() throws Exception {
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, root, 3, RAFT, i -> new MetadataMachine(() -> { })).start()) {
            int leader = group.awaitLeader();
            RaftMetadata store = new RaftMetadata(group.node(leader));
            UUID member = UUID.randomUUID();
            ControllerInfo first = store.claim(leader, member, 0, 4);
            assertThat(first.epoch()).isEqualTo(5);
            for (int i = 0; i < 50; i++) assertThat(store.createTopic(first.epoch(), "t" + i, topic(i + 1))).isTrue();
            assertThat(store.createTopic(first.epoch(), "t0", topic(1))).isFalse();
            Uuid gone = Uuid.randomUuid();
            store.deleteTopic(first.epoch(), "t49", gone);
            assertThat(store.topics()).hasSize(49);
            assertThat(store.isDeleted(gone)).isTrue();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                for (int i = 1; i <= 3; i++) assertThat(image(group, i)).isEqualTo(store.read());
            });

            // Leadership moves: the new leader claims, and the old controller's writes fail wherever they are sent.
            int next = leader % 3 + 1;
            group.node(leader).transferLeadership(group.node(next).getLocalEndpoint()).get(10, TimeUnit.SECONDS);
            assertThat(group.awaitLeader()).isEqualTo(next);
            RaftMetadata nextStore = new RaftMetadata(group.node(next));
            ControllerInfo second = nextStore.claim(next, UUID.randomUUID(), 0, 0);
            assertThat(second.epoch()).isEqualTo(first.epoch() + 1);
            assertThatThrownBy(() -> store.putTopic(first.epoch(), "t1", topic(9))).isInstanceOf(NotControllerException.class);
            assertThatThrownBy(() -> nextStore.putTopic(first.epoch(), "t1", topic(9))).isInstanceOf(NotControllerException.class)
                    .hasMessageContaining("replaced by epoch " + second.epoch());
            assertThatThrownBy(() -> nextStore.checkEpoch(first.epoch())).isInstanceOf(NotControllerException.class);
            nextStore.checkEpoch(second.epoch());
            nextStore.putTopic(second.epoch(), "t1", topic(9));
            assertThat(new JsonObject(nextStore.topic("t1")).getInteger("partitions")).isEqualTo(9);

            // A member restarted from disk replays its snapshot and log into the same image.
            int other = next % 3 + 1;
            group.restart(other);
            CpMetadata.Image expected = nextStore.read();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(image(group, other)).isEqualTo(expected));
        }
    }

    private static CpMetadata.Image image(LocalRaftGroup group, int i) {
        return ((MetadataMachine) group.machine(i)).image();
    }

    private static String topic(int partitions) {
        return new JsonObject().put("partitions", partitions).put("topicId", Uuid.randomUuid().toString()).encode();
    }
}
