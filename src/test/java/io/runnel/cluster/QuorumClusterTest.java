package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster with its own metadata quorum ({@code cluster.quorum.voters}): brokers 1 to 3 vote, broker 4 observes. The
 * quorum's leader is the controller; topics created through the observer reach every broker; when the controller is
 * killed, another voter takes over with a higher epoch and the metadata stays whole; the killed voter comes back from
 * its own log; nothing acknowledged is lost.
 */
class QuorumClusterTest {
    @TempDir
    Path root;

    @Test
    void theQuorumsLeaderControlsAndTheMetadataAndRecordsSurviveItsLoss() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 4, "--cluster.quorum.voters=1,2,3")) {
            JsonObject info = cluster.clusterInfo(4);
            assertThat(info.getJsonObject("metadataQuorum").getString("mode")).isEqualTo("quorum");
            int controller = info.getInteger("controllerId");
            assertThat(controller).as("a voter controls").isBetween(1, 3);

            try (Admin admin = KafkaClients.admin(cluster.broker(4).kafkaBootstrap())) {
                admin.createTopics(List.of(new NewTopic("ledger", 3, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            awaitTopicEverywhere(cluster, "ledger", 1, 2, 3, 4);
            List<String> acked = new ArrayList<>(produce(cluster.bootstrap(), "before", 150));

            long epochBefore = epoch(cluster, 4);
            cluster.broker(controller).kill9();
            int survivor = controller % 3 + 1;
            int[] next = {-1};
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                JsonObject now = cluster.clusterInfo(survivor);
                next[0] = now.getInteger("controllerId");
                assertThat(next[0]).as("a new controller among the voters left").isBetween(1, 3).isNotEqualTo(controller);
                assertThat(epoch(cluster, survivor)).isGreaterThan(epochBefore);
            });
            try (Admin admin = KafkaClients.admin(cluster.broker(4).kafkaBootstrap())) {
                admin.createTopics(List.of(new NewTopic("audit", 2, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(60, TimeUnit.SECONDS);
            }
            acked.addAll(produce(cluster.broker(4).kafkaBootstrap(), "after", 150));

            cluster.restart(controller);
            awaitTopicEverywhere(cluster, "audit", 1, 2, 3, 4);
            awaitTopicEverywhere(cluster, "ledger", controller);

            List<TopicPartition> partitions = IntStream.range(0, 3).mapToObj(p -> new TopicPartition("ledger", p)).toList();
            List<String> read = KafkaClients.readToEnd(cluster.bootstrap(), "read_uncommitted", partitions).stream().map(ConsumerRecord::value).toList();
            assertThat(read).as("every acknowledged record, once").containsExactlyInAnyOrderElementsOf(acked);
        }
    }

    private static List<String> produce(String bootstrap, String prefix, int count) throws Exception {
        List<String> acked = new ArrayList<>();
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true))) {
            for (int i = 0; i < count; i++) {
                String v = prefix + "-" + i;
                p.send(new ProducerRecord<>("ledger", "k" + (i % 7), v)).get(60, TimeUnit.SECONDS);
                acked.add(v);
            }
        }
        return acked;
    }

    /** The highest controller epoch broker {@code via} reports (its metadata quorum section). */
    private static long epoch(LocalCluster cluster, int via) throws Exception {
        return cluster.clusterInfo(via).getJsonObject("metadataQuorum").getLong("controllerEpoch");
    }

    /** Waits until each of {@code brokers} describes {@code topic} with a leader for every partition. */
    private static void awaitTopicEverywhere(LocalCluster cluster, String topic, int... brokers) {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
            for (int b : brokers) {
                try (Admin admin = KafkaClients.admin(cluster.broker(b).kafkaBootstrap())) {
                    var d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
                    Set<Integer> leaders = new HashSet<>();
                    d.partitions().forEach(p -> leaders.add(p.leader() == null ? -1 : p.leader().id()));
                    assertThat(leaders).as("leaders of %s seen by broker %d", topic, b).doesNotContain(-1);
                }
            }
        });
    }
}
