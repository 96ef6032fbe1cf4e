package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fourth broker joins a running three-broker cluster and is given a partition with AlterPartitionReassignments
 * while an acks=all producer keeps writing to it: the new replica catches up, the reassignment completes (the
 * leader, which is moved away, hands over), the removed broker deletes its copy, and after the one old replica
 * left is killed, the new broker alone serves every acknowledged record, once and in order.
 */
class ReassignmentTest {
    /**
     * Kafka's stray replicas: a partition is moved away from a broker while that broker is down. When it comes back,
     * nothing that ended while it was away tells it to delete its copy; the metadata it receives names other replicas
     * at a newer epoch than its own file, so it deletes the copy. The moved partition keeps every record.
     */
    @Test
    void aCopyMovedAwayWhileItsBrokerWasDownIsDeletedWhenItReturns() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            TopicPartition tp = new TopicPartition("strayed", 0);
            List<Integer> replicas;
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("strayed", 1, (short) 2))).all().get(30, TimeUnit.SECONDS);
                replicas = await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> admin.describeTopics(List.of("strayed"))
                        .allTopicNames().get().get("strayed").partitions().get(0).replicas().stream().map(Node::id).toList(), r -> r.size() == 2);
            }
            int away = replicas.get(1); // a follower: the leader stays where it is
            int staying = replicas.get(0);
            int target = 6 - away - staying;
            List<String> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                for (int i = 0; i < 500; i++) {
                    producer.send(new ProducerRecord<>("strayed", 0, null, "r" + i)).get(30, TimeUnit.SECONDS);
                    acked.add("r" + i);
                }
            }
            assertThat(Files.exists(cluster.dataDir(away).resolve("strayed-0"))).isTrue();
            cluster.broker(away).kill9();
            try (Admin admin = KafkaClients.admin(cluster.broker(staying).kafkaBootstrap())) {
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> admin.describeCluster().nodes().get().size() == 2);
                // Asked again if the request is lost to a controller change (the killed broker may have been the controller).
                await().atMost(Duration.ofSeconds(90)).ignoreExceptions().until(() -> {
                    admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(staying, target))))).all().get(20, TimeUnit.SECONDS);
                    return true;
                });
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                    assertThat(admin.listPartitionReassignments().reassignments().get(10, TimeUnit.SECONDS)).isEmpty();
                    TopicPartitionInfo p = admin.describeTopics(List.of("strayed")).allTopicNames().get().get("strayed").partitions().get(0);
                    assertThat(p.replicas().stream().map(Node::id)).containsExactly(staying, target);
                });
            }
            cluster.restart(away);
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(Files.exists(cluster.dataDir(away).resolve("strayed-0"))).as("the returning broker's stray copy").isFalse());
            assertThat(KafkaClients.readToEnd(cluster.bootstrap(), "read_uncommitted", List.of(tp))).extracting(r -> r.value()).containsExactlyElementsOf(acked);
        }
    }

    private static final TopicPartition TP = new TopicPartition("moving", 0);

    @TempDir
    Path root;

    @Test
    void aPartitionMovesToANewBrokerUnderLoadWithoutLosingARecord() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("moving", 1, (short) 2))).all().get(30, TimeUnit.SECONDS);
            }
            List<String> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000))) {
                send(cluster, producer, 0, 3_000, acked); // about 3 MB for the new replica to catch up on
                int added = cluster.addBroker();
                TopicPartitionInfo before = describe(cluster, 1);
                int leaving = before.leader().id();
                int staying = before.replicas().stream().map(Node::id).filter(id -> id != leaving).findFirst().orElseThrow();
                try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                    await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 4);
                    admin.alterPartitionReassignments(Map.of(TP, Optional.of(new NewPartitionReassignment(List.of(added, staying)))))
                            .all().get(30, TimeUnit.SECONDS);
                    send(cluster, producer, 3_000, 4_000, acked); // the producer goes on while the partition moves
                    await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                        assertThat(admin.listPartitionReassignments().reassignments().get(10, TimeUnit.SECONDS)).isEmpty();
                        for (int via = 1; via <= 4; via++) {
                            TopicPartitionInfo p = describe(cluster, via);
                            assertThat(p.replicas().stream().map(Node::id)).as("replicas seen by %d", via).containsExactly(added, staying);
                            assertThat(p.isr().stream().map(Node::id)).as("ISR seen by %d", via).containsExactlyInAnyOrder(added, staying);
                        }
                    });
                }
                send(cluster, producer, 4_000, 4_100, acked);
                int removed = leaving;
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(Files.exists(cluster.dataDir(removed).resolve("moving-0"))).as("the removed replica's files").isFalse());

                // The old replica that stayed goes away: the new broker alone has everything acknowledged.
                cluster.broker(staying).kill9();
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                        assertThat(describe(cluster, added).leader().id()).isEqualTo(added));
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.broker(added(cluster)).kafkaBootstrap(), Map.of())) {
                c.assign(List.of(TP));
                c.seekToBeginning(List.of(TP));
                List<String> values = KafkaClients.pollAtLeast(c, acked.size()).stream().map(ConsumerRecord::value).toList();
                assertThat(values).containsExactlyElementsOf(acked);
            }
        }
    }

    /**
     * Retention has removed the start of a partition's log when it is moved: the new replica cannot fetch from
     * offset 0 and starts its log at the leader's log start, catches up and takes over.
     */
    @Test
    void aPartitionWhoseHeadRetentionRemovedMovesAndTheNewReplicaStartsAtTheLogStart() throws Exception {
        TopicPartition tp = new TopicPartition("trimmed", 0);
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--log.retention.check.interval.ms=200")) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("trimmed", 1, (short) 1).configs(Map.of("segment.bytes", "65536",
                        "retention.bytes", "131072")))).all().get(30, TimeUnit.SECONDS);
            }
            List<String> acked = new ArrayList<>();
            // Every broker knows the new topic before the producer starts: otherwise its first batch can meet a broker
            // that has not applied the topic yet (UNKNOWN_TOPIC_OR_PARTITION) while the next batches in flight are
            // appended, and the idempotent producer then retries its first batch forever (OUT_OF_ORDER_SEQUENCE_NUMBER).
            // That race is a broker bug of its own, not what this test is about.
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> {
                for (int via = 1; via <= cluster.size(); via++) assertThat(describe(cluster, via, "trimmed").leader()).isNotNull();
            });
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                sendTo(cluster, producer, "trimmed", 0, 1_000, acked); // about 1 MB: retention keeps the last 128 KiB or so
            }
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                long[] start = {0};
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    start[0] = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp)
                            .get(10, TimeUnit.SECONDS).offset();
                    assertThat(start[0]).as("log start after retention").isPositive();
                });
                int from = admin.describeTopics(List.of("trimmed")).allTopicNames().get().get("trimmed").partitions().get(0).leader().id();
                int to = from % 3 + 1;
                admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(to))))).all().get(30, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                    assertThat(admin.listPartitionReassignments().reassignments().get(10, TimeUnit.SECONDS)).isEmpty();
                    TopicPartitionInfo p = admin.describeTopics(List.of("trimmed")).allTopicNames().get().get("trimmed").partitions().get(0);
                    assertThat(p.replicas().stream().map(Node::id)).containsExactly(to);
                    assertThat(p.leader().id()).isEqualTo(to);
                });
                try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                    sendTo(cluster, producer, "trimmed", 1_000, 1_010, acked);
                }
                long startAfter = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp)
                        .get(10, TimeUnit.SECONDS).offset();
                assertThat(startAfter).as("the new replica's log starts where the leader's did, or later").isGreaterThanOrEqualTo(start[0]);
                try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.broker(to).kafkaBootstrap(), Map.of())) {
                    c.assign(List.of(tp));
                    c.seekToBeginning(List.of(tp));
                    List<String> expected = acked.subList((int) startAfter, acked.size());
                    List<String> values = KafkaClients.pollAtLeast(c, expected.size()).stream().map(ConsumerRecord::value).toList();
                    assertThat(values).containsExactlyElementsOf(expected); // everything from the log start on, in order
                }
            }
        }
    }

    private static int added(LocalCluster cluster) {
        return cluster.size();
    }

    /** Sends records {@code from} .. {@code to - 1} to moving-0 and waits until each is acknowledged. */
    private static void send(LocalCluster cluster, KafkaProducer<String, String> producer, int from, int to, List<String> acked) throws Exception {
        sendTo(cluster, producer, "moving", from, to, acked);
    }

    /**
     * Sends records {@code from} .. {@code to - 1} to partition 0 of {@code topic} and waits until each is acknowledged;
     * when one is not, the failure says how each broker of {@code cluster} saw the partition then (CI shows little
     * more than the failure's one line).
     */
    private static void sendTo(LocalCluster cluster, KafkaProducer<String, String> producer, String topic, int from, int to, List<String> acked)
            throws Exception {
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (int i = from; i < to; i++) futures.add(producer.send(new ProducerRecord<>(topic, 0, "k", value(i))));
        for (int i = 0; i < futures.size(); i++) {
            try {
                futures.get(i).get(120, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                StringBuilder seen = new StringBuilder();
                for (int via = 1; via <= cluster.size(); via++) {
                    try {
                        TopicPartitionInfo p = describe(cluster, via, topic);
                        seen.append(" broker ").append(via).append(": leader ").append(p.leader() == null ? -1 : p.leader().id())
                                .append(" replicas ").append(p.replicas().stream().map(Node::id).toList())
                                .append(" isr ").append(p.isr().stream().map(Node::id).toList()).append(';');
                    } catch (Exception x) {
                        seen.append(" broker ").append(via).append(": ").append(x).append(';');
                    }
                }
                throw new AssertionError("record " + (from + i) + " was not acknowledged (" + e.getCause() + "); " + topic + "-0 as seen by" + seen, e);
            }
            acked.add(value(from + i));
        }
    }

    private static String value(int i) {
        return "v" + i + "-" + "x".repeat(1_000);
    }

    private static TopicPartitionInfo describe(LocalCluster cluster, int via) throws Exception {
        return describe(cluster, via, "moving");
    }

    private static TopicPartitionInfo describe(LocalCluster cluster, int via, String topic) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
            return admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic).partitions().get(0);
        }
    }
}
