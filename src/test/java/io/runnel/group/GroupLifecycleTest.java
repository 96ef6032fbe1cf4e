package io.runnel.group;

import static io.runnel.testkit.Failures.causeOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.server.Broker;
import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.FreePorts;
import io.runnel.testkit.GroupMemberMain;
import io.runnel.testkit.KafkaClients;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Members that die, static members that come back, and the Admin client's view of groups, offsets and lag. */
class GroupLifecycleTest {
    private static final int RECORDS = 600;
    @TempDir
    Path data;
    Broker broker;
    Admin admin;

    @BeforeEach
    void start() throws Exception {
        broker = Brokers.start(data);
        admin = KafkaClients.admin(broker.bootstrapServers());
        Brokers.await(broker.topicAdmin().createTopic("work", 6, Map.of()));
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("work", i % 6, "k", "v" + i));
            p.flush();
        }
    }

    @AfterEach
    void stop() throws Exception {
        admin.close();
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private KafkaConsumer<String, String> consumer(String group, Map<String, Object> extra) {
        String protocol = (String) extra.getOrDefault(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        return KafkaClients.groupConsumer(broker.bootstrapServers(), protocol, group, extra);
    }

    /**
     * Reading groups (Kafka's ListGroups, the REST API, the metrics' lag) does not create __consumer_offsets, as in
     * Kafka; the first group does.
     */
    @Test
    void readingGroupsBeforeAnyExistsDoesNotCreateTheOffsetsTopic() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        Function<String, HttpResponse<String>> get = path -> {
            try {
                return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + path))
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        assertThat(admin.listGroups().all().get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(get.apply("/api/groups").body()).isEqualTo("[]");
        assertThat(get.apply("/api/groups/nobody").statusCode()).isEqualTo(404);
        assertThat(get.apply("/metrics").statusCode()).isEqualTo(200);
        assertThat(broker.topics().topic("__consumer_offsets")).as("the offsets topic after reads only").isEmpty();

        try (KafkaConsumer<String, String> c = consumer("first", Map.of())) {
            c.subscribe(List.of("work"));
            KafkaClients.pollAtLeast(c, 1);
        }
        assertThat(broker.topics().topic("__consumer_offsets")).isPresent();
        assertThat(admin.listGroups().all().get(30, TimeUnit.SECONDS)).extracting(g -> g.groupId()).containsExactly("first");
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "consumer"})
    void aKilledMemberLosesItsPartitionsAfterTheSessionTimeoutAndTheyResumeAtTheCommittedOffsets(String protocol) throws Exception {
        try (BrokerProcess member = BrokerProcess.launch(data, GroupMemberMain.class.getName(), broker.bootstrapServers(), "survivors", "work",
                protocol)) {
            member.awaitOutput("COMMITTED", Duration.ofSeconds(60));
            member.kill9(); // no LeaveGroup: only the session timeout tells the coordinator
        }
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("survivors").partitionsToOffsetAndMetadata().get();
        long alreadyDone = committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
        assertThat(alreadyDone).isPositive();
        // More work arrives after the death (the member may have finished the first batch before it was killed).
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("work", i % 6, "k", "late" + i));
            p.flush();
        }
        Map<String, Object> survivor = protocol.equals("consumer")
                ? Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer") : Map.of();
        try (KafkaConsumer<String, String> c = consumer("survivors", survivor)) {
            c.subscribe(List.of("work"));
            List<ConsumerRecord<String, String>> rest = KafkaClients.pollAtLeast(c, (int) (2 * RECORDS - alreadyDone));
            assertThat(c.assignment()).hasSize(6);
            // Resumed exactly at the committed offsets (the dead member's uncommitted work is redone, nothing skipped).
            assertThat(rest).hasSize((int) (2 * RECORDS - alreadyDone));
            for (ConsumerRecord<String, String> r : rest) {
                OffsetAndMetadata from = committed.get(new TopicPartition("work", r.partition()));
                assertThat(r.offset()).isGreaterThanOrEqualTo(from == null ? 0 : from.offset());
            }
        }
    }

    @Test
    void aClassicGroupCarriesOnAcrossABrokerRestartWithoutARebalance() throws Exception {
        int port = FreePorts.freePort();
        Map<String, String> fixed = Map.of("listeners", "PLAINTEXT://127.0.0.1:" + port);
        admin.close();
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, fixed, Time.SYSTEM);
        admin = KafkaClients.admin(broker.bootstrapServers());
        AtomicInteger assignments = new AtomicInteger();
        try (KafkaConsumer<String, String> c = consumer("carry-on", Map.of())) {
            c.subscribe(List.of("work"), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    assignments.incrementAndGet();
                }
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                c.poll(Duration.ofMillis(50));
                return c.assignment().size() == 6;
            });
            c.commitSync();
            assertThat(assignments.get()).isEqualTo(1);
            broker.stop().get(30, TimeUnit.SECONDS);
            broker = Brokers.start(data, fixed, Time.SYSTEM);
            // The member and its generation were restored: its commits are accepted and it keeps its partitions.
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                c.poll(Duration.ofMillis(50));
                c.commitSync(Duration.ofSeconds(5));
                return true;
            });
            for (int i = 0; i < 20; i++) c.poll(Duration.ofMillis(50));
            assertThat(c.assignment()).hasSize(6);
            assertThat(assignments.get()).isEqualTo(1);
        }
    }

    @Test
    void aConsumerProtocolGroupAndItsMembersSurviveABrokerRestart() throws Exception {
        String memberId;
        int groupEpoch;
        try (BrokerProcess member = BrokerProcess.launch(data, GroupMemberMain.class.getName(), broker.bootstrapServers(), "kept", "work",
                "consumer")) {
            member.awaitOutput("COMMITTED", Duration.ofSeconds(60));
            var d = admin.describeConsumerGroups(List.of("kept")).all().get().get("kept");
            assertThat(d.members()).hasSize(1);
            memberId = d.members().iterator().next().consumerId();
            groupEpoch = d.groupEpoch().orElseThrow();
            member.kill9(); // the member does not leave: it stays in the group until its session times out
        }
        admin.close();
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data);
        admin = KafkaClients.admin(broker.bootstrapServers());
        var restored = admin.describeConsumerGroups(List.of("kept")).all().get().get("kept");
        assertThat(restored.groupEpoch()).contains(groupEpoch);
        assertThat(restored.members()).singleElement().satisfies(m -> {
            assertThat(m.consumerId()).isEqualTo(memberId);
            assertThat(m.assignment().topicPartitions()).hasSize(6);
        });
        // It never comes back: after its session timeout (6 s in tests) it is removed.
        await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeConsumerGroups(List.of("kept")).all().get().get("kept").members().isEmpty());
    }

    @Test
    void aStaticMemberThatRestartsWithinItsSessionGetsItsPartitionsBackWithoutARebalance() throws Exception {
        AtomicInteger rebalancesOfB = new AtomicInteger();
        Set<TopicPartition> firstOfA;
        try (KafkaConsumer<String, String> b = consumer("static", Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "b"))) {
            b.subscribe(List.of("work"), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    rebalancesOfB.incrementAndGet();
                }
            });
            try (KafkaConsumer<String, String> a = consumer("static", Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "a"))) {
                a.subscribe(List.of("work"));
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    a.poll(Duration.ofMillis(50));
                    b.poll(Duration.ofMillis(50));
                    return a.assignment().size() == 3 && b.assignment().size() == 3;
                });
                firstOfA = new HashSet<>(a.assignment());
            } // a static member does not send LeaveGroup when it closes
            int rebalancesBefore = rebalancesOfB.get();
            try (KafkaConsumer<String, String> a2 = consumer("static", Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "a"))) {
                a2.subscribe(List.of("work"));
                await().atMost(Duration.ofSeconds(20)).until(() -> {
                    a2.poll(Duration.ofMillis(50));
                    b.poll(Duration.ofMillis(50));
                    return !a2.assignment().isEmpty();
                });
                assertThat(a2.assignment()).isEqualTo(firstOfA);
                assertThat(b.assignment()).hasSize(3);
                assertThat(rebalancesOfB.get()).isEqualTo(rebalancesBefore);
            }
        }
    }

    @Test
    void adminListsDescribesAltersAndDeletesGroupsAndOffsetsAndLagAddsUp() throws Exception {
        try (KafkaConsumer<String, String> c = consumer("observed", Map.of(ConsumerConfig.CLIENT_ID_CONFIG, "observer-1"))) {
            c.subscribe(List.of("work"));
            int got = 0;
            long deadline = System.currentTimeMillis() + 30_000;
            while (got < RECORDS / 2 && System.currentTimeMillis() < deadline) got += c.poll(Duration.ofMillis(100)).count();
            c.commitSync();
            assertThat(admin.listConsumerGroups().all().get()).anySatisfy(g -> {
                assertThat(g.groupId()).isEqualTo("observed");
                assertThat(g.groupState()).contains(GroupState.STABLE);
            });
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of("observed")).all().get().get("observed");
            assertThat(d.groupState()).isEqualTo(GroupState.STABLE);
            assertThat(d.members()).singleElement().satisfies(m -> {
                assertThat(m.clientId()).isEqualTo("observer-1");
                assertThat(m.assignment().topicPartitions()).hasSize(6);
            });
            // Lag is the log end offset minus the committed offset.
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("observed").partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            committed.keySet().forEach(tp -> latest.put(tp, OffsetSpec.latest()));
            var ends = admin.listOffsets(latest).all().get();
            long lag = committed.entrySet().stream().mapToLong(e -> ends.get(e.getKey()).offset() - e.getValue().offset()).sum();
            long consumed = committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            assertThat(lag).isEqualTo(RECORDS - consumed);
            assertThat(causeOf(() -> admin.deleteConsumerGroups(List.of("observed")).all().get())).isInstanceOf(GroupNotEmptyException.class);
        }
        // The member left: the group is empty and its offsets can be changed, deleted, and the group removed.
        TopicPartition p0 = new TopicPartition("work", 0);
        admin.alterConsumerGroupOffsets("observed", Map.of(p0, new OffsetAndMetadata(7, "rewound"))).all().get();
        assertThat(admin.listConsumerGroupOffsets("observed").partitionsToOffsetAndMetadata().get().get(p0))
                .isEqualTo(new OffsetAndMetadata(7, "rewound"));
        admin.deleteConsumerGroupOffsets("observed", Set.of(p0)).all().get();
        assertThat(admin.listConsumerGroupOffsets("observed").partitionsToOffsetAndMetadata().get()).doesNotContainKey(p0);
        assertThat(admin.describeConsumerGroups(List.of("observed")).all().get().get("observed").groupState()).isEqualTo(GroupState.EMPTY);
        admin.deleteConsumerGroups(List.of("observed")).all().get();
        assertThat(admin.listConsumerGroups().all().get()).noneMatch(g -> g.groupId().equals("observed"));
        assertThat(causeOf(() -> admin.deleteConsumerGroups(List.of("observed")).all().get())).isInstanceOf(GroupIdNotFoundException.class);
    }
}
