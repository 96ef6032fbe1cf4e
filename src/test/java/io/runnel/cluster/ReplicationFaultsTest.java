package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
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
import org.apache.kafka.common.errors.NotEnoughReplicasAfterAppendException;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Frozen brokers (SIGSTOP), one partition with three replicas and min.insync.replicas=2: a frozen follower leaves
 * the ISR and acks=all carries on with the other two; with both followers frozen, acks=all is not acknowledged
 * (NOT_ENOUGH_REPLICAS, or a timeout when the controller has no majority to shrink the ISR with); resumed followers
 * catch up and rejoin the ISR, and every acknowledged record is still there. (A frozen leader woken after a new
 * election: FrozenLeaderTest.)
 */
class ReplicationFaultsTest {
    @TempDir
    Path root;

    @Test
    void frozenFollowersLeaveTheIsrAndAcksAllIsRefusedRatherThanAcknowledgedByTooFewReplicas() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--replica.lag.time.max.ms=3000")) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic("frozen", 1, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            TopicPartitionInfo p = awaitIsr(cluster, 3);
            int firstLeader = p.leader().id();
            List<Integer> followers = p.replicas().stream().map(Node::id).filter(id -> id != firstLeader).toList();
            int leader = firstLeader;
            Map<String, Object> strict = Map.of(ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
                    ProducerConfig.RETRIES_CONFIG, 0, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 20_000, ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 25_000);
            int acked = 0;
            boolean neverWritten;
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.broker(leader).kafkaBootstrap(), strict)) {
                producer.send(new ProducerRecord<>("frozen", "k", "v" + acked++)).get();

                cluster.broker(followers.get(0)).pause();
                awaitIsrWithout(cluster, leader, followers.get(0)); // fell behind for replica.lag.time.max.ms
                producer.send(new ProducerRecord<>("frozen", "k", "v" + acked++)).get(30, TimeUnit.SECONDS); // leader + one follower suffice

                // Both followers frozen: the leader is alone and acks=all must not be acknowledged. Either the ISR shrank
                // to the leader first (NOT_ENOUGH_REPLICAS before the write, min.insync.replicas=2, or after it), or the
                // controller, which needs a majority of the registered brokers, could not shrink it and the request
                // times out. Only a record refused before the write is sure to be absent; the fate of a timed-out one
                // is unknown to the producer, as in Kafka.
                cluster.broker(followers.get(1)).pause();
                ExecutionException refused = catchThrowableOfType(ExecutionException.class,
                        () -> producer.send(new ProducerRecord<>("frozen", "k", "never")).get(30, TimeUnit.SECONDS));
                assertThat(refused).as("acks=all with the leader alone").isNotNull();
                assertThat(refused.getCause()).isInstanceOfAny(NotEnoughReplicasException.class,
                        NotEnoughReplicasAfterAppendException.class, TimeoutException.class);
                neverWritten = refused.getCause() instanceof NotEnoughReplicasException;

                cluster.broker(followers.get(0)).unpause();
                cluster.broker(followers.get(1)).unpause();
            }
            // Woken, the two followers had formed the larger side of a split cluster (they may have elected one of
            // them leader, which the lone old leader, merged back, then follows); they catch up and are in sync again.
            awaitIsr(cluster, 3);
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                producer.send(new ProducerRecord<>("frozen", "k", "v" + acked++)).get(60, TimeUnit.SECONDS);
            }

            awaitIsr(cluster, 3);
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                TopicPartition tp = new TopicPartition("frozen", 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, acked);
                List<String> values = got.stream().map(ConsumerRecord::value).toList();
                for (int i = 0; i < acked; i++) assertThat(values).contains("v" + i); // every acknowledged record is there
                if (neverWritten) assertThat(values).doesNotContain("never");
            }
        }
    }

    private static TopicPartitionInfo describe(LocalCluster cluster, int via) throws Exception {
        // A frozen broker never answers: do not let the Admin wait for it when it closes.
        Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap());
        try {
            TopicDescription d = admin.describeTopics(List.of("frozen")).allTopicNames().get(10, TimeUnit.SECONDS).get("frozen");
            return d.partitions().get(0);
        } finally {
            admin.close(Duration.ofSeconds(1));
        }
    }

    private static TopicPartitionInfo awaitIsr(LocalCluster cluster, int size) {
        TopicPartitionInfo[] seen = new TopicPartitionInfo[1];
        await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            for (int via = 1; via <= 3; via++) {
                TopicPartitionInfo p = describe(cluster, via);
                assertThat(p.isr()).as("ISR seen by %d", via).hasSize(size);
                // A broker that has not yet heard of every other one lists the leader's id without its address: the
                // client shows no leader until then.
                assertThat(p.leader()).as("leader seen by %d", via).isNotNull();
                seen[0] = p;
            }
        });
        return seen[0];
    }

    private static void awaitIsrWithout(LocalCluster cluster, int via, int gone) {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                assertThat(describe(cluster, via).isr().stream().map(Node::id)).doesNotContain(gone));
    }
}
