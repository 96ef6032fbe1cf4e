package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kafkajs, a client with its own protocol implementation at older, non-flexible versions (Metadata v6, Produce v7,
 * JoinGroup v5, ApiVersions v2...): it creates a topic, produces with acks=-1, consumes in a consumer group,
 * commits and lists offsets. The records are read back with the Java consumer too.
 */
class KafkaJsTest {
    @TempDir
    Path data;

    @Test
    void kafkajsCreatesProducesConsumesInAGroupAndCommits() throws Exception {
        Broker broker = Brokers.start(data);
        try {
            Process p = new ProcessBuilder("node", "src/test/js/kafkajs-roundtrip.mjs", broker.bootstrapServers(), "kafkajs", "50")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("node output:%n%s", out).isZero();
            assertThat(out).contains("\"baseOffset\":\"0\"").contains("\"high\":\"50\"").contains("\"received\":50")
                    .contains("\"last\":{\"key\":\"k49\",\"value\":\"v49\",\"offset\":\"49\"}").contains("\"offset\":\"50\"");
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of())) {
                TopicPartition tp = new TopicPartition("kafkajs", 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, 50);
                assertThat(got).hasSize(50);
                assertThat(got.get(7).key()).isEqualTo("k7");
                assertThat(got.get(7).value()).isEqualTo("v7");
                assertThat(new String(got.get(7).headers().lastHeader("h").value(), StandardCharsets.UTF_8)).isEqualTo("h7");
            }
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }
}
