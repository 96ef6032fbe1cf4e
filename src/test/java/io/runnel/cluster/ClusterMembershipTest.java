package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.runnel.testkit.RawKafkaClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.MetadataResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three brokers in separate JVMs form a cluster through Hazelcast: every broker lists all of them (DescribeCluster
 * and Metadata), they agree on one cluster id and one controller; when the controller is killed the others elect a
 * new one and list two brokers; when it comes back it rejoins as a broker.
 */
class ClusterMembershipTest {
    @TempDir
    Path root;

    @Test
    void brokersFormOneClusterAgreeOnTheControllerAndElectANewOneWhenItDies() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertEveryBrokerSees(cluster, Set.of(1, 2, 3)));
            int controller = controllerSeenBy(cluster, 1);
            Set<String> clusterIds = new HashSet<>();
            for (int id = 1; id <= 3; id++) {
                try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                    clusterIds.add(admin.describeCluster().clusterId().get());
                }
            }
            assertThat(clusterIds).hasSize(1);
            // Three brokers and nothing configured: the cluster's own metadata quorum, its voters chosen by the cluster.
            for (int id = 1; id <= 3; id++) {
                JsonObject q = cluster.clusterInfo(id).getJsonObject("metadataQuorum");
                assertThat(q.getString("mode")).isEqualTo("quorum");
                assertThat(q.getJsonArray("voters").getList()).as("voters seen by %d", id).containsExactly(1, 2, 3);
                assertThat(cluster.dataDir(id).resolve("quorum-voters")).hasContent("1,2,3");
            }

            cluster.broker(controller).kill9();
            Set<Integer> rest = new HashSet<>(Set.of(1, 2, 3));
            rest.remove(controller);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                Set<Integer> controllers = new HashSet<>();
                for (int id : rest) {
                    try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                        DescribeClusterResult d = admin.describeCluster();
                        assertThat(d.nodes().get().stream().map(Node::id)).containsExactlyInAnyOrderElementsOf(rest);
                        assertThat(d.controller().get()).as("controller seen by %d", id).isNotNull();
                        controllers.add(d.controller().get().id());
                    }
                }
                assertThat(controllers).hasSize(1).isSubsetOf(rest); // both see the same new controller
            });
            int newController = controllerSeenBy(cluster, rest.iterator().next());

            cluster.restart(controller);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertEveryBrokerSees(cluster, Set.of(1, 2, 3)));
            assertThat(controllerSeenBy(cluster, controller)).isEqualTo(newController); // the oldest member keeps the role
            try (Admin admin = KafkaClients.admin(cluster.broker(controller).kafkaBootstrap())) {
                assertThat(clusterIds).contains(admin.describeCluster().clusterId().get()); // it kept its cluster id
            }
        }
    }

    /**
     * Every broker of a cluster must run the same metadata mode: two brokers that list each other run the
     * oldest-member controller (cluster.cp.member.count auto), and a third that lists all three would wait for a
     * metadata quorum nobody else takes part in. It is refused at start, saying what to set, and the two carry on.
     */
    @Test
    void aBrokerWhoseMetadataModeDiffersFromItsClustersIsRefusedWithTheValueToSet() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 2)) {
            assertThatThrownBy(cluster::addBroker).hasMessageContaining("metadata mode is quorum:auto")
                    .hasMessageContaining("run oldest-member").hasMessageContaining("set cluster.cp.member.count to 0");
            for (int id = 1; id <= 2; id++) {
                try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                    assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS).stream().map(Node::id))
                            .as("brokers seen by %d", id).containsExactlyInAnyOrder(1, 2);
                }
            }
        }
    }

    /**
     * A broker that joins while the metadata quorum has no majority cannot read the cluster's metadata: it registers
     * fenced and the others leave it out of their Metadata responses (a client sent there would find none of the
     * topics), as Kafka's brokers stay fenced until caught up with the metadata log (KIP-631). Once the quorum is
     * back it applies the metadata, is unfenced and named to clients, and knows the topics when asked directly.
     */
    @Test
    void aJoiningBrokerIsNamedToClientsOnlyOnceItHasTheClustersMetadata() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.broker(1).kafkaBootstrap())) {
                admin.createTopics(List.of(new NewTopic("known", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            }
            cluster.broker(2).kill9();
            cluster.broker(3).kill9();
            // Until broker 1 notices it is alone, it could still hand out the image as the quorum's (its leader is
            // timed out within the heartbeat timeout).
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() ->
                    assertThat(cluster.clusterInfo(1).getJsonObject("metadataQuorum").getInteger("leaderId")).isEqualTo(-1));
            int added = cluster.addBroker();
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() ->
                    assertThat(registration(cluster, 1, added).getBoolean("fenced")).as("broker %d fenced as broker 1 lists it", added).isTrue());
            assertThat(metadataBrokers(cluster, 1, "known")).as("brokers named by broker 1").doesNotContain(added).contains(1);

            cluster.restartTogether(2, 3);
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                    assertThat(metadataBrokers(cluster, 1, "known")).as("brokers named by broker 1").contains(added));
            // Two of the three voters came back from their quorum directories: the quorum has its majority again, and
            // the new broker, an observer, reads its image.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                try (RawKafkaClient raw = new RawKafkaClient(cluster.broker(added).kafkaBootstrap())) {
                    MetadataResponse r = raw.send(new MetadataRequest.Builder(List.of("known"), false).build());
                    assertThat(r.topicMetadata()).singleElement().satisfies(t -> assertThat(t.error()).isEqualTo(Errors.NONE));
                }
            });
        }
    }

    /**
     * A restarting broker reads Kafka requests only once it has applied the cluster's metadata, as Kafka's broker
     * binds its sockets at start but enables request processing after its first metadata catch-up: a client that
     * reaches it the moment its listener is bound is not told that a topic created while it was away does not exist.
     */
    @Test
    void aRestartedBrokerAnswersOnlyOnceItHasTheClustersMetadata() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            cluster.awaitLiveBrokers(1, 3);
            cluster.broker(3).kill9();
            try (Admin admin = KafkaClients.admin(cluster.broker(1).kafkaBootstrap())) {
                admin.createTopics(List.of(new NewTopic("while-away", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            }
            cluster.relaunch(3);
            cluster.broker(3).awaitOutput("Kafka listener", Duration.ofSeconds(60)); // bound: connect at once
            try (RawKafkaClient raw = new RawKafkaClient(cluster.broker(3).kafkaBootstrap())) {
                MetadataResponse r = raw.send(new MetadataRequest.Builder(List.of("while-away"), false).build());
                assertThat(r.topicMetadata()).singleElement().satisfies(t -> assertThat(t.error()).isEqualTo(Errors.NONE));
            }
        }
    }

    /** The node ids broker {@code via} names in a Metadata response. */
    private static List<Integer> metadataBrokers(LocalCluster cluster, int via, String topic) throws Exception {
        try (RawKafkaClient raw = new RawKafkaClient(cluster.broker(via).kafkaBootstrap())) {
            MetadataResponse r = raw.send(new MetadataRequest.Builder(List.of(topic), false).build());
            return r.brokers().stream().map(Node::id).toList();
        }
    }

    /** Broker {@code nodeId}'s entry in broker {@code via}'s {@code GET /api/cluster}, or null. */
    private static JsonObject registration(LocalCluster cluster, int via, int nodeId) throws Exception {
        JsonArray brokers = cluster.clusterInfo(via).getJsonArray("brokers");
        for (int i = 0; i < brokers.size(); i++) {
            if (brokers.getJsonObject(i).getInteger("nodeId") == nodeId) return brokers.getJsonObject(i);
        }
        return null;
    }

    private static void assertEveryBrokerSees(LocalCluster cluster, Set<Integer> ids) throws Exception {
        Integer controller = null;
        for (int id = 1; id <= cluster.size(); id++) {
            try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                List<Node> nodes = List.copyOf(admin.describeCluster().nodes().get());
                assertThat(nodes.stream().map(Node::id)).as("brokers seen by %d", id).containsExactlyInAnyOrderElementsOf(ids);
                for (Node n : nodes) assertThat(n.host()).isEqualTo("127.0.0.1");
                Node cn = admin.describeCluster().controller().get();
                assertThat(cn).as("controller seen by %d", id).isNotNull(); // none while one is being elected
                int c = cn.id();
                if (controller == null) controller = c;
                assertThat(c).as("controller seen by %d", id).isEqualTo(controller);
            }
        }
    }

    /** The controller broker {@code id} names, once it names one (none for a moment while a restarted broker rejoins). */
    private static int controllerSeenBy(LocalCluster cluster, int id) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
            return await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> admin.describeCluster().controller().get(), c -> c != null).id();
        }
    }
}
