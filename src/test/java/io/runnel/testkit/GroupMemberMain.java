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
        Map<String, Object> config = new java.util.HashMap<>(Map.of(ConsumerConfig.GROUP_ID_CONFIG, args[1],
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest", ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol,
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 50));
        if (protocol.equals("classic")) {
            config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 6000);
            config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
        }
        long deadline = System.currentTimeMillis() + 120_000;
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(args[0], config)) {
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
