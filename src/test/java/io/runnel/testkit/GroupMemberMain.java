package io.runnel.testkit;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * A test program: a classic-protocol group member in its own JVM, so that a test can kill it with -9 (no LeaveGroup).
 * Arguments: bootstrap, group, topic, and optionally the group protocol (classic by default). Prints {@code ASSIGNED n} whenever it holds partitions and {@code COMMITTED n}
 * after each commit. Bounded: it stops by itself after 120 seconds.
 */
public final class GroupMemberMain {
    private GroupMemberMain() {
    }

    public static void main(String[] args) {
        String protocol = args.length > 3 ? args[3] : "classic";
        long deadline = System.currentTimeMillis() + 120_000;
        try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(args[0], protocol, args[1], Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 50))) {
            c.subscribe(List.of(args[2]));
            long total = 0;
            while (System.currentTimeMillis() < deadline) {
                int n = c.poll(Duration.ofMillis(100)).count();
                if (!c.assignment().isEmpty()) System.out.println("ASSIGNED " + c.assignment().size());
                if (n > 0) {
                    c.commitSync();
                    total += n;
                    System.out.println("COMMITTED " + total);
                }
            }
        }
    }
}
