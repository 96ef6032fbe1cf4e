package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.ManualTime;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Offsets of a group without members expire after offsets.retention.minutes, and stay expired after a restart. */
class OffsetExpiryTest {
    @TempDir
    Path data;

    @Test
    void offsetsOfEmptyGroupsExpireAndTheRemovalIsDurable() throws Exception {
        ManualTime time = new ManualTime(1_700_000_000_000L);
        Map<String, String> config = Map.of("offsets.retention.minutes", "10");
        Broker broker = Brokers.start(data, config, time);
        try {
            Brokers.await(broker.topicAdmin().createTopic("t", 2, Map.of()));
            TopicPartition p0 = new TopicPartition("t", 0);
            TopicPartition p1 = new TopicPartition("t", 1);
            try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
                admin.alterConsumerGroupOffsets("old", Map.of(p0, new OffsetAndMetadata(3))).all().get();
                time.advance(9 * 60_000);
                admin.alterConsumerGroupOffsets("old", Map.of(p1, new OffsetAndMetadata(4))).all().get();
                time.advance(2 * 60_000); // p0's commit is 11 minutes old, p1's 2 minutes
                Brokers.await(broker.groups().expireOffsets());
                assertThat(admin.listConsumerGroupOffsets("old").partitionsToOffsetAndMetadata().get()).containsOnlyKeys(p1);
            }
            broker.stop().get(30, TimeUnit.SECONDS);
            broker = Brokers.start(data, config, time);
            try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
                assertThat(admin.listConsumerGroupOffsets("old").partitionsToOffsetAndMetadata().get()).containsOnlyKeys(p1);
            }
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }
}
