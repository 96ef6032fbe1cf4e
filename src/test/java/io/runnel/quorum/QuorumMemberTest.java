package io.runnel.quorum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.microraft.RaftConfig;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker's quorum member and its directory: the endpoint is made once and kept while the directory is (a wiped
 * directory is a new member), a directory of another node id is refused, and a member whose directory holds its state
 * is restored from it, not started anew; a quorum whose two followers were restarted in the leader's term elects a
 * new leader when that leader dies.
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

    /**
     * Both followers of three restarted while the leader stays, so that each comes back in the leader's own term (its
     * start-up pre-vote overtaken by the leader's heartbeats), then the leader stops: the two elect one of them. With
     * MicroRaft 0.7 alone they stayed pre-candidates naming the dead leader and never voted again.
     */
    @Test
    void followersRestartedInTheLeadersTermElectANewLeaderWhenItDies() throws Exception {
        Vertx vertx = Vertx.vertx();
        Map<QuorumEndpoint, SocketAddress> addresses = new ConcurrentHashMap<>();
        QuorumMember[] members = new QuorumMember[3];
        QuorumEndpoint[] ends = new QuorumEndpoint[3];
        RaftConfig config = RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(1000).setLeaderHeartbeatPeriodSecs(1)
                .setLeaderHeartbeatTimeoutSecs(3).build();
        try {
            for (int i = 0; i < 3; i++) ends[i] = QuorumMember.endpoint(root.resolve("q" + i), i + 1);
            for (int i = 0; i < 3; i++) members[i] = startMember(vertx, i, ends, addresses, config);
            await().atMost(Duration.ofSeconds(30)).until(() -> leaderOf(members) != null);
            QuorumEndpoint leader = leaderOf(members);
            int term = members[leader.nodeId() - 1].node().getTerm().getTerm();
            members[leader.nodeId() - 1].node().replicate("before").get(10, TimeUnit.SECONDS);
            for (int i = 0; i < 3; i++) {
                if (i == leader.nodeId() - 1) continue;
                members[i].close();
                members[i] = startMember(vertx, i, ends, addresses, config);
                QuorumMember m = members[i];
                await().atMost(Duration.ofSeconds(30)).until(() -> leader.equals(m.node().getTerm().getLeaderEndpoint()));
                assertThat(m.node().getTerm().getTerm()).as("back in the leader's term").isEqualTo(term);
            }
            members[leader.nodeId() - 1].close();
            members[leader.nodeId() - 1] = null;
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                QuorumEndpoint next = leaderOf(members);
                assertThat(next).isNotNull().isNotEqualTo(leader);
            });
        } finally {
            for (QuorumMember m : members) if (m != null) m.close();
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private QuorumMember startMember(Vertx vertx, int i, QuorumEndpoint[] ends, Map<QuorumEndpoint, SocketAddress> addresses, RaftConfig config)
            throws Exception {
        QuorumMember.Network network = new QuorumMember.Network("c", addresses::get, new NetServerOptions().setHost("127.0.0.1").setPort(0),
                new NetClientOptions(), null, QuorumTransport.Admission.ANYONE);
        QuorumMember m = QuorumMember.start(vertx, root.resolve("q" + i), ends[i], port -> {
            addresses.put(ends[i], SocketAddress.inetSocketAddress(port, "127.0.0.1"));
            return List.of(ends);
        }, config, new ListMachine(new CopyOnWriteArrayList<>()), network);
        addresses.put(ends[i], SocketAddress.inetSocketAddress(m.port(), "127.0.0.1"));
        return m;
    }

    /** The leader every running member names, or null while they do not agree on one. */
    private static QuorumEndpoint leaderOf(QuorumMember[] members) {
        QuorumEndpoint seen = null;
        for (QuorumMember m : members) {
            if (m == null) continue;
            QuorumEndpoint l = (QuorumEndpoint) m.node().getTerm().getLeaderEndpoint();
            if (l == null || seen != null && !seen.equals(l)) return null;
            seen = l;
        }
        return seen;
    }
}
