package io.runnel.transaction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.StreamsCountMain;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

/**
 * A Kafka Streams 4.4 application with exactly_once_v2 (a stateful count per key, its store restored from a
 * transactional changelog) runs against Runnel while its input arrives in thirds, is killed with -9 twice while it
 * works (at a random count, seed printed in the failure) and started again: the counts
 * it wrote, read with read_committed, are exactly 1, 2, ... n for every key, none skipped and none twice.
 */
class StreamsExactlyOnceTest extends BrokerPerTest {
    private static final int KEYS = 10;
    private static final int PER_KEY = 30;

    @Test
    void aStatefulCountWithExactlyOnceV2IsExactAcrossKillsOfTheApplication() throws Exception {
        createTopic("words", 2);
        createTopic("counts", 2);
        Path state = data.resolve("streams-state");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            int sent = 0;
            for (int round = 0; round < 2; round++) {
                // A third of the input, then the application, killed once it has written a random share of its counts.
                for (int end = sent + KEYS * PER_KEY / 3; sent < end; sent++) p.send(new ProducerRecord<>("words", "w" + (sent % KEYS), "x"));
                p.flush();
                try (BrokerProcess app = launch(state)) {
                    app.awaitOutput("RUNNING", Duration.ofSeconds(90));
                    int before = written();
                    int threshold = before + 1 + random.nextInt(Math.max(1, sent - before));
                    await().atMost(Duration.ofSeconds(60)).until(() -> written() >= threshold);
                    app.kill9();
                    System.out.println("KILLED at " + written() + " of " + sent + " (threshold " + threshold + ", before " + before + ")");
                }
            }
            for (; sent < KEYS * PER_KEY; sent++) p.send(new ProducerRecord<>("words", "w" + (sent % KEYS), "x"));
        }
        try (BrokerProcess app = launch(state)) {
            await().atMost(Duration.ofSeconds(120)).until(() -> {
                Map<String, List<Long>> c = counts();
                return c.size() == KEYS && c.values().stream().allMatch(v -> !v.isEmpty() && v.get(v.size() - 1) == PER_KEY);
            });
            app.kill9();
        }
        List<Long> exact = LongStream.rangeClosed(1, PER_KEY).boxed().toList();
        counts().forEach((key, values) -> assertThat(values).as("seed %d: the counts of %s", seed, key).isEqualTo(exact));
    }

    private BrokerProcess launch(Path state) throws Exception {
        return BrokerProcess.launch(data, StreamsCountMain.class.getName(), broker.bootstrapServers(), state.toString());
    }

    /** How many counts were written so far (read_committed). */
    private int written() {
        return counts().values().stream().mapToInt(List::size).sum();
    }

    /** Every count written so far, per key, in order (read_committed). */
    private Map<String, List<Long>> counts() {
        Map<String, List<Long>> out = new HashMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> tps = List.of(new TopicPartition("counts", 0), new TopicPartition("counts", 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(100))) out.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value());
            }
        }
        return out;
    }
}
