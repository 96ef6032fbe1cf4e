package io.runnel.testkit;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;

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
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (KafkaShareConsumer<String, String> c = KafkaClients.shareConsumer(args[0], args[1], Map.of("share.acknowledgement.mode", "explicit"))) {
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
