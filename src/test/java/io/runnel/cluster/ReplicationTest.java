package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
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
 * Replication across three broker JVMs: a topic with replication factor 3 and min.insync.replicas=2; an idempotent
 * producer with acks=all; the leader of a partition is killed with -9 and restarted, three times over. Afterwards
 * every acknowledged record is there exactly once and in order, and the restarted brokers are back in the ISR.
 */
class ReplicationTest {
    private static final int PER_ROUND = 300;

    @TempDir
    Path root;

    @Test
    void acknowledgedRecordsSurviveTheLossOfLeadersAndRestartedBrokersCatchUp() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic("replicated", 3, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            awaitFullIsr(cluster);
            int sent = 0;
            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
                for (int round = 0; round < 3; round++) {
                    for (int i = 0; i < PER_ROUND; i++, sent++) p.send(new ProducerRecord<>("replicated", "k" + (sent % 30), "v" + sent));
                    p.flush(); // every record so far is acknowledged by the in-sync replicas
                    int victim = leaderOf(cluster, round % 3);
                    cluster.broker(victim).kill9();
                    awaitNewLeader(cluster, round % 3, victim);
                    for (int i = 0; i < PER_ROUND; i++, sent++) p.send(new ProducerRecord<>("replicated", "k" + (sent % 30), "v" + sent));
                    p.flush(); // acknowledged by the two replicas left
                    cluster.restart(victim);
                    awaitFullIsr(cluster); // the restarted broker caught up and is in sync again
                }
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                List<TopicPartition> tps = List.of(new TopicPartition("replicated", 0), new TopicPartition("replicated", 1),
                        new TopicPartition("replicated", 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, sent);
                assertThat(got).hasSize(sent);
                assertThat(got.stream().map(ConsumerRecord::value).distinct().count()).isEqualTo(sent); // no duplicates
                Map<String, Integer> lastByKey = new HashMap<>();
                for (ConsumerRecord<String, String> r : got) { // per key (one partition each), in the order sent
                    int n = Integer.parseInt(r.value().substring(1));
                    assertThat(n).isGreaterThan(lastByKey.getOrDefault(r.key(), -1));
                    lastByKey.put(r.key(), n);
                }
            }
        }
    }

    private static Map<Integer, TopicPartitionInfo> describe(LocalCluster cluster, int via) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
            TopicDescription d = admin.describeTopics(List.of("replicated")).allTopicNames().get().get("replicated");
            Map<Integer, TopicPartitionInfo> out = new HashMap<>();
            for (TopicPartitionInfo p : d.partitions()) out.put(p.partition(), p);
            return out;
        }
    }

    private static int leaderOf(LocalCluster cluster, int partition) throws Exception {
        return describe(cluster, 1 + partition % 3).get(partition).leader().id();
    }

    private static void awaitNewLeader(LocalCluster cluster, int partition, int old) {
        int via = old % 3 + 1;
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            TopicPartitionInfo p = describe(cluster, via).get(partition);
            assertThat(p.leader()).isNotNull();
            assertThat(p.leader().id()).isNotEqualTo(old);
        });
    }

    private static void awaitFullIsr(LocalCluster cluster) {
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            for (int via = 1; via <= 3; via++) {
                for (TopicPartitionInfo p : describe(cluster, via).values()) {
                    assertThat(p.isr().stream().map(Node::id)).as("ISR of partition %d seen by %d", p.partition(), via)
                            .containsExactlyInAnyOrder(1, 2, 3);
                }
            }
        });
    }
}
