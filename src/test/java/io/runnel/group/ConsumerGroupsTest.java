package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Consumer groups of both protocols (classic, and KIP-848's consumer protocol) with unmodified kafka-clients 4.4.0 consumers. */
class ConsumerGroupsTest extends BrokerPerTest {
    private static final int RECORDS = 3_000;

    @BeforeEach
    void start() throws Exception {
        createTopic("orders", 6);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("orders", "k" + (i % 60), "v" + i));
            p.flush();
        }
    }


    private KafkaConsumer<String, String> consumer(String protocol, String group, Map<String, Object> extra) {
        return KafkaClients.groupConsumer(broker.bootstrapServers(), protocol, group, extra);
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "consumer", "classic:roundrobin", "classic:cooperative-sticky", "consumer:range"})
    void threeConsumersShareSixPartitionsAndConsumeEveryRecordOnce(String variant) throws Exception {
        // Client-side assignors of the classic protocol are relayed untouched: range (the default), round robin, and
        // cooperative sticky (incremental rebalancing, driven by the clients).
        String protocol = variant.split(":")[0];
        Map<String, Object> assignor = !variant.contains(":") ? Map.of()
                : variant.equals("consumer:range") ? Map.of(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, "range") // server side
                : Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, variant.endsWith("roundrobin")
                        ? RoundRobinAssignor.class.getName()
                        : CooperativeStickyAssignor.class.getName());
        String groupId = "three-" + variant.replace(':', '-');
        Map<String, String> seenBy = new ConcurrentHashMap<>();
        List<String> duplicates = Collections.synchronizedList(new ArrayList<>());
        Map<TopicPartition, List<Long>> offsetsSeen = new ConcurrentHashMap<>();
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        List<Future<Set<TopicPartition>>> assigned = new ArrayList<>();
        Map<String, Set<TopicPartition>> current = new ConcurrentHashMap<>();
        for (int c = 0; c < 3; c++) {
            String name = "c" + c;
            assigned.add(pool.submit(() -> {
                Set<TopicPartition> mine = ConcurrentHashMap.newKeySet();
                try (KafkaConsumer<String, String> consumer = consumer(protocol, groupId, assignor)) {
                    // Commit what was consumed before giving partitions up: the documented way to avoid duplicates.
                    consumer.subscribe(List.of("orders"), new ConsumerRebalanceListener() {
                        @Override
                        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                            consumer.commitSync();
                        }

                        @Override
                        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                        }
                    });
                    long deadline = System.currentTimeMillis() + 60_000;
                    while (!done.get() && System.currentTimeMillis() < deadline) {
                        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                            if (seenBy.putIfAbsent(r.value(), name) != null) duplicates.add(r.value());
                            offsetsSeen.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> Collections.synchronizedList(new ArrayList<>())).add(r.offset());
                        }
                        try {
                            consumer.commitSync();
                        } catch (CommitFailedException e) {
                            // The commit raced a change of assignment; the next one carries the same offsets.
                        }
                        current.put(name, Set.copyOf(consumer.assignment()));
                    }
                    mine.addAll(consumer.assignment());
                }
                return mine;
            }));
        }
        try {
            // Every record consumed, and the assignment settled: two partitions each.
            await().atMost(Duration.ofSeconds(60)).until(() -> seenBy.size() == RECORDS && current.size() == 3
                    && current.values().stream().allMatch(a -> a.size() == 2));
        } finally {
            done.set(true);
            pool.shutdown();
            assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(duplicates).isEmpty();
        assertThat(seenBy.values()).containsOnly("c0", "c1", "c2");
        for (List<Long> offs : offsetsSeen.values()) assertThat(offs).isSorted();
        Set<TopicPartition> union = new HashSet<>();
        for (Future<Set<TopicPartition>> f : assigned) {
            assertThat(f.get()).hasSize(2); // 6 partitions over 3 members, by the range or the uniform assignor
            union.addAll(f.get());
        }
        assertThat(union).hasSize(6);
        if (protocol.equals("consumer")) {
            // The Admin client describes consumer-protocol groups with ConsumerGroupDescribe.
            try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
                var d = admin.describeConsumerGroups(List.of(groupId)).all().get().get(groupId);
                assertThat(d.type()).isEqualTo(GroupType.CONSUMER);
                assertThat(d.partitionAssignor()).isEqualTo(variant.equals("consumer:range") ? "range" : "uniform");
                assertThat(d.groupState()).isEqualTo(GroupState.EMPTY); // all three have left
            }
        }
        // Everything consumed is committed: a new member of the group gets nothing again.
        try (KafkaConsumer<String, String> late = consumer(protocol, groupId, assignor)) {
            late.subscribe(List.of("orders"));
            long end = System.currentTimeMillis() + 3_000;
            while (System.currentTimeMillis() < end) assertThat(late.poll(Duration.ofMillis(200))).isEmpty();
            Map<TopicPartition, OffsetAndMetadata> committed = late.committed(union);
            assertThat(committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum()).isEqualTo(RECORDS);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "consumer"})
    void committedOffsetsSurviveABrokerRestart(String protocol) throws Exception {
        try (KafkaConsumer<String, String> c = consumer(protocol, "resume", Map.of())) {
            c.subscribe(List.of("orders"));
            int got = 0;
            long deadline = System.currentTimeMillis() + 30_000;
            while (got < 1000 && System.currentTimeMillis() < deadline) got += c.poll(Duration.ofMillis(200)).count();
            c.commitSync();
        }
        Map<TopicPartition, OffsetAndMetadata> before;
        try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
            before = admin.listConsumerGroupOffsets("resume").partitionsToOffsetAndMetadata().get();
        }
        assertThat(before).isNotEmpty();
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, Map.of("listeners", "PLAINTEXT://127.0.0.1:0"), Time.SYSTEM);
        try (var admin = KafkaClients.admin(broker.bootstrapServers())) {
            assertThat(admin.listConsumerGroupOffsets("resume").partitionsToOffsetAndMetadata().get()).isEqualTo(before);
        }
        long consumedBefore = before.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
        try (KafkaConsumer<String, String> c = consumer(protocol, "resume", Map.of())) {
            c.subscribe(List.of("orders"));
            List<ConsumerRecord<String, String>> rest = KafkaClients.pollAtLeast(c, (int) (RECORDS - consumedBefore));
            assertThat(rest).hasSize((int) (RECORDS - consumedBefore));
            for (ConsumerRecord<String, String> r : rest) {
                assertThat(r.offset()).isGreaterThanOrEqualTo(before.get(new TopicPartition(r.topic(), r.partition())).offset());
            }
        }
    }
}
