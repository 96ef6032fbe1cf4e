package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.PreferredLeaderNotAvailableException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Preferred leaders come back after a broker returns: on request (Admin electLeaders, Kafka's ElectLeaders API) with
 * the automatic rebalance off, and by themselves with it on. A partition's preferred leader is its first replica.
 */
class PreferredLeaderTest {
    @TempDir
    Path root;

    @Test
    void electLeadersMovesLeadershipBackToThePreferredReplica() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--auto.leader.rebalance.enable=false")) {
            createTopic(cluster);
            TopicPartitionInfo p0 = awaitFullIsr(cluster).get(0);
            int preferred = p0.replicas().get(0).id();
            assertThat(p0.leader().id()).isEqualTo(preferred);
            cluster.broker(preferred).kill9();
            int via = preferred % 3 + 1;
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                    assertThat(describe(cluster, via).get(0).leader().id()).isNotEqualTo(preferred));
            try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
                // The preferred replica is down: it cannot lead.
                Map<TopicPartition, Optional<Throwable>> r = admin.electLeaders(ElectionType.PREFERRED, Set.of(new TopicPartition("preferred", 0)))
                        .partitions().get(30, TimeUnit.SECONDS);
                assertThat(r.get(new TopicPartition("preferred", 0))).containsInstanceOf(PreferredLeaderNotAvailableException.class);
            }
            cluster.restart(preferred);
            awaitFullIsr(cluster);
            assertThat(describe(cluster, via).get(0).leader().id()).as("no automatic rebalance").isNotEqualTo(preferred);

            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                Map<TopicPartition, Optional<Throwable>> r = admin.electLeaders(ElectionType.PREFERRED, null).partitions().get(30, TimeUnit.SECONDS);
                assertThat(r.get(new TopicPartition("preferred", 0))).as("elected").isEmpty();
                for (int p = 1; p < 3; p++) {
                    TopicPartitionInfo info = describe(cluster, via).get(p);
                    if (info.leader().id() == info.replicas().get(0).id()) {
                        assertThat(r.get(new TopicPartition("preferred", p))).containsInstanceOf(ElectionNotNeededException.class);
                    }
                }
            }
            awaitPreferredLeaders(cluster);
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                producer.send(new ProducerRecord<>("preferred", 0, "k", "after the election")).get(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theAutomaticRebalanceBringsPreferredLeadersBack() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--leader.imbalance.check.interval.seconds=2",
                "--leader.imbalance.per.broker.percentage=0")) {
            createTopic(cluster);
            int preferred = awaitFullIsr(cluster).get(0).replicas().get(0).id();
            cluster.broker(preferred).kill9();
            int via = preferred % 3 + 1;
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                    assertThat(describe(cluster, via).get(0).leader().id()).isNotEqualTo(preferred));
            cluster.restart(preferred);
            awaitPreferredLeaders(cluster); // once back in the ISR, the controller moves leadership back by itself
        }
    }

    private static void createTopic(LocalCluster cluster) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            admin.createTopics(List.of(new NewTopic("preferred", 3, (short) 3))).all().get(30, TimeUnit.SECONDS);
        }
    }

    private static Map<Integer, TopicPartitionInfo> describe(LocalCluster cluster, int via) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
            Map<Integer, TopicPartitionInfo> out = new HashMap<>();
            for (TopicPartitionInfo p : admin.describeTopics(List.of("preferred")).allTopicNames().get(10, TimeUnit.SECONDS).get("preferred").partitions()) {
                out.put(p.partition(), p);
            }
            return out;
        }
    }

    private static Map<Integer, TopicPartitionInfo> awaitFullIsr(LocalCluster cluster) {
        Map<Integer, TopicPartitionInfo> seen = new HashMap<>();
        await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            for (int via = 1; via <= 3; via++) {
                for (TopicPartitionInfo p : describe(cluster, via).values()) {
                    assertThat(p.isr().stream().map(Node::id)).as("ISR of %d seen by %d", p.partition(), via).containsExactlyInAnyOrder(1, 2, 3);
                    seen.put(p.partition(), p);
                }
            }
        });
        return seen;
    }

    private static void awaitPreferredLeaders(LocalCluster cluster) {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
            for (int via = 1; via <= 3; via++) {
                for (TopicPartitionInfo p : describe(cluster, via).values()) {
                    assertThat(p.leader().id()).as("leader of %d seen by %d", p.partition(), via).isEqualTo(p.replicas().get(0).id());
                }
            }
        });
    }
}
