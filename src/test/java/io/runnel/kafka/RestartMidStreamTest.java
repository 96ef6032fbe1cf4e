package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.FreePorts;
import io.runnel.testkit.KafkaClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker restarts while an idempotent producer (the Java default: acks=all, idempotence on) is sending: every
 * acknowledged record is read back afterwards, exactly once and in order, and the producer simply carries on.
 */
class RestartMidStreamTest {
    private static final int RECORDS = 3_000;

    @TempDir
    Path data;

    @Test
    void acknowledgedRecordsSurviveARestartWithoutDuplicates() throws Exception {
        int port = FreePorts.freePort();
        Map<String, String> fixedPort = Map.of("listeners", "PLAINTEXT://127.0.0.1:" + port);
        Broker broker = Brokers.start(data, fixedPort, Time.SYSTEM);
        String bootstrap = broker.bootstrapServers();
        Brokers.await(broker.topicAdmin().createTopic("restart", 3, Map.of()));
        ConcurrentLinkedQueue<RecordMetadata> acked = new ConcurrentLinkedQueue<>();
        List<Future<RecordMetadata>> sends = new ArrayList<>();
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.LINGER_MS_CONFIG, 2,
                ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 50, ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000))) {
            for (int i = 0; i < RECORDS; i++) {
                sends.add(p.send(new ProducerRecord<>("restart", "k" + (i % 30), "v" + i), (md, e) -> {
                    if (e == null) acked.add(md);
                }));
                if (i == RECORDS / 3) {
                    await().atMost(Duration.ofSeconds(30)).until(() -> acked.size() >= RECORDS / 4);
                    broker.stop().get(30, TimeUnit.SECONDS);
                    broker = Brokers.start(data, fixedPort, Time.SYSTEM);
                }
            }
            p.flush();
            for (Future<RecordMetadata> f : sends) f.get(60, TimeUnit.SECONDS);
        }
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            List<TopicPartition> tps = List.of(new TopicPartition("restart", 0), new TopicPartition("restart", 1), new TopicPartition("restart", 2));
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, RECORDS);
            assertThat(got).hasSize(RECORDS);
            Set<String> values = new HashSet<>();
            for (ConsumerRecord<String, String> r : got) assertThat(values.add(r.value())).as("duplicate %s", r.value()).isTrue();
            assertThat(acked).hasSize(RECORDS);
            // Per key (one partition each), the order of sending is the order in the log.
            for (int k = 0; k < 30; k++) {
                String key = "k" + k;
                List<Integer> seq = got.stream().filter(r -> r.key().equals(key)).map(r -> Integer.parseInt(r.value().substring(1))).toList();
                assertThat(seq).isSorted();
            }
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }
}
