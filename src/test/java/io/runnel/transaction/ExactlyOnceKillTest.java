package io.runnel.transaction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.EosProcessorMain;
import io.runnel.testkit.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * Exactly once under kill -9: a consume-transform-produce program (its own JVM, {@link EosProcessorMain}) is killed
 * at random moments while input flows and started again each time; the output, read with read_committed, has every
 * input record exactly once and in order per key, and the group's committed offsets are the input's end.
 */
class ExactlyOnceKillTest extends BrokerPerTest {
    private static final int PARTITIONS = 3;
    private static final int RECORDS = 1500;
    private static final int KEYS = 30;

    @Test
    void aProcessorKilledAtRandomMomentsStillWritesEveryInputRecordExactlyOnce() throws Exception {
        createTopic("orders", PARTITIONS);
        createTopic("invoices", PARTITIONS);
        long seed = System.nanoTime();
        System.out.println("ExactlyOnceKillTest seed " + seed);
        Random random = new Random(seed);
        try (KafkaProducer<String, String> feeder = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            int sent = 0;
            for (int round = 0; round < 4; round++) {
                // A quarter of the input, then a processor that is killed at a random moment while it works on it.
                for (int end = sent + RECORDS / 4; sent < end; sent++) {
                    String key = "k" + (sent % KEYS);
                    feeder.send(new ProducerRecord<>("orders", Math.floorMod(key.hashCode(), PARTITIONS), key, Integer.toString(sent)));
                }
                feeder.flush();
                try (BrokerProcess processor = processor()) {
                    // Killed once it has committed a random share of what is left, most likely in its next transaction.
                    long before = committedInput();
                    long threshold = 1 + random.nextInt((int) Math.max(1, sent - before));
                    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5)).until(() -> lastCommitted(processor) >= threshold);
                    processor.kill9();
                }
            }
        }
        try (BrokerProcess last = processor()) {
            await().atMost(Duration.ofSeconds(90)).until(() -> committedInput() == RECORDS);
            last.kill9();
        }

        Map<String, List<Integer>> byKey = new HashMap<>();
        List<String> all = new ArrayList<>();
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition("invoices", p));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    all.add(r.value());
                    byKey.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(Integer.parseInt(r.value().substring("out-".length())));
                }
            }
        }
        assertThat(all).as("seed %d: every input record once", seed).hasSize(RECORDS).doesNotHaveDuplicates();
        byKey.forEach((key, values) -> assertThat(values).as("seed %d: order of %s", seed, key).isSorted());
    }

    /** The records a processor reported committed in its own run (its last {@code COMMITTED n} line), 0 before any. */
    private static long lastCommitted(BrokerProcess processor) throws Exception {
        long n = 0;
        for (String line : processor.outputLines()) if (line.startsWith("COMMITTED ")) n = Long.parseLong(line.substring("COMMITTED ".length()).trim());
        return n;
    }

    private BrokerProcess processor() throws Exception {
        return BrokerProcess.launch(data, EosProcessorMain.class.getName(), broker.bootstrapServers(), "orders", "invoices",
                Integer.toString(PARTITIONS), "invoicing", "invoicing-app");
    }

    private long committedInput() throws Exception {
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("invoicing").partitionsToOffsetAndMetadata()
                    .get(30, TimeUnit.SECONDS);
            return committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
        }
    }
}
