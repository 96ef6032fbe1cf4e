package io.runnel.kafka;

import static io.runnel.testkit.Failures.causeOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.SharedBroker;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.Test;

/** Admin operations and consumer positioning with unmodified kafka-clients 4.4.0. */
class AdminAndSeekTest extends SharedBroker {
    private static final long T0 = 1_700_000_000_000L;
    @Test
    void topicsAreCreatedDescribedGrownConfiguredAndDeleted() throws Exception {
        admin.createTopics(List.of(new NewTopic("adm", 2, (short) 1).configs(Map.of("retention.ms", "3600000")))).all().get();
        assertThat(admin.listTopics().names().get()).contains("adm");
        TopicDescription d = admin.describeTopics(List.of("adm")).allTopicNames().get().get("adm");
        assertThat(d.partitions()).hasSize(2);
        assertThat(d.partitions().get(0).leader().id()).isEqualTo(1);
        assertThat(d.partitions().get(0).isr()).extracting(n -> n.id()).containsExactly(1);
        assertThat(d.topicId()).isNotNull();

        admin.createPartitions(Map.of("adm", NewPartitions.increaseTo(4))).all().get();
        assertThat(admin.describeTopics(List.of("adm")).allTopicNames().get().get("adm").partitions()).hasSize(4);
        assertThat(causeOf(() -> admin.createPartitions(Map.of("adm", NewPartitions.increaseTo(3))).all().get()))
                .isInstanceOf(InvalidPartitionsException.class);

        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, "adm");
        Config config = admin.describeConfigs(List.of(res)).all().get().get(res);
        assertThat(config.get("retention.ms").value()).isEqualTo("3600000");
        assertThat(config.get("retention.ms").source()).isEqualTo(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        assertThat(config.get("segment.bytes").value()).isEqualTo("1073741824");
        admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(new ConfigEntry("segment.bytes", "1048576"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all().get();
        config = admin.describeConfigs(List.of(res)).all().get().get(res);
        assertThat(config.get("segment.bytes").value()).isEqualTo("1048576");
        assertThat(config.get("retention.ms").value()).isEqualTo(Long.toString(168 * 3_600_000L));
        assertThat(broker.topics().topic("adm").orElseThrow().config().logConfig().segmentBytes()).isEqualTo(1_048_576);
        assertThat(causeOf(() -> admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
                new ConfigEntry("segment.bytes", "tiny"), AlterConfigOp.OpType.SET)))).all().get())).isInstanceOf(InvalidConfigurationException.class);

        ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER, "1");
        Config brokerConfig = admin.describeConfigs(List.of(brokerRes)).all().get().get(brokerRes);
        assertThat(brokerConfig.get("log.segment.bytes").value()).isEqualTo("1073741824");
        assertThat(brokerConfig.get("auto.create.topics.enable").value()).isEqualTo("true");

        admin.deleteTopics(List.of("adm")).all().get();
        assertThat(admin.listTopics().names().get()).doesNotContain("adm");
        assertThat(causeOf(() -> admin.describeTopics(List.of("adm")).allTopicNames().get())).isInstanceOf(UnknownTopicOrPartitionException.class);
    }

    @Test
    void dynamicBrokerDefaultsApplyToTopicsWithoutOverridesAndSurviveInTheirFile() throws Exception {
        admin.createTopics(List.of(new NewTopic("dyn-plain", 1, (short) 1), new NewTopic("dyn-own", 1, (short) 1)
                .configs(Map.of("retention.ms", "5000")))).all().get();
        ConfigResource cluster = new ConfigResource(ConfigResource.Type.BROKER, "");
        ConfigResource self = new ConfigResource(ConfigResource.Type.BROKER, "1");
        admin.incrementalAlterConfigs(Map.of(cluster, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "120000"), AlterConfigOp.OpType.SET)))).all().get();
        admin.incrementalAlterConfigs(Map.of(self, List.of(new AlterConfigOp(new ConfigEntry("log.segment.bytes", "2097152"), AlterConfigOp.OpType.SET)))).all().get();
        try {
            ConfigResource plain = new ConfigResource(ConfigResource.Type.TOPIC, "dyn-plain");
            ConfigResource own = new ConfigResource(ConfigResource.Type.TOPIC, "dyn-own");
            var configs = admin.describeConfigs(List.of(plain, own, self)).all().get();
            assertThat(configs.get(plain).get("retention.ms").value()).isEqualTo("120000");
            assertThat(configs.get(plain).get("segment.bytes").value()).isEqualTo("2097152");
            assertThat(configs.get(own).get("retention.ms").value()).isEqualTo("5000");
            assertThat(configs.get(self).get("log.retention.ms").source()).isEqualTo(ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
            assertThat(configs.get(self).get("log.segment.bytes").source()).isEqualTo(ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG);
            assertThat(broker.topics().topic("dyn-plain").orElseThrow().config().logConfig().retentionMs()).isEqualTo(120_000);
            assertThat(Files.readString(data.resolve("dynamic-config.properties")))
                    .contains("default.log.retention.ms=120000").contains("broker.log.segment.bytes=2097152");
            assertThat(causeOf(() -> admin.incrementalAlterConfigs(Map.of(cluster, List.of(new AlterConfigOp(new ConfigEntry("num.partitions", "3"),
                    AlterConfigOp.OpType.SET)))).all().get())).isInstanceOf(InvalidConfigurationException.class).hasMessageContaining("cannot be changed");
            assertThat(causeOf(() -> admin.incrementalAlterConfigs(Map.of(cluster, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "soon"),
                    AlterConfigOp.OpType.SET)))).all().get())).isInstanceOf(InvalidConfigurationException.class);
        } finally {
            admin.incrementalAlterConfigs(Map.of(cluster, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE)),
                    self, List.of(new AlterConfigOp(new ConfigEntry("log.segment.bytes", ""), AlterConfigOp.OpType.DELETE)))).all().get();
        }
        assertThat(broker.topics().topic("dyn-plain").orElseThrow().config().logConfig().retentionMs()).isEqualTo(168 * 3_600_000L);
    }

    @Test
    void badTopicRequestsGetKafkasErrors() throws Exception {
        admin.createTopics(List.of(new NewTopic("exists", 1, (short) 1))).all().get();
        assertThat(causeOf(() -> admin.createTopics(List.of(new NewTopic("exists", 1, (short) 1))).all().get())).isInstanceOf(TopicExistsException.class);
        assertThat(causeOf(() -> admin.createTopics(List.of(new NewTopic("bad name!", 1, (short) 1))).all().get())).isInstanceOf(InvalidTopicException.class);
        assertThat(causeOf(() -> admin.createTopics(List.of(new NewTopic("rf3", 1, (short) 3))).all().get()))
                .isInstanceOf(InvalidReplicationFactorException.class);
        assertThat(causeOf(() -> admin.createTopics(List.of(new NewTopic("cfg", 1, (short) 1).configs(Map.of("no.such.key", "1")))).all().get()))
                .isInstanceOf(InvalidConfigurationException.class);
        admin.createTopics(List.of(new NewTopic("validated", 3, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all().get();
        assertThat(admin.listTopics().names().get()).doesNotContain("validated", "bad name!", "rf3", "cfg");
        assertThat(causeOf(() -> admin.deleteTopics(List.of("never-was")).all().get())).isInstanceOf(UnknownTopicOrPartitionException.class);
        assertThat(admin.describeCluster().nodes().get()).extracting(n -> n.id()).containsExactly(1);
        assertThat(admin.describeCluster().clusterId().get()).isEqualTo(broker.meta().clusterId());
    }

    @Test
    void consumersSeekToEarliestLatestAnOffsetAndATimestamp() throws Exception {
        String topic = "seek"; // auto-created by the producer's metadata request
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of())) {
            for (int i = 0; i < 100; i++) p.send(new ProducerRecord<>(topic, 0, T0 + i * 1000L, "k" + i, "v" + i)).get();
        }
        assertThat(broker.topics().topic(topic)).isPresent();
        TopicPartition tp = new TopicPartition(topic, 0);
        var offsets = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get();
        assertThat(offsets.get(tp).offset()).isZero();
        assertThat(admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset()).isEqualTo(100);
        assertThat(admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).all().get().get(tp).offset()).isEqualTo(99);
        assertThat(admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(T0 + 41_500))).all().get().get(tp).offset()).isEqualTo(42);

        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertThat(KafkaClients.pollAtLeast(c, 1).get(0).value()).isEqualTo("v0");
            c.seek(tp, 57);
            assertThat(KafkaClients.pollAtLeast(c, 1).get(0).offset()).isEqualTo(57);
            Map<TopicPartition, OffsetAndTimestamp> byTime = c.offsetsForTimes(Map.of(tp, T0 + 73_000L));
            assertThat(byTime.get(tp).offset()).isEqualTo(73);
            assertThat(byTime.get(tp).timestamp()).isEqualTo(T0 + 73_000L);
            c.seek(tp, byTime.get(tp).offset());
            ConsumerRecord<String, String> r = KafkaClients.pollAtLeast(c, 1).get(0);
            assertThat(r.value()).isEqualTo("v73");
            assertThat(c.offsetsForTimes(Map.of(tp, T0 + 1_000_000L)).get(tp)).isNull();
            c.seekToEnd(List.of(tp));
            assertThat(c.position(tp)).isEqualTo(100);
            assertThat(c.poll(Duration.ofMillis(300))).isEmpty();
            // Data produced after the consumer parked on the end is delivered by the long poll.
            try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of())) {
                p.send(new ProducerRecord<>(topic, 0, "late", "late-value")).get();
            }
            assertThat(KafkaClients.pollAtLeast(c, 1)).extracting(ConsumerRecord::value).containsExactly("late-value");
        }
    }
}
