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
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A share group on three brokers: the partition's leader keeps the group's delivery state at the share coordinator
 * (the leader of its {@code __share_group_state} partition, replicated three ways), so killing the leader with
 * records accepted and records in flight loses neither: the new leader reads the state back, accepted records never
 * come again and those held by the dead leader's member are delivered again, as are records written after the kill.
 * The group's configuration, set through one broker, is known to every broker.
 */
class ShareGroupFailoverTest {
    private static final TopicPartition QUEUE = new TopicPartition("queue", 0);
    private static final ConfigResource GROUP = new ConfigResource(ConfigResource.Type.GROUP, "workers");

    @TempDir
    Path root;

    private static KafkaShareConsumer<String, String> consumer(String bootstrap, String mode) {
        return KafkaClients.shareConsumer(bootstrap, "workers", Map.of("share.acknowledgement.mode", mode));
    }

    private static void produce(String bootstrap, int from, int to) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of("acks", "all"))) {
            for (int i = from; i < to; i++) p.send(new ProducerRecord<>(QUEUE.topic(), 0, null, "r" + i));
            p.flush();
        }
    }

    @Test
    void killingThePartitionLeaderKeepsAcceptedRecordsDoneAndTheRestDeliverable() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--group.share.heartbeat.interval.ms=500", "--group.share.session.timeout.ms=10000")) {
            String bootstrap = cluster.bootstrap();
            int leader;
            try (Admin admin = KafkaClients.admin(bootstrap)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic(QUEUE.topic(), 1, (short) 3))).all().get(30, TimeUnit.SECONDS);
                produce(bootstrap, 0, 100);
                // The group reads from the start (its coordinator initializes the state at its share coordinator).
                admin.alterShareGroupOffsets("workers", Map.of(QUEUE, 0L)).all().get(30, TimeUnit.SECONDS);
                // A group configuration is cluster metadata: set through one broker, every broker knows it.
                admin.incrementalAlterConfigs(Map.of(GROUP, List.of(new AlterConfigOp(new ConfigEntry("share.delivery.count.limit", "4"),
                        AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
                Map<TopicPartition, SharePartitionOffsetInfo> start = admin.listShareGroupOffsets(Map.of("workers", new ListShareGroupOffsetsSpec()))
                        .partitionsToOffsetInfo("workers").get(30, TimeUnit.SECONDS);
                assertThat(start.get(QUEUE).startOffset()).isEqualTo(0L);
                leader = admin.describeTopics(List.of(QUEUE.topic())).allTopicNames().get().get(QUEUE.topic()).partitions().get(0).leader().id();
            }

            List<String> accepted = new ArrayList<>();
            List<String> held = new ArrayList<>();
            KafkaShareConsumer<String, String> first = consumer(bootstrap, "explicit");
            try {
                first.subscribe(List.of(QUEUE.topic()));
                List<ConsumerRecord<String, String>> got = new ArrayList<>();
                await().atMost(Duration.ofSeconds(60)).until(() -> {
                    first.poll(Duration.ofMillis(200)).forEach(got::add);
                    return !got.isEmpty();
                });
                for (ConsumerRecord<String, String> r : got) {
                    if (accepted.size() < got.size() / 2) {
                        first.acknowledge(r, AcknowledgeType.ACCEPT);
                        accepted.add(r.value());
                    } else {
                        held.add(r.value());
                    }
                }
                first.commitSync(Duration.ofSeconds(30)).forEach((tp, e) -> assertThat(e).as("acknowledgement of %s", tp).isEmpty());
                assertThat(accepted).isNotEmpty();
                assertThat(held).as("records the member holds when its leader dies").isNotEmpty();

                cluster.broker(leader).kill9();
                produce(bootstrap, 100, 150);

                // Another member reads what is left; the first one, whose leader died, takes nothing more.
                List<String> rest = new ArrayList<>();
                List<Short> counts = new ArrayList<>();
                try (KafkaShareConsumer<String, String> second = consumer(bootstrap, "implicit")) {
                    second.subscribe(List.of(QUEUE.topic()));
                    await().atMost(Duration.ofSeconds(90)).until(() -> {
                        for (ConsumerRecord<String, String> r : second.poll(Duration.ofMillis(200))) {
                            rest.add(r.value());
                            if (held.contains(r.value())) counts.add(r.deliveryCount().orElse((short) -1));
                        }
                        return rest.size() >= 150 - accepted.size();
                    });
                    assertThat(second.poll(Duration.ofSeconds(1))).as("nothing more").isEmpty();
                }
                assertThat(rest).as("every record not accepted, once; no accepted one again").doesNotHaveDuplicates()
                        .hasSize(150 - accepted.size()).doesNotContainAnyElementsOf(accepted).containsAll(held);
                assertThat(counts).as("the held records' second delivery").containsOnly((short) 2);
            } finally {
                first.close(Duration.ofSeconds(5));
            }
            for (int id = 1; id <= cluster.size(); id++) {
                if (id == leader) continue;
                try (Admin one = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                    ConfigEntry limit = one.describeConfigs(List.of(GROUP)).all().get(30, TimeUnit.SECONDS).get(GROUP).get("share.delivery.count.limit");
                    assertThat(limit.value()).as("broker %d", id).isEqualTo("4");
                    assertThat(limit.source()).isEqualTo(ConfigEntry.ConfigSource.DYNAMIC_GROUP_CONFIG);
                }
            }
            try (Admin admin = KafkaClients.admin(bootstrap)) {
                // The share state is written as Kafka's share coordinator writes it: three replicas, two in sync at least.
                ConfigResource state = new ConfigResource(ConfigResource.Type.TOPIC, "__share_group_state");
                assertThat(admin.describeConfigs(List.of(state)).all().get(30, TimeUnit.SECONDS).get(state).get("min.insync.replicas").value())
                        .isEqualTo("2");
                assertThat(admin.describeTopics(List.of(state.name())).allTopicNames().get(30, TimeUnit.SECONDS).get(state.name()).partitions().get(0)
                        .replicas()).hasSize(3);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(admin.listShareGroupOffsets(Map.of("workers",
                                new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo("workers").get(30, TimeUnit.SECONDS).get(QUEUE).startOffset())
                        .as("everything delivered and accepted").isEqualTo(150L));
            }
        }
    }
}
