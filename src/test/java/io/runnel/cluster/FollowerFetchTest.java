package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Consumers fetch from the closest replica (KIP-392) on three brokers in three racks with Kafka's
 * RackAwareReplicaSelector: a consumer whose client.rack is a follower's rack is sent there by the leader and reads
 * every record from that follower (read_uncommitted and read_committed alike), while a consumer without a rack reads
 * from the leader. What each broker sent is its runnel_topic_records_out_total.
 */
class FollowerFetchTest {
    private static final int RECORDS = 200;

    @TempDir
    Path root;

    @Test
    void aConsumerInAFollowersRackReadsFromThatFollower() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--broker.rack=rack-{node}",
                "--replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector")) {
            int controller = cluster.clusterInfo(1).getInteger("controllerId");
            cluster.awaitLiveBrokers(controller, 3);
            TopicPartition tp = new TopicPartition("near", 0);
            TopicPartitionInfo info;
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("near", 1, (short) 3).configs(Map.of("min.insync.replicas", "2")))).all().get(30, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                    TopicDescription d = admin.describeTopics(List.of("near")).allTopicNames().get().get("near");
                    return d.partitions().get(0).isr().size() == 3;
                });
                info = admin.describeTopics(List.of("near")).allTopicNames().get().get("near").partitions().get(0);
            }
            int leader = info.leader().id();
            int follower = info.replicas().stream().map(Node::id).filter(id -> id != leader).findFirst().orElseThrow();
            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("near", 0, "k" + i, "v" + i));
                p.flush();
            }
            // The follower has the records below its high watermark once its next fetch brings the leader's.
            double leaderBefore = recordsOut(cluster, leader);
            for (String isolation : List.of("read_uncommitted", "read_committed")) {
                double followerBefore = recordsOut(cluster, follower);
                try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of(ConsumerConfig.CLIENT_RACK_CONFIG,
                        "rack-" + follower, ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))) {
                    c.assign(List.of(tp));
                    c.seekToBeginning(List.of(tp));
                    List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, RECORDS);
                    assertThat(got).extracting(ConsumerRecord::value).as(isolation).containsExactlyElementsOf(
                            java.util.stream.IntStream.range(0, RECORDS).mapToObj(i -> "v" + i).toList());
                }
                assertThat(recordsOut(cluster, follower) - followerBefore).as("records the follower sent (%s)", isolation).isEqualTo(RECORDS);
            }
            assertThat(recordsOut(cluster, leader)).as("records the leader sent to rack-aware consumers").isEqualTo(leaderBefore);
            // A consumer without a rack reads from the leader.
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                assertThat(KafkaClients.pollAtLeast(c, RECORDS)).hasSize(RECORDS);
            }
            assertThat(recordsOut(cluster, leader) - leaderBefore).isEqualTo(RECORDS);
        }
    }

    /** runnel_topic_records_out_total{topic="near"} of broker {@code node} (0 before its first record out). */
    private static double recordsOut(LocalCluster cluster, int node) throws Exception {
        return cluster.metric(node, "runnel_topic_records_out_total", "topic=\"near\"").orElse(0);
    }
}
