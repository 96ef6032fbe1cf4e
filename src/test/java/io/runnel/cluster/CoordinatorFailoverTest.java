package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.runnel.testkit.RawKafkaClient;
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
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.MetadataResponse;
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
            int survivor = coordinator == 1 ? 2 : 1;
            // Until the controller moves the leadership off the dead broker, a survivor's Metadata names no leader
            // there: Kafka's LEADER_NOT_AVAILABLE, which makes a client ask again. A dead broker's id as leader, without
            // an error, left the consumer below validating its committed position against no leader for minutes.
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5)).until(() -> {
                try (RawKafkaClient raw = new RawKafkaClient(cluster.broker(survivor).kafkaBootstrap())) {
                    MetadataResponse r = raw.send(new MetadataRequest.Builder(List.of("jobs"), false).build());
                    Set<Integer> listed = new HashSet<>();
                    r.brokers().forEach(n -> listed.add(n.id()));
                    boolean moved = true;
                    for (MetadataResponse.PartitionMetadata p : r.topicMetadata().iterator().next().partitionMetadata()) {
                        if (p.leaderId.isPresent()) {
                            assertThat(listed).as("brokers listed with the leader of %s", p.topicPartition).contains(p.leaderId.get());
                            assertThat(p.error).isEqualTo(Errors.NONE);
                        } else {
                            assertThat(p.error).as("error of %s without a leader", p.topicPartition).isEqualTo(Errors.LEADER_NOT_AVAILABLE);
                            moved = false;
                        }
                    }
                    return moved && !listed.contains(coordinator);
                }
            });
            List<String> rest = new ArrayList<>();
            try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(cluster.bootstrap(), "classic", "workers", Map.of())) {
                c.subscribe(List.of("jobs"));
                try {
                    await().atMost(Duration.ofSeconds(90)).until(() -> {
                        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) rest.add(r.value());
                        return first.size() + rest.size() >= RECORDS;
                    });
                } catch (org.awaitility.core.ConditionTimeoutException e) {
                    throw new AssertionError("after killing broker " + coordinator + " (the coordinator): " + (first.size() + rest.size())
                            + " of " + RECORDS + " records;\nthe consumer holds " + c.assignment() + " at " + positions(c) + state(cluster, coordinator), e);
                }
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

    private static String positions(KafkaConsumer<String, String> c) {
        List<String> out = new ArrayList<>();
        try {
            for (var tp : c.assignment()) out.add(tp.partition() + "=" + c.position(tp, Duration.ofSeconds(5)));
        } catch (RuntimeException e) {
            out.add(e.toString());
        }
        return out.toString();
    }

    /** What the surviving brokers say of the topic, the group and the controller, a short line each, for a failure's message. */
    private static String state(LocalCluster cluster, int dead) {
        StringBuilder out = new StringBuilder();
        for (int id = 1; id <= cluster.size(); id++) {
            if (id == dead) continue;
            out.append("\nbroker ").append(id).append(": ");
            try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                out.append("controller ").append(cluster.clusterInfo(id).getInteger("controllerId"));
                for (var p : admin.describeTopics(List.of("jobs")).allTopicNames().get(10, TimeUnit.SECONDS).get("jobs").partitions()) {
                    out.append("\n  jobs-").append(p.partition()).append(" leader ").append(p.leader() == null ? "none" : p.leader().id())
                            .append(" isr ").append(p.isr().stream().map(n -> n.id()).toList());
                }
                var g = admin.describeConsumerGroups(List.of("workers")).all().get(10, TimeUnit.SECONDS).get("workers");
                out.append("\n  group ").append(g.groupState()).append(" at ").append(g.coordinator().id()).append(", members ")
                        .append(g.members().stream().map(m -> m.assignment().topicPartitions()).toList());
                out.append("\n  committed ").append(admin.listConsumerGroupOffsets("workers").partitionsToOffsetAndMetadata()
                        .get(10, TimeUnit.SECONDS).entrySet().stream().map(e -> e.getKey().partition() + "=" + e.getValue().offset()).toList());
            } catch (Exception e) {
                out.append(e);
            }
        }
        return out.toString();
    }
}
