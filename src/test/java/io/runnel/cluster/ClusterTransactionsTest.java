package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transactions in a three-broker cluster: a transaction spans partitions led by every broker, so the coordinator
 * writes most of its markers through WriteTxnMarkers to other brokers; read_committed consumers see the committed
 * transactions only. Then the coordinator's broker is killed: the broker that takes over its __transaction_state
 * partition (replicated three ways) knows the transactional id, and a new producer with that id carries on.
 */
class ClusterTransactionsTest {
    private static final int PARTITIONS = 6;

    @TempDir
    Path root;

    @Test
    void transactionsSpanningEveryBrokerCommitAtomicallyAndSurviveTheLossOfTheCoordinator() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic("ledger", PARTITIONS, (short) 3))).all().get(30, TimeUnit.SECONDS);
                // Any broker may answer: wait until the one asked has the topic (CreateTopics waited for its own broker only).
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> {
                    Set<Integer> leaders = new HashSet<>();
                    for (TopicPartitionInfo p : admin.describeTopics(List.of("ledger")).allTopicNames().get(10, TimeUnit.SECONDS).get("ledger").partitions()) {
                        leaders.add(p.leader().id());
                    }
                    assertThat(leaders).as("the partitions' leaders").hasSize(3);
                });
            }
            try (KafkaProducer<String, String> p = producer(cluster)) {
                p.initTransactions();
                p.beginTransaction();
                for (int i = 0; i < PARTITIONS; i++) p.send(new ProducerRecord<>("ledger", i, "k", "committed-" + i));
                p.commitTransaction();
                p.beginTransaction();
                for (int i = 0; i < PARTITIONS; i++) p.send(new ProducerRecord<>("ledger", i, "k", "aborted-" + i));
                p.flush();
                p.abortTransaction();
            }
            assertThat(readCommitted(cluster)).containsExactlyInAnyOrder("committed-0", "committed-1", "committed-2", "committed-3",
                    "committed-4", "committed-5");

            cluster.broker(coordinatorFromMetadata(cluster)).kill9();
            try (KafkaProducer<String, String> p = producer(cluster)) {
                p.initTransactions(); // the new coordinator has the id's state: a bumped epoch
                p.beginTransaction();
                p.send(new ProducerRecord<>("ledger", 0, "k", "after-failover"));
                p.commitTransaction();
            }
            assertThat(readCommitted(cluster)).contains("after-failover").noneMatch(v -> v.startsWith("aborted"));
        }
    }

    /** The leader of the transactional id's __transaction_state partition, found as Kafka's FindCoordinator does. */
    private static int coordinatorFromMetadata(LocalCluster cluster) throws Exception {
        int partition = Utils.abs("ledger-app".hashCode()) % 5; // transaction.state.log.num.partitions of the test brokers
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            Node[] leader = new Node[1];
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                leader[0] = admin.describeTopics(List.of("__transaction_state")).allTopicNames().get(10, TimeUnit.SECONDS).get("__transaction_state")
                        .partitions().get(partition).leader();
                return leader[0] != null;
            });
            return leader[0].id();
        }
    }

    private static KafkaProducer<String, String> producer(LocalCluster cluster) throws Exception {
        return KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "ledger-app",
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 90_000, ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 90_000));
    }

    private static List<String> readCommitted(LocalCluster cluster) throws Exception {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < PARTITIONS; i++) tps.add(new TopicPartition("ledger", i));
            c.assign(tps);
            c.seekToBeginning(tps);
            List<String> out = new ArrayList<>();
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                Map<TopicPartition, Long> end = c.endOffsets(tps);
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r.value());
                return tps.stream().allMatch(tp -> c.position(tp) >= end.get(tp)) && end.values().stream().mapToLong(Long::longValue).sum() > 0;
            });
            return out;
        }
    }
}
