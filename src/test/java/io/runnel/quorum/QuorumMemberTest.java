package io.runnel.quorum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.microraft.RaftConfig;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker's quorum member and its directory: the endpoint is made once and kept while the directory is (a wiped
 * directory is a new member), a directory of another node id is refused, and a member whose directory holds its state
 * is restored from it, not started anew.
 */
class QuorumMemberTest {
    @TempDir
    Path root;

    @Test
    void theEndpointIsMadeOnceAndKeptWhileTheDirectoryIs() throws Exception {
        Path dir = root.resolve("quorum");
        QuorumEndpoint first = QuorumMember.endpoint(dir, 4);
        assertThat(first.nodeId()).isEqualTo(4);
        assertThat(QuorumMember.endpoint(dir, 4)).isEqualTo(first);
        assertThatThrownBy(() -> QuorumMember.endpoint(dir, 5)).hasMessageContaining("belongs to node 4");

        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) Files.delete(p);
        }
        assertThat(QuorumMember.endpoint(dir, 4)).as("a wiped directory is a new member").isNotEqualTo(first);
    }

    @Test
    void aMemberWithStateOnDiskIsRestoredFromIt() throws Exception {
        Vertx vertx = Vertx.vertx();
        try {
            Path dir = root.resolve("quorum");
            QuorumEndpoint self = QuorumMember.endpoint(dir, 1);
            List<String> ops = new CopyOnWriteArrayList<>();
            QuorumMember.Network network = new QuorumMember.Network("c", e -> null, new NetServerOptions().setHost("127.0.0.1").setPort(0),
                    new NetClientOptions(), null, QuorumTransport.Admission.ANYONE);
            RaftConfig config = RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(500).build();
            try (QuorumMember alone = QuorumMember.start(vertx, dir, self, port -> List.of(self), config, new ListMachine(ops), network)) {
                await().until(() -> self.equals(alone.node().getTerm().getLeaderEndpoint()));
                alone.node().replicate("kept").get(10, TimeUnit.SECONDS);
            }
            List<String> replayed = new CopyOnWriteArrayList<>();
            try (QuorumMember again = QuorumMember.start(vertx, dir, self, port -> {
                throw new AssertionError("a restored member is not asked for initial members");
            }, config, new ListMachine(replayed), network)) {
                await().until(() -> replayed.contains("kept"));
                assertThat(again.node().getCommittedMembers().getMembers()).containsExactly(self);
            }
            QuorumEndpoint other = new QuorumEndpoint(1, "another-directory-id");
            assertThatThrownBy(() -> QuorumMember.start(vertx, dir, other, port -> List.of(), config, new ListMachine(new ArrayList<>()), network))
                    .hasMessageContaining("holds");
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }
}
