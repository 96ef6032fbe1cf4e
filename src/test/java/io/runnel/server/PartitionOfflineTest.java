package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.TestFiles;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An I/O error other than a full disk on one partition (here its directory vanishes under the running broker, so the
 * next segment cannot be created) takes that replica offline, as Kafka takes a failed log directory offline: writes
 * and reads of it fail with KAFKA_STORAGE_ERROR from then on, every other partition goes on, the broker stays up, and
 * {@code /metrics} and the REST API (which the console shows) say which replica is offline.
 */
class PartitionOfflineTest {
    private static final int VALUE_BYTES = 4 * 1024;

    @TempDir
    Path dir;

    @Test
    void anIoErrorTakesOnlyThatPartitionOfflineVisiblyAndTheBrokerServesTheRest() throws Exception {
        Path data = dir.resolve("data");
        Broker broker = Brokers.start(data, Map.of("offsets.topic.num.partitions", "1", "transaction.state.log.num.partitions", "1"), Time.SYSTEM);
        try {
            Brokers.await(broker.topicAdmin().createTopic("failing", 1, Map.of("segment.bytes", "65536")));
            Brokers.await(broker.topicAdmin().createTopic("healthy", 1, Map.of()));
            String value = "v".repeat(VALUE_BYTES);
            Map<String, Object> strict = Map.of(ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
                    ProducerConfig.RETRIES_CONFIG, 0, ProducerConfig.LINGER_MS_CONFIG, 0);
            List<String> healthyAcked = new ArrayList<>();
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), strict)) {
                for (int i = 0; i < 5; i++) {
                    p.send(new ProducerRecord<>("failing", "k", "before-" + i)).get(30, TimeUnit.SECONDS);
                    p.send(new ProducerRecord<>("healthy", "k", "h-" + i)).get(30, TimeUnit.SECONDS);
                    healthyAcked.add("h-" + i);
                }
                TestFiles.deleteTree(data.resolve("failing-0"));

                // The active segment's file is still open and takes writes; the next segment cannot be created.
                Throwable refused = null;
                for (int i = 0; i < 64 && refused == null; i++) { // 64 x 4 KB: past the 64 KB segment
                    try {
                        p.send(new ProducerRecord<>("failing", "k", value)).get(30, TimeUnit.SECONDS);
                    } catch (ExecutionException e) {
                        refused = e.getCause();
                    }
                }
                assertThat(refused).as("a write once the partition's files are gone").isInstanceOf(KafkaStorageException.class);
                assertThatThrownBy(() -> p.send(new ProducerRecord<>("failing", "k", "after")).get(30, TimeUnit.SECONDS))
                        .as("the replica stays offline").hasCauseInstanceOf(KafkaStorageException.class)
                        .hasMessageContaining("offline");

                for (int i = 5; i < 10; i++) {
                    p.send(new ProducerRecord<>("healthy", "k", "h-" + i)).get(30, TimeUnit.SECONDS);
                    healthyAcked.add("h-" + i);
                }
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of())) {
                TopicPartition tp = new TopicPartition("healthy", 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                assertThat(KafkaClients.pollAtLeast(c, healthyAcked.size()).stream().map(ConsumerRecord::value).toList())
                        .as("the other partition, written and read throughout").containsExactlyElementsOf(healthyAcked);
            }

            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + broker.httpPort();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                String metrics = get(http, base + "/metrics").body();
                assertThat(metrics).contains("runnel_offline_replicas 1.0");
                assertThat(metrics).containsPattern("runnel_replica_offline\\{partition=\"0\",topic=\"failing\"} 1.0");
            });
            JsonObject failing = new JsonObject(get(http, base + "/api/topics/failing").body());
            assertThat(failing.getJsonArray("partitions").getJsonObject(0).getString("offline")).as("the REST API, for the console")
                    .contains("NoSuchFile");
            JsonObject healthy = new JsonObject(get(http, base + "/api/topics/healthy").body());
            assertThat(healthy.getJsonArray("partitions").getJsonObject(0).containsKey("offline")).isFalse();
            HttpResponse<String> read = get(http, base + "/api/topics/failing/partitions/0/records?offset=0");
            assertThat(read.statusCode()).as("reading the offline partition over HTTP: " + read.body()).isEqualTo(503);
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * A partition whose files cannot be read when the broker starts (here its segment's name is taken by a directory):
     * the broker starts anyway with that replica offline and every other partition serving, and the offline
     * partition's topic can still be deleted.
     */
    @Test
    void aPartitionThatCannotBeOpenedAtStartIsOfflineAndTheBrokerStartsWithTheRest() throws Exception {
        Path data = dir.resolve("data");
        Map<String, String> config = Map.of("offsets.topic.num.partitions", "1", "transaction.state.log.num.partitions", "1");
        Broker broker = Brokers.start(data, config, Time.SYSTEM);
        Map<String, Object> strict = Map.of(ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
                ProducerConfig.RETRIES_CONFIG, 0, ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        try {
            Brokers.await(broker.topicAdmin().createTopic("broken", 1, Map.of()));
            Brokers.await(broker.topicAdmin().createTopic("fine", 1, Map.of()));
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), strict)) {
                p.send(new ProducerRecord<>("broken", "k", "b")).get(30, TimeUnit.SECONDS);
                p.send(new ProducerRecord<>("fine", "k", "f-0")).get(30, TimeUnit.SECONDS);
            }
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
        Path segment;
        try (Stream<Path> files = Files.list(data.resolve("broken-0"))) {
            segment = files.filter(f -> f.getFileName().toString().endsWith(".log")).findFirst().orElseThrow();
        }
        Files.delete(segment);
        Files.createDirectory(segment); // opening it as a file fails: "Is a directory"

        broker = Brokers.start(data, config, Time.SYSTEM);
        try {
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), strict)) {
                p.send(new ProducerRecord<>("fine", "k", "f-1")).get(30, TimeUnit.SECONDS);
                assertThatThrownBy(() -> p.send(new ProducerRecord<>("broken", "k", "b")).get(30, TimeUnit.SECONDS))
                        .hasCauseInstanceOf(KafkaStorageException.class).hasMessageContaining("offline");
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of())) {
                TopicPartition tp = new TopicPartition("fine", 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                assertThat(KafkaClients.pollAtLeast(c, 2).stream().map(ConsumerRecord::value).toList()).containsExactly("f-0", "f-1");
            }
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + broker.httpPort();
            assertThat(get(http, base + "/metrics").body()).contains("runnel_offline_replicas 1.0");
            assertThat(new JsonObject(get(http, base + "/api/topics/broken").body()).getJsonArray("partitions").getJsonObject(0)
                    .getString("offline")).contains("Is a directory");

            Brokers.await(broker.topicAdmin().deleteTopic("broken"));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(Files.exists(data.resolve("broken-0"))).as("the offline replica's files, after its topic was deleted").isFalse());
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }

    private static HttpResponse<String> get(HttpClient http, String uri) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
