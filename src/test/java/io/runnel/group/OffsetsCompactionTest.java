package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** __consumer_offsets is compacted: many commits of one offset shrink to the latest, which survives a restart. */
class OffsetsCompactionTest {
    @TempDir
    Path data;

    @Test
    void repeatedCommitsAreCompactedToTheLatest() throws Exception {
        Map<String, String> config = Map.of("offsets.topic.num.partitions", "1", "offsets.topic.segment.bytes", "2048");
        Broker broker = Brokers.start(data, config, Time.SYSTEM);
        TopicPartition tp = new TopicPartition("t", 0);
        try {
            Brokers.await(broker.topicAdmin().createTopic("t", 1, Map.of()));
            try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
                for (int i = 1; i <= 300; i++) admin.alterConsumerGroupOffsets("busy", Map.of(tp, new OffsetAndMetadata(i))).all().get();
            }
            var offsets = broker.topics().partition(GroupCoordinator.OFFSETS_TOPIC, 0).orElseThrow();
            // 300 commits of ~100 bytes fill ~15 segments; compaction after each roll leaves about one record per closed segment.
            await().atMost(Duration.ofSeconds(30)).until(() -> Brokers.await(offsets.sizeInBytes()) < 300 * 100 / 4);
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
        broker = Brokers.start(data, config, Time.SYSTEM);
        try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
            assertThat(admin.listConsumerGroupOffsets("busy").partitionsToOffsetAndMetadata().get().get(tp).offset()).isEqualTo(300);
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }
}
