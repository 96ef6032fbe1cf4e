package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.runnel.testkit.TestFiles;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Node;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In a three-broker cluster, the leader's replica of a partition is taken offline by an I/O error (its directory
 * vanishes, so the next segment cannot be created): the broker reports it, the controller moves leadership to an
 * in-sync replica and takes the offline one out of the ISR, as Kafka's controller does for a failed log directory.
 * An idempotent acks=all producer goes on through it (its retries reach the new leader); nothing acknowledged is
 * lost or written twice.
 */
class OfflineReplicaFailoverTest {
    private static final String TOPIC = "fragile";

    @TempDir
    Path root;

    @Test
    void aLeaderWhoseReplicaGoesOfflineHandsOverAndNothingAcknowledgedIsLost() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic(TOPIC, 1, (short) 3).configs(Map.of("min.insync.replicas", "2", "segment.bytes", "65536"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            TopicPartitionInfo before = awaitFullIsr(cluster);
            int oldLeader = before.leader().id();
            String value = "v".repeat(4 * 1024);
            List<String> acked = new ArrayList<>();
            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                for (int i = 0; i < 5; i++) acked.add(send(p, "before-" + i + "-" + value));
                TestFiles.deleteTree(cluster.dataDir(oldLeader).resolve(TOPIC + "-0"));
                // 40 x 4 KB: past the 64 KB segment, so the old leader fails to roll and its replica goes offline.
                for (int i = 0; i < 40; i++) acked.add(send(p, "after-" + i + "-" + value));
            }

            TopicPartitionInfo[] seen = new TopicPartitionInfo[1];
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> {
                seen[0] = describe(cluster, oldLeader);
                assertThat(seen[0].leader().id()).as("the new leader").isNotEqualTo(oldLeader);
                assertThat(seen[0].isr().stream().map(Node::id).toList()).as("the ISR without the offline replica").doesNotContain(oldLeader)
                        .hasSize(2);
            });
            TopicPartitionInfo after = seen[0];
            HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + cluster.broker(oldLeader).httpPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.body()).as("the old leader's /metrics").contains("runnel_offline_replicas 1.0");

            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.broker(after.leader().id()).kafkaBootstrap(), Map.of())) {
                TopicPartition tp = new TopicPartition(TOPIC, 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                assertThat(KafkaClients.pollAtLeast(c, acked.size()).stream().map(ConsumerRecord::value).toList())
                        .as("every acknowledged record, once, in order").containsExactlyElementsOf(acked);
            }
        }
    }

    private static String send(KafkaProducer<String, String> p, String v) throws Exception {
        p.send(new ProducerRecord<>(TOPIC, "k", v)).get(60, TimeUnit.SECONDS);
        return v;
    }

    private static TopicPartitionInfo awaitFullIsr(LocalCluster cluster) {
        TopicPartitionInfo[] out = new TopicPartitionInfo[1];
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
            out[0] = describe(cluster, 1);
            assertThat(out[0].leader()).isNotNull();
            assertThat(out[0].isr()).hasSize(3);
        });
        return out[0];
    }

    private static TopicPartitionInfo describe(LocalCluster cluster, int via) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
            return admin.describeTopics(List.of(TOPIC)).allTopicNames().get(10, TimeUnit.SECONDS).get(TOPIC).partitions().get(0);
        }
    }
}
