package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster as operators see it, on three brokers: {@code /metrics} carries Kafka's cluster health meters (one
 * active controller, partitions led, under-replicated partitions, ISR shrinks, leader elections) and the console's
 * Brokers view in headless Chromium shows a killed broker as not live, the partitions it leaves under-replicated,
 * and a reassignment onto it that cannot catch up; each broker's rack reaches Kafka clients and the console. The
 * screenshot lands in target/ (docs/ keeps a copy).
 */
class ClusterConsoleBrowserTest {
    @TempDir
    Path root;

    @Test
    void theBrokersViewAndTheMetricsShowABrokerLostAndWhatItLeaves() throws Exception {
        Path shots = Path.of("target").toAbsolutePath();
        Files.createDirectories(shots);
        Files.deleteIfExists(shots.resolve("console-brokers.png"));
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--auto.leader.rebalance.enable=false", "--broker.rack=rack-{node}")) {
            cluster.awaitQuorum(1);
            int controller = cluster.clusterInfo(1).getInteger("controllerId");
            int victim = controller == 1 ? 2 : 1;
            List<Integer> others = new ArrayList<>(List.of(1, 2, 3));
            others.remove(Integer.valueOf(victim));
            cluster.awaitLiveBrokers(controller, 3);
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                // Each broker's rack, as Kafka clients are told it (DescribeCluster; Metadata alike).
                assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).allSatisfy(n -> assertThat(n.rack()).isEqualTo("rack-" + n.id()));
                // "moving" lives on the two brokers that stay (a manual assignment, as kafka-topics.sh --replica-assignment).
                admin.createTopics(List.of(new NewTopic("orders", 6, (short) 3).configs(Map.of("min.insync.replicas", "2")),
                        new NewTopic("moving", Map.of(0, others)))).all().get(30, TimeUnit.SECONDS);
            }
            await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
                JsonObject c = cluster.clusterInfo(controller);
                assertThat(c.getInteger("partitions")).isEqualTo(7);
                assertThat(c.getInteger("underReplicatedPartitions")).isZero();
                assertThat(c.getInteger("offlinePartitions")).isZero();
                // One active controller; every partition counted once, on its leader.
                assertThat(sum(cluster, List.of(1, 2, 3), "runnel_controller_active")).isEqualTo(1);
                assertThat(metric(cluster, controller, "runnel_controller_active")).isEqualTo(1);
                assertThat(sum(cluster, List.of(1, 2, 3), "runnel_leader_partitions")).isEqualTo((double) c.getInteger("partitions"));
                assertThat(sum(cluster, List.of(1, 2, 3), "runnel_under_replicated_partitions")).isZero();
            });
            double electionsBefore = metric(cluster, controller, "runnel_controller_leader_elections_total");
            double shrinksBefore = sum(cluster, others, "runnel_isr_shrinks_total");

            // A reassignment onto the victim, started while it is frozen (the controller still counts it live, as
            // Kafka places replicas on registered brokers only) so that the added replica never catches up; then it dies.
            cluster.broker(victim).pause();
            try (Admin admin = KafkaClients.admin(cluster.broker(controller).kafkaBootstrap())) {
                List<Integer> target = new ArrayList<>(others);
                target.add(victim);
                admin.alterPartitionReassignments(Map.of(new TopicPartition("moving", 0), Optional.of(new NewPartitionReassignment(target))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            cluster.broker(victim).kill9();
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                JsonObject c = cluster.clusterInfo(controller);
                assertThat(c.getInteger("underReplicatedPartitions")).as("every partition of orders lost a replica").isGreaterThanOrEqualTo(6);
                assertThat(c.getInteger("offlinePartitions")).isZero();
                JsonObject gone = brokerOf(c, victim);
                assertThat(gone.getBoolean("live")).isFalse();
                // Kafka's meanings: each live leader counts its own under-replicated partitions; the controller elected
                // new leaders for those the victim led; the leaders' ISRs shrank.
                assertThat(sum(cluster, others, "runnel_under_replicated_partitions")).isEqualTo((double) c.getInteger("underReplicatedPartitions"));
                assertThat(metric(cluster, controller, "runnel_controller_leader_elections_total")).isGreaterThan(electionsBefore);
                assertThat(sum(cluster, others, "runnel_isr_shrinks_total")).isGreaterThan(shrinksBefore);
                assertThat(metric(cluster, controller, "runnel_controller_offline_partitions")).isZero();
            });
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                JsonArray running = cluster.clusterInfo(controller).getJsonArray("reassignments");
                assertThat(running).hasSize(1);
                assertThat(running.getJsonObject(0).getJsonArray("adding")).containsExactly(victim);
                assertThat(running.getJsonObject(0).getJsonArray("caughtUp")).isEmpty();
            });

            Process p = new ProcessBuilder("node", "src/test/js/console-cluster.mjs", "http://127.0.0.1:" + cluster.broker(controller).httpPort() + "/",
                    shots.toString(), String.valueOf(victim)).redirectErrorStream(true).start();
            try {
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).as("browser script output:%n%s", out).isZero();
                JsonObject seen = new JsonObject(out.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow());
                assertThat(seen.getJsonObject("cards").getString("live")).isEqualTo("2 / 3");
                assertThat(seen.getJsonObject("cards").getString("controller")).isEqualTo("broker " + controller);
                assertThat(seen.getJsonObject("cards").getString("offline")).isEqualTo("0");
                assertThat(Integer.parseInt(seen.getJsonObject("cards").getString("underReplicated"))).isGreaterThanOrEqualTo(6);
                assertThat(seen.getJsonArray("brokers")).hasSize(3);
                for (Object row : seen.getJsonArray("brokers")) {
                    JsonArray cells = (JsonArray) row;
                    int node = Integer.parseInt(cells.getString(0));
                    assertThat(cells.getString(5)).as("state of broker %d", node).isEqualTo(node == victim ? "not live" : "live");
                    if (node != victim) assertThat(cells.getString(3)).as("rack of broker %d", node).isEqualTo("rack-" + node);
                    if (node == controller) assertThat(cells.getString(4)).contains("controller");
                }
                JsonArray reassignment = seen.getJsonArray("reassignment");
                assertThat(reassignment.getString(0)).isEqualTo("moving");
                assertThat(reassignment.getString(3)).isEqualTo(String.valueOf(victim));
                assertThat(reassignment.getString(5)).startsWith("0 of 1");
                assertThat(seen.getJsonArray("placement")).hasSize(6);
                for (Object row : seen.getJsonArray("placement")) {
                    JsonArray cells = (JsonArray) row;
                    assertThat(cells.getString(3).split(", ")).hasSize(3);
                    assertThat(cells.getString(4)).doesNotContain(String.valueOf(victim));
                    assertThat(cells.getString(5)).contains("under-replicated");
                }
            } finally {
                p.destroyForcibly();
            }
            assertThat(shots.resolve("console-brokers.png")).isNotEmptyFile();
        }
    }

    private static JsonObject brokerOf(JsonObject cluster, int node) {
        for (Object b : cluster.getJsonArray("brokers")) if (((JsonObject) b).getInteger("nodeId") == node) return (JsonObject) b;
        throw new AssertionError("broker " + node + " is not in " + cluster.getJsonArray("brokers"));
    }

    private static double sum(LocalCluster cluster, List<Integer> brokers, String name) throws Exception {
        double total = 0;
        for (int b : brokers) total += metric(cluster, b, name);
        return total;
    }

    /** One sample of broker {@code node}'s {@code /metrics}, which must have it. */
    private static double metric(LocalCluster cluster, int node, String name) throws Exception {
        return cluster.metric(node, name, null).orElseThrow(() -> new AssertionError(name + " is not in the metrics of broker " + node));
    }
}
