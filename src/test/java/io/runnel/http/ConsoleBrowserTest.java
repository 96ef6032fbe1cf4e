package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * The web console in a real browser: headless Chromium (Debian's package) driven by playwright-core from npm, both
 * installed by scripts/test. The script creates a topic, tails it, produces with the form and sees the record arrive;
 * the record is then read back with a Kafka consumer. Screenshots land in target/.
 */
class ConsoleBrowserTest extends BrokerPerTest {

    @Test
    void theConsoleCreatesATopicProducesWithTheFormAndShowsTheRecordInTheLiveTail() throws Exception {
        Path shots = Path.of("target").toAbsolutePath();
        Files.createDirectories(shots);
        Files.deleteIfExists(shots.resolve("console-tail.png"));
        Process p = new ProcessBuilder("node", "src/test/js/console-browser.mjs", "http://127.0.0.1:" + broker.httpPort() + "/", shots.toString())
                .redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("browser script output:%n%s", out).isZero();
            assertThat(out).contains("kettle").contains("order-17")
                    .contains("\"seen\":[\"one\",\"three\",\"{\\\"item\\\":\\\"kettle\\\",\\\"qty\\\":2}\",\"{\\\"n\\\":2}\"]");
        } finally {
            p.destroyForcibly();
        }
        assertThat(shots.resolve("console-tail.png")).isNotEmptyFile();
        assertThat(shots.resolve("console-overview.png")).isNotEmptyFile();
        // runnel.js committed the group's offsets: everything in the topic (4 records) is consumed.
        try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
            var offsets = admin.listConsumerGroupOffsets("js-group").partitionsToOffsetAndMetadata().get();
            assertThat(offsets.values().stream().mapToLong(o -> o.offset()).sum()).isEqualTo(4);
        }
        // What the form produced is an ordinary Kafka record.
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of())) {
            List<TopicPartition> tps = List.of(new TopicPartition("console-demo", 0), new TopicPartition("console-demo", 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            ConsumerRecord<String, String> r = KafkaClients.pollAtLeast(c, 4).stream().filter(x -> "order-17".equals(x.key())).findFirst().orElseThrow();
            assertThat(r.key()).isEqualTo("order-17");
            assertThat(r.value()).isEqualTo("{\"item\":\"kettle\",\"qty\":2}");
            assertThat(new String(r.headers().lastHeader("source").value(), StandardCharsets.UTF_8)).isEqualTo("console");
        }
    }
}
