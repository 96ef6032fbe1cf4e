package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Members join and leave while records keep arriving: rebalances happen, no record is skipped, and a record is seen
 * twice only when it was consumed but not yet committed when its partition moved (at most one poll per move).
 */
class MembershipChangesTest extends BrokerPerTest {
    private static final int RECORDS = 4_000;
    private static final int MAX_POLL = 50;
    private static final int CHUNK = 200;

    @BeforeEach
    void start() throws Exception {
        createTopic("stream", 6);
    }


    private Member start(List<Member> members, String protocol, Map<String, Integer> seen) {
        Member m = new Member(protocol, seen);
        members.add(m);
        m.start();
        return m;
    }

    /** A member that polls, records and commits after every poll until told to stop; closing it leaves the group. */
    private final class Member extends Thread {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicInteger consumed = new AtomicInteger();
        private final String protocol;
        private final Map<String, Integer> seen;

        Member(String protocol, Map<String, Integer> seen) {
            this.protocol = protocol;
            this.seen = seen;
            setDaemon(true);
        }

        @Override
        public void run() {
            long deadline = System.currentTimeMillis() + 90_000;
            try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(broker.bootstrapServers(), protocol, "moving-" + protocol,
                    Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, MAX_POLL))) {
                c.subscribe(List.of("stream"));
                while (!stop.get() && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(50))) {
                        seen.merge(r.value(), 1, Integer::sum);
                        consumed.incrementAndGet();
                    }
                    try {
                        c.commitSync();
                    } catch (KafkaException e) {
                        // A commit that loses to a rebalance: its records may be seen again, which the test allows for.
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "consumer"})
    void joiningAndLeavingMembersSkipNothing(String protocol) throws Exception {
        Map<String, Integer> seen = new ConcurrentHashMap<>();
        // The producer sends chunk after chunk, each once the previous one has been consumed, so that records keep
        // arriving while members come and go (bounded: RECORDS in all, 90 s at most).
        Thread producer = new Thread(() -> {
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
                for (int i = 0; i < RECORDS; i++) {
                    p.send(new ProducerRecord<>("stream", "k" + i, "v" + i));
                    if (i % CHUNK == CHUNK - 1) {
                        p.flush();
                        int sent = i + 1;
                        await().atMost(Duration.ofSeconds(90)).until(() -> seen.size() >= sent - CHUNK / 2);
                    }
                }
                p.flush();
            }
        }, "producer");
        producer.setDaemon(true);
        List<Member> members = new ArrayList<>();
        try {
            producer.start();
            Member a = start(members, protocol, seen);
            await().atMost(Duration.ofSeconds(30)).until(() -> a.consumed.get() > 300);
            Member b = start(members, protocol, seen);
            await().atMost(Duration.ofSeconds(30)).until(() -> b.consumed.get() > 100);
            Member c = start(members, protocol, seen);
            await().atMost(Duration.ofSeconds(30)).until(() -> c.consumed.get() > 100);
            int before = seen.size();
            b.stop.set(true);
            b.join(30_000);
            await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() > before + 300);
            c.stop.set(true);
            c.join(30_000);
            producer.join(90_000);
            await().atMost(Duration.ofSeconds(60)).until(() -> seen.size() == RECORDS);
        } finally {
            for (Member m : members) m.stop.set(true);
            for (Member m : members) m.join(30_000);
        }

        int duplicates = seen.values().stream().mapToInt(n -> n - 1).sum();
        // Four moves of partitions (b joins, c joins, b leaves, c leaves), each may replay at most one uncommitted poll
        // of each of the six partitions.
        assertThat(duplicates).isLessThanOrEqualTo(4 * 6 * MAX_POLL);
        assertThat(seen).hasSize(RECORDS);
    }
}
