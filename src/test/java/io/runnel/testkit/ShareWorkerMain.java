package io.runnel.testkit;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A test program: a share group member (KafkaShareConsumer, explicit acknowledgement) in its own JVM that takes the
 * first records it is given and holds them, acknowledging nothing, so that a test can kill it with -9 or freeze it
 * with records in flight. Arguments: bootstrap, group, topic. Prints {@code HELD partition offset} for each record it
 * holds, then {@code HOLDING}. Bounded: it ends by itself after 120 seconds.
 */
public final class ShareWorkerMain {
    private ShareWorkerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, args[1]);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put("share.acknowledgement.mode", "explicit");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(p)) {
            c.subscribe(List.of(args[2]));
            System.out.println("SUBSCRIBED");
            while (System.nanoTime() < deadline) {
                ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(100));
                if (records.isEmpty()) continue;
                for (ConsumerRecord<String, String> r : records) System.out.println("HELD " + r.partition() + " " + r.offset());
                System.out.println("HOLDING");
                System.out.flush();
                // Holds them: no acknowledgement, no poll (the consumer's background thread goes on heartbeating).
                new CountDownLatch(1).await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        }
    }
}
