package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.microraft.model.message.RaftMessage;
import io.runnel.config.BrokerConfig;
import io.runnel.quorum.QuorumEndpoint;
import io.runnel.quorum.QuorumTransport;
import io.runnel.security.BrokerSecurity;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metadata quorum admits brokers only, as Kafka's inter-broker requests are: on a SASL inter-broker listener with
 * an authorizer, the hello's user must authenticate (PLAIN, JAAS users) and hold CLUSTER_ACTION on the cluster. Real
 * transports on loopback, real broker security.
 */
class QuorumAdmissionTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" "
            + "user_admin=\"admin-secret\" user_alice=\"alice-secret\";";
    private static final QuorumEndpoint SERVER = new QuorumEndpoint(1, "dir-1");

    @TempDir
    Path data;
    private Vertx vertx;
    private ExecutorService raftThread;
    private BrokerSecurity security;
    private final List<QuorumTransport> transports = new ArrayList<>();
    private SocketAddress serverAddress;

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
        if (security != null) security.close();
    }

    @Test
    void onlyAnAuthenticatedPrincipalWithClusterActionIsAdmitted() throws Exception {
        BrokerConfig config = BrokerConfig.of(Map.of("listeners", "SASL_PLAINTEXT://127.0.0.1:0", "listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS,
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "super.users", "User:admin"));
        security = BrokerSecurity.load(config, data, null);
        List<RaftMessage> received = new CopyOnWriteArrayList<>();
        QuorumTransport server = new QuorumTransport(vertx, SERVER, "c", e -> serverAddress, new NetServerOptions().setHost("127.0.0.1").setPort(0),
                new NetClientOptions(), null, new QuorumAdmission(vertx, security, security.interBroker()), raftThread, received::add);
        transports.add(server);
        serverAddress = SocketAddress.inetSocketAddress(server.start().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS), "127.0.0.1");

        QuorumEndpoint wrong = new QuorumEndpoint(2, "dir-2");
        client(wrong, "admin", "guess").send(SERVER, vote(wrong));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.refusedConnections() == 1);
        QuorumEndpoint unauthorized = new QuorumEndpoint(3, "dir-3");
        client(unauthorized, "alice", "alice-secret").send(SERVER, vote(unauthorized)); // authenticated, but no CLUSTER_ACTION
        await().atMost(Duration.ofSeconds(10)).until(() -> server.refusedConnections() == 2);
        QuorumEndpoint none = new QuorumEndpoint(4, "dir-4");
        client(none, null, null).send(SERVER, vote(none));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.refusedConnections() == 3);
        assertThat(received).isEmpty();

        QuorumEndpoint broker = new QuorumEndpoint(5, "dir-5");
        client(broker, "admin", "admin-secret").send(SERVER, vote(broker));
        await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 1);
        assertThat(received.get(0).getSender()).isEqualTo(broker);
        assertThat(server.refusedConnections()).isEqualTo(3);
    }

    private QuorumTransport client(QuorumEndpoint self, String user, String password) {
        QuorumTransport t = new QuorumTransport(vertx, self, "c", e -> serverAddress, new NetServerOptions(), new NetClientOptions(),
                user == null ? null : new String[] {user, password}, QuorumTransport.Admission.ANYONE, raftThread, m -> { });
        transports.add(t);
        return t;
    }

    private static RaftMessage vote(QuorumEndpoint from) {
        return new io.microraft.model.impl.DefaultRaftModelFactory().createVoteRequestBuilder().setGroupId("metadata").setSender(from).setTerm(1)
                .setLastLogTerm(0).setLastLogIndex(0).setSticky(false).build();
    }
}
