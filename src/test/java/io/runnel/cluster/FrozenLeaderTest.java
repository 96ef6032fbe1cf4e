package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader frozen (SIGSTOP) for longer than the failure detector waits: the other two elect a new leader and
 * acknowledge more records; the old leader wakes with stale metadata, is sent records directly, merges back,
 * truncates what it alone had and follows. Every acknowledged record is there once, whichever broker is asked.
 * (An earlier run of this scenario lost acknowledged records: producer ids were not unique in the cluster.)
 */
class FrozenLeaderTest {
    @TempDir
    Path root;

    @Test
    void aFrozenLeaderThatWakesAfterANewElectionLosesNoAcknowledgedRecord() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("frozen", 1, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            int oldLeader = awaitFullIsr(cluster).leader().id();
            List<Integer> others = IntStream.rangeClosed(1, 3).filter(id -> id != oldLeader).boxed().toList();
            List<String> acked = new ArrayList<>();
            produce(cluster.bootstrap(), "before", acked);

            cluster.broker(oldLeader).pause();
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                TopicPartitionInfo p = describe(cluster, others.get(0));
                assertThat(p.leader()).isNotNull();
                assertThat(p.leader().id()).isNotEqualTo(oldLeader);
            });
            produce(cluster.broker(others.get(0)).kafkaBootstrap() + "," + cluster.broker(others.get(1)).kafkaBootstrap(), "during", acked);
            cluster.broker(oldLeader).unpause();

            // Straight to the woken broker, without retries: whatever it acknowledges must survive too.
            Map<String, Object> strict = Map.of(ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
                    ProducerConfig.RETRIES_CONFIG, 0, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000, ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 15_000,
                    ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.broker(oldLeader).kafkaBootstrap(), strict)) {
                for (int i = 0; i < 2; i++) {
                    try {
                        p.send(new ProducerRecord<>("frozen", "k", "woken-" + i)).get(30, TimeUnit.SECONDS);
                        acked.add("woken-" + i);
                    } catch (ExecutionException | TimeoutException e) {
                        // not acknowledged: it may be gone
                    }
                }
            }
            awaitFullIsr(cluster);
            produce(cluster.bootstrap(), "after", acked);

            for (int via = 1; via <= 3; via++) {
                try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.broker(via).kafkaBootstrap(), Map.of())) {
                    TopicPartition tp = new TopicPartition("frozen", 0);
                    c.assign(List.of(tp));
                    c.seekToBeginning(List.of(tp));
                    List<String> values = KafkaClients.pollAtLeast(c, acked.size()).stream().map(ConsumerRecord::value).toList();
                    assertThat(values).as("read through broker %d", via).containsAll(acked).doesNotHaveDuplicates();
                }
            }
        }
    }

    /** Ten records with an idempotent acks=all producer of its own; each acknowledged one is added to {@code acked}. */
    private static void produce(String bootstrap, String prefix, List<String> acked) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>("frozen", "k", prefix + "-" + i)).get(60, TimeUnit.SECONDS);
                acked.add(prefix + "-" + i);
            }
        }
    }

    private static TopicPartitionInfo describe(LocalCluster cluster, int via) throws Exception {
        Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap());
        try {
            return admin.describeTopics(List.of("frozen")).allTopicNames().get(10, TimeUnit.SECONDS).get("frozen").partitions().get(0);
        } finally {
            admin.close(Duration.ofSeconds(1)); // a frozen broker never answers
        }
    }

    private static TopicPartitionInfo awaitFullIsr(LocalCluster cluster) {
        TopicPartitionInfo[] seen = new TopicPartitionInfo[1];
        await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            for (int via = 1; via <= 3; via++) {
                TopicPartitionInfo p = describe(cluster, via);
                assertThat(p.isr()).as("ISR seen by %d", via).hasSize(3);
                seen[0] = p;
            }
        });
        return seen[0];
    }
}
