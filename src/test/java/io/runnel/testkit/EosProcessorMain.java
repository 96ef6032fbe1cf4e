package io.runnel.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * A test program: an exactly-once consume-transform-produce loop in its own JVM, so that a test can kill it with -9
 * at any point. It reads every partition of the input topic (assign(), read_committed) from the group's committed
 * offsets, and for each poll writes {@code out-<value>} to the output topic's partition of the same number and
 * commits the offsets in the same transaction. Arguments: bootstrap, input topic, output topic, partitions, group,
 * transactional id. Prints {@code COMMITTED n} after each transaction. Bounded: it stops by itself after 120 seconds.
 */
public final class EosProcessorMain {
    private EosProcessorMain() {
    }

    public static void main(String[] args) {
        String bootstrap = args[0];
        String in = args[1];
        String out = args[2];
        int partitions = Integer.parseInt(args[3]);
        String group = args[4];
        long deadline = System.currentTimeMillis() + 120_000;
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(in, p));
        try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, args[5]));
             KafkaConsumer<String, String> consumer = KafkaClients.groupConsumer(bootstrap, "classic", group,
                     Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 20))) {
            producer.initTransactions(); // fences a killed predecessor and aborts its open transaction
            consumer.assign(tps);
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(new HashSet<>(tps));
            for (TopicPartition tp : tps) {
                OffsetAndMetadata c = committed.get(tp);
                if (c == null) consumer.seekToBeginning(List.of(tp));
                else consumer.seek(tp, c.offset());
            }
            long total = 0;
            while (System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                if (records.isEmpty()) continue;
                producer.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<String, String> r : records) {
                    producer.send(new ProducerRecord<>(out, r.partition(), r.key(), "out-" + r.value()));
                    next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
                producer.commitTransaction();
                total += records.count();
                System.out.println("COMMITTED " + total);
            }
        }
    }
}
