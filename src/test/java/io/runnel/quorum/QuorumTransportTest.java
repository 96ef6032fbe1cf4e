package io.runnel.quorum;

import static io.runnel.quorum.RawQuorumSocket.assertClosedAfter;
import static io.runnel.quorum.RawQuorumSocket.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.microraft.RaftConfig;
import io.microraft.model.message.RaftMessage;
import io.microraft.model.message.VoteRequest;
import io.runnel.config.Limits;
import io.runnel.testkit.LocalRaftGroup;
import io.runnel.testkit.TestPki;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.PfxOptions;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quorum transport over real loopback sockets: messages arrive in order and as sent; a peer that is down costs
 * bounded memory and is reached once it is up; a connection that breaks the protocol (garbage, another cluster, a
 * spoofed sender, refused credentials) is closed alone; TLS.
 */
class QuorumTransportTest {
    private static final String CLUSTER = "quorum-test-cluster";
    private static final QuorumEndpoint A = new QuorumEndpoint(1, "dir-a");
    private static final QuorumEndpoint B = new QuorumEndpoint(2, "dir-b");

    private Vertx vertx;
    private ExecutorService raftThread;
    private final Map<QuorumEndpoint, SocketAddress> addresses = new ConcurrentHashMap<>();
    private final List<QuorumTransport> transports = new ArrayList<>();

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        raftThread = Executors.newSingleThreadExecutor();
    }

    @AfterEach
    void stop() throws Exception {
        for (QuorumTransport t : transports) t.closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        raftThread.shutdownNow();
    }

    @Test
    void messagesArriveInOrderAsTheyWereSent() throws Exception {
        List<RaftMessage> atB = new CopyOnWriteArrayList<>();
        transport(B, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, atB::add, true);
        QuorumTransport a = transport(A, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, m -> { }, true);
        for (int term = 1; term <= 500; term++) a.send(B, vote(A, term));
        await().atMost(Duration.ofSeconds(20)).until(() -> atB.size() == 500);
        for (int i = 0; i < 500; i++) {
            VoteRequest v = (VoteRequest) atB.get(i);
            assertThat(v.getTerm()).isEqualTo(i + 1);
            assertThat(v.getSender()).isEqualTo(A);
            assertThat(v.getLastLogIndex()).isEqualTo(7L * (i + 1));
        }
        assertThat(a.isReachable(B)).as("a connection to B is open").isTrue();
        assertThat(a.dropped()).isZero();
    }

    /**
     * While B is down, what A sends it is dropped (the queue never holds more than its bound, and is emptied when a
     * connection attempt fails); once B listens, A's next messages reach it.
     */
    @Test
    void aPeerThatIsDownCostsBoundedMemoryAndIsReachedOnceUp() throws Exception {
        QuorumTransport a = transport(A, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, m -> { }, true);
        addresses.put(B, SocketAddress.inetSocketAddress(freePort(), "127.0.0.1")); // nothing listens there
        int sent = Limits.QUORUM_PEER_QUEUE_FRAMES * 3;
        for (int term = 1; term <= sent; term++) a.send(B, vote(A, term));
        assertThat(a.dropped()).as("beyond the queue's bound at once").isGreaterThanOrEqualTo(sent - Limits.QUORUM_PEER_QUEUE_FRAMES);
        await().atMost(Duration.ofSeconds(20)).until(() -> a.dropped() == sent); // the failed attempt drops the rest
        assertThat(a.isReachable(B)).isFalse();

        List<RaftMessage> atB = new CopyOnWriteArrayList<>();
        transport(B, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, atB::add, true);
        int[] term = {sent};
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> {
            a.send(B, vote(A, ++term[0]));
            return !atB.isEmpty();
        });
        assertThat(atB.get(0).getTerm()).isGreaterThan(sent);
    }

    /** Garbage, an oversized frame, another cluster's hello and a spoofed sender each close their own connection only. */
    @Test
    void aConnectionThatBreaksTheProtocolIsClosedAndTheOthersGoOn() throws Exception {
        List<RaftMessage> atB = new CopyOnWriteArrayList<>();
        QuorumTransport b = transport(B, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, atB::add, true);
        int port = addresses.get(B).port();

        assertClosedAfter(port, out -> frame(out, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
        assertClosedAfter(port, out -> out.writeInt(Limits.QUORUM_MAX_FRAME_BYTES + 1));
        assertClosedAfter(port, out -> frame(out, new QuorumTransport.Hello("another-cluster", A, null, null, false).encode()));
        assertClosedAfter(port, out -> {
            frame(out, new QuorumTransport.Hello(CLUSTER, A, null, null, false).encode());
            frame(out, QuorumCodec.encode(vote(new QuorumEndpoint(3, "dir-c"), 1))); // not the hello's sender
        });
        assertClosedAfter(port, out -> {
            frame(out, new QuorumTransport.Hello(CLUSTER, A, null, null, false).encode());
            frame(out, new byte[] {9, 9, 9});
        });
        assertThat(atB).isEmpty();

        QuorumTransport a = transport(A, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, m -> { }, true);
        a.send(B, vote(A, 42));
        await().atMost(Duration.ofSeconds(10)).until(() -> atB.size() == 1);
        assertThat(atB.get(0).getTerm()).isEqualTo(42);
        assertThat(b.dropped()).isZero();
    }

    /** The admission decides: a hello with the wrong password delivers nothing, the right one does. */
    @Test
    void theAdmissionRefusesWrongCredentials() throws Exception {
        List<RaftMessage> atB = new CopyOnWriteArrayList<>();
        QuorumTransport.Admission admission = (hello, socket) -> "broker".equals(hello.username()) && "secret".equals(hello.password())
                ? Future.succeededFuture() : Future.failedFuture("authentication of " + hello.username() + " failed");
        QuorumTransport b = transport(B, new NetServerOptions(), new NetClientOptions(), null, admission, atB::add, true);

        QuorumTransport wrong = transport(A, new NetServerOptions(), new NetClientOptions(), new String[] {"broker", "guess"},
                QuorumTransport.Admission.ANYONE, m -> { }, false);
        for (int term = 1; term <= 20; term++) wrong.send(B, vote(A, term));
        await().atMost(Duration.ofSeconds(10)).until(() -> wrong.lostConnections() >= 1); // B closed it
        assertThat(b.refusedConnections()).isGreaterThanOrEqualTo(1);
        assertThat(atB).isEmpty();

        QuorumEndpoint c = new QuorumEndpoint(3, "dir-c");
        QuorumTransport right = transport(c, new NetServerOptions(), new NetClientOptions(), new String[] {"broker", "secret"},
                QuorumTransport.Admission.ANYONE, m -> { }, false);
        right.send(B, vote(c, 1));
        await().atMost(Duration.ofSeconds(10)).until(() -> atB.size() == 1);
        assertThat(atB.get(0).getSender()).isEqualTo(c);
    }

    /** With TLS on B's listener, A connects over TLS; a plaintext peer delivers nothing. */
    @Test
    void tls() throws Exception {
        TestPki pki = TestPki.shared();
        NetServerOptions tlsServer = new NetServerOptions().setSsl(true)
                .setKeyCertOptions(new PfxOptions().setPath(pki.broker().toString()).setPassword(TestPki.PASSWORD));
        NetClientOptions tlsClient = new NetClientOptions().setSsl(true).setHostnameVerificationAlgorithm("")
                .setTrustOptions(new PfxOptions().setPath(pki.truststore().toString()).setPassword(TestPki.PASSWORD));
        List<RaftMessage> atB = new CopyOnWriteArrayList<>();
        transport(B, tlsServer, tlsClient, null, QuorumTransport.Admission.ANYONE, atB::add, true);

        QuorumEndpoint c = new QuorumEndpoint(3, "dir-c");
        QuorumTransport plain = transport(c, new NetServerOptions(), new NetClientOptions(), null, QuorumTransport.Admission.ANYONE, m -> { }, false);
        for (int term = 1; term <= 5; term++) plain.send(B, vote(c, term));
        await().atMost(Duration.ofSeconds(10)).until(() -> plain.lostConnections() >= 1); // the TLS handshake failed
        assertThat(atB).isEmpty();

        QuorumTransport a = transport(A, new NetServerOptions(), tlsClient, null, QuorumTransport.Admission.ANYONE, m -> { }, false);
        a.send(B, vote(A, 7));
        await().atMost(Duration.ofSeconds(10)).until(() -> atB.size() == 1);
        assertThat(atB.get(0).getSender()).isEqualTo(A);
    }

    /**
     * Three MicroRaft nodes with their logs on disk, talking over the transport: they elect a leader, every node
     * applies what the leader replicates in the same order, and two go on committing when the third stops.
     */
    @Test
    void aRaftGroupOverTheTransportCommitsWithAllThreeAndWithTwo(@TempDir Path dir) throws Exception {
        List<List<String>> applied = new ArrayList<>();
        for (int i = 0; i <= 3; i++) applied.add(new CopyOnWriteArrayList<>());
        try (LocalRaftGroup group = new LocalRaftGroup(vertx, dir, 3, RAFT, i -> new ListMachine(applied.get(i))).start()) {
            int leader = group.awaitLeader();
            List<String> expected = new ArrayList<>();
            for (int i = 1; i <= 20; i++) {
                group.node(leader).replicate("op-" + i).get(10, TimeUnit.SECONDS);
                expected.add("op-" + i);
            }
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                for (int i = 1; i <= 3; i++) assertThat(applied.get(i)).containsExactlyElementsOf(expected);
            });

            int stopped = leader % 3 + 1;
            group.stop(stopped);
            group.node(leader).replicate("op-21").get(10, TimeUnit.SECONDS);
            expected.add("op-21");
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                for (int i = 1; i <= 3; i++) if (i != stopped) assertThat(applied.get(i)).containsExactlyElementsOf(expected);
            });
        }
    }

    private static final RaftConfig RAFT = LocalRaftGroup.CONFIG;

    // ---- helpers ----

    private QuorumTransport transport(QuorumEndpoint self, NetServerOptions server, NetClientOptions client, String[] credentials,
            QuorumTransport.Admission admission, Consumer<RaftMessage> deliver, boolean listen) throws Exception {
        QuorumTransport t = new QuorumTransport(vertx, self, CLUSTER, addresses::get, new NetServerOptions(server).setHost("127.0.0.1").setPort(0),
                client, credentials, admission, raftThread, deliver);
        transports.add(t);
        if (listen) {
            int port = t.start().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            addresses.put(self, SocketAddress.inetSocketAddress(port, "127.0.0.1"));
        }
        return t;
    }

    private static VoteRequest vote(QuorumEndpoint from, int term) {
        return QuorumCodec.MODEL.createVoteRequestBuilder().setGroupId("metadata").setSender(from).setTerm(term).setLastLogTerm(term)
                .setLastLogIndex(7L * term).setSticky(false).build();
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
