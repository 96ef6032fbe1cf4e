package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.TestFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.junit.jupiter.api.Test;

/**
 * The web console in a real browser: headless Chromium (Debian's package) driven by playwright-core from npm, both
 * installed by scripts/test. The script creates a topic, tails it, produces with the form and sees the record arrive;
 * the record is then read back with a Kafka consumer. Screenshots land in target/.
 */
class ConsoleBrowserTest extends BrokerPerTest {

    /**
     * Takes this broker's replica of {@code topic}-0 offline with an I/O error: its directory goes, and writes go on
     * until the next segment cannot be created.
     */
    private void takeOffline(String topic) throws Exception {
        Brokers.await(broker.topicAdmin().createTopic(topic, 1, Map.of("segment.bytes", "16384")));
        Path dir = data.resolve(topic + "-0");
        TestFiles.deleteTree(dir);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of(ProducerConfig.RETRIES_CONFIG, 0,
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false))) {
            for (int i = 0; i < 16; i++) {
                try {
                    p.send(new ProducerRecord<>(topic, "k", "x".repeat(2048))).get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(KafkaStorageException.class);
                    return;
                }
            }
        }
        throw new AssertionError(topic + "-0 did not go offline");
    }

    @Test
    void theConsoleCreatesATopicProducesWithTheFormAndShowsTheRecordInTheLiveTail() throws Exception {
        Path shots = Path.of("target").toAbsolutePath();
        Files.createDirectories(shots);
        Files.deleteIfExists(shots.resolve("console-tail.png"));
        // A committed, an aborted and an open transaction for the message browser to tell apart.
        createTopic("console-txn", 1);
        KafkaProducer<String, String> txn = KafkaClients.producer(broker.bootstrapServers(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "console"));
        txn.initTransactions();
        for (String[] t : new String[][] {{"paid", "commit"}, {"cancelled", "abort"}, {"pending", "open"}}) {
            txn.beginTransaction();
            txn.send(new ProducerRecord<>("console-txn", 0, "order", t[0])).get(30, TimeUnit.SECONDS);
            if (t[1].equals("commit")) txn.commitTransaction();
            else if (t[1].equals("abort")) txn.abortTransaction();
        }
        takeOffline("console-offline");
        Process p = new ProcessBuilder("node", "src/test/js/console-browser.mjs", "http://127.0.0.1:" + broker.httpPort() + "/", shots.toString())
                .redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("browser script output:%n%s", out).isZero();
            assertThat(out).contains("kettle").contains("order-17")
                    .contains("\"seen\":[\"one\",\"three\",\"{\\\"item\\\":\\\"kettle\\\",\\\"qty\\\":2}\",\"{\\\"n\\\":2}\"]");
            assertThat(out).as("the browser marks each transaction's records")
                    .contains("{\"value\":\"paid\",\"transaction\":\"committed\",\"rowClass\":\"\"}")
                    .contains("{\"value\":\"cancelled\",\"transaction\":\"aborted\",\"rowClass\":\"txn-aborted\"}")
                    .contains("{\"value\":\"pending\",\"transaction\":\"open\",\"rowClass\":\"txn-open\"}");
            assertThat(out).as("the console marks the offline replica").containsPattern("\"offlineRow\":\"0\\d+offline: I/O error\"");
        } finally {
            p.destroyForcibly();
            txn.close(Duration.ZERO);
        }
        assertThat(shots.resolve("console-transactions.png")).isNotEmptyFile();
        assertThat(shots.resolve("console-offline.png")).isNotEmptyFile();
        assertThat(KafkaClients.committedValues(broker.bootstrapServers(), List.of(new TopicPartition("console-demo", 0),
                new TopicPartition("console-demo", 1)))).as("the page's transaction").filteredOn("in-txn"::equals).hasSize(2);
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
