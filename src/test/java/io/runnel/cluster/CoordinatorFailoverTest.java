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
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A consumer group's coordinator moves with its __consumer_offsets partition (replicated three ways): the group
 * commits half of a topic, the coordinator's broker is killed, and a new member of the group, coordinated by the
 * broker that now leads that partition, resumes exactly at the committed offsets.
 */
class CoordinatorFailoverTest {
    private static final int RECORDS = 300;

    @TempDir
    Path root;

    @Test
    void committedOffsetsSurviveTheLossOfTheCoordinatorsBroker() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic("jobs", 3, (short) 3))).all().get(30, TimeUnit.SECONDS);
            }
            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.bootstrap(), Map.of())) {
                for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("jobs", "k" + i, "v" + i));
                p.flush();
            }
            Set<String> first = new HashSet<>();
            try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(cluster.bootstrap(), "classic", "workers",
                    Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10))) {
                c.subscribe(List.of("jobs"));
                while (first.size() < RECORDS / 2) {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) first.add(r.value());
                }
                c.commitSync(); // everything polled so far
            }
            int coordinator;
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                coordinator = admin.describeConsumerGroups(List.of("workers")).all().get().get("workers").coordinator().id();
                long committed = admin.listConsumerGroupOffsets("workers").partitionsToOffsetAndMetadata().get().values().stream()
                        .mapToLong(o -> o.offset()).sum();
                assertThat(committed).isEqualTo(first.size());
            }
            cluster.broker(coordinator).kill9();
            List<String> rest = new ArrayList<>();
            try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(cluster.bootstrap(), "classic", "workers", Map.of())) {
                c.subscribe(List.of("jobs"));
                await().atMost(Duration.ofSeconds(90)).until(() -> {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) rest.add(r.value());
                    return first.size() + rest.size() >= RECORDS;
                });
            }
            // Nothing committed comes again, nothing is skipped: the new coordinator had every commit.
            assertThat(rest).doesNotHaveDuplicates().noneMatch(first::contains);
            assertThat(first.size() + rest.size()).isEqualTo(RECORDS);
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                int now = admin.describeConsumerGroups(List.of("workers")).all().get().get("workers").coordinator().id();
                assertThat(now).isNotEqualTo(coordinator);
            }
        }
    }
}
