package io.runnel.share;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Share groups (KIP-932) with kafka-clients 4.4.0's KafkaShareConsumer on one broker. */
class ShareConsumerTest extends BrokerPerTest {
    private final List<KafkaShareConsumer<String, String>> open = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicBoolean stop = new AtomicBoolean();

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("group.share.heartbeat.interval.ms", "500", "group.share.session.timeout.ms", "10000",
                "group.share.record.lock.duration.ms", "3000");
    }

    @AfterEach
    void closeConsumers() throws Exception {
        stop.set(true);
        for (Thread t : threads) t.join(30_000);
        for (KafkaShareConsumer<String, String> c : open) c.close(Duration.ofSeconds(5));
    }

    private KafkaShareConsumer<String, String> consumer(String group, Map<String, Object> extra) {
        return KafkaClients.shareConsumer(broker.bootstrapServers(), group, extra);
    }

    /** Waits until the group has started reading every partition of the topic (it starts at their end). */
    private void awaitReading(String group, Uuid topicId, int partitions) {
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            for (int p = 0; p < partitions; p++) {
                Optional<SharePartitionState> st = Brokers.await(broker.shares().state(group, topicId, p));
                if (st.isEmpty()) return false;
            }
            return true;
        });
    }

    private void produce(String topic, int count) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("linger.ms", 0))) {
            for (int i = 0; i < count; i++) p.send(new ProducerRecord<>(topic, i % 2, null, "r" + i)).get();
        }
    }

    @Test
    void fiveConsumersOnTwoPartitionsShareTheWorkAndEachRecordIsHandledOnce() throws Exception {
        Uuid id = createTopic("work", 2);
        Map<Integer, List<String>> got = new ConcurrentHashMap<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            KafkaShareConsumer<String, String> c = consumer("workers", Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2));
            open.add(c);
            c.subscribe(List.of("work"));
            Thread t = new Thread(() -> {
                while (!stop.get()) {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                        got.computeIfAbsent(n, k -> new CopyOnWriteArrayList<>()).add(r.value());
                    }
                }
            }, "share-worker-" + i);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        awaitReading("workers", id, 2);
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) { // every member has its partition before records come
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                ShareGroupDescription d = admin.describeShareGroups(List.of("workers")).describedGroups().get("workers").get();
                return d.members().size() == 5 && d.members().stream().allMatch(m -> m.assignment().topicPartitions().size() == 1);
            });
        }
        produce("work", 200);
        await().atMost(Duration.ofSeconds(60)).until(() -> got.values().stream().mapToInt(List::size).sum() >= 200);
        List<String> all = got.values().stream().flatMap(List::stream).toList();
        assertThat(all).as("every record once").hasSize(200).doesNotHaveDuplicates();
        assertThat(got.keySet()).as("all five got work").hasSize(5);

        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            List<GroupListing> groups = List.copyOf(admin.listGroups(ListGroupsOptions.forShareGroups()).all().get());
            assertThat(groups).extracting(GroupListing::groupId).containsExactly("workers");
            assertThat(groups.get(0).type()).contains(GroupType.SHARE);
            ShareGroupDescription d = admin.describeShareGroups(List.of("workers")).describedGroups().get("workers").get();
            assertThat(d.members()).hasSize(5);
            assertThat(d.members()).allSatisfy(m -> assertThat(m.assignment().topicPartitions()).hasSize(1));
        }
    }

    @Test
    void eachAcknowledgementDoesWhatItSays() throws Exception {
        Uuid id = createTopic("jobs", 1);
        KafkaShareConsumer<String, String> c = consumer("acks", Map.of("share.acknowledgement.mode", "explicit"));
        open.add(c);
        c.subscribe(List.of("jobs"));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100)).forEach(r -> c.acknowledge(r, AcknowledgeType.ACCEPT));
            return Brokers.await(broker.shares().state("acks", id, 0)).isPresent();
        });
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (String v : List.of("accept-me", "release-me", "reject-me")) p.send(new ProducerRecord<>("jobs", v)).get();
        }
        List<ConsumerRecord<String, String>> first = new ArrayList<>();
        List<ConsumerRecord<String, String>> again = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                if (r.deliveryCount().orElse((short) 1) > 1) { // the released one, back already
                    again.add(r);
                    c.acknowledge(r, AcknowledgeType.ACCEPT);
                    continue;
                }
                first.add(r);
                c.acknowledge(r, switch (r.value()) {
                    case "accept-me" -> AcknowledgeType.ACCEPT;
                    case "release-me" -> AcknowledgeType.RELEASE;
                    default -> AcknowledgeType.REJECT;
                });
            }
            c.commitSync();
            return first.stream().map(ConsumerRecord::value).distinct().count() >= 3;
        });
        assertThat(first).extracting(ConsumerRecord::value).containsExactly("accept-me", "release-me", "reject-me");
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                again.add(r);
                c.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            return !again.isEmpty();
        });
        c.commitSync();
        assertThat(again).extracting(ConsumerRecord::value).containsExactly("release-me");
        assertThat(again.get(0).deliveryCount()).contains((short) 2);
        SharePartitionState st = Brokers.await(broker.shares().state("acks", id, 0)).orElseThrow();
        assertThat(st.startOffset()).as("all three done: accepted, rejected, accepted on the second delivery").isEqualTo(3);
        assertThat(c.poll(Duration.ofMillis(500))).as("the rejected record is not delivered again").isEmpty();
    }

    @Test
    void theRecordLimitAcquireModeNeverHandsOutMoreThanMaxPollRecords() throws Exception {
        Uuid id = createTopic("limited", 1);
        KafkaShareConsumer<String, String> c = consumer("limit", Map.of("share.acquire.mode", "record_limit", ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 3));
        open.add(c);
        c.subscribe(List.of("limited"));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100));
            return Brokers.await(broker.shares().state("limit", id, 0)).isPresent();
        });
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("linger.ms", 1_000))) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("limited", "r" + i));
            p.flush(); // one batch of ten: batch-optimized acquisition would take it whole
        }
        List<String> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            List<String> polled = new ArrayList<>();
            c.poll(Duration.ofMillis(100)).forEach(r -> polled.add(r.value()));
            assertThat(polled.size()).as("one poll").isLessThanOrEqualTo(3);
            got.addAll(polled);
            return got.size() >= 10;
        });
        assertThat(got).containsExactly("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9");
    }

    @Test
    void recordsAMemberHoldsWithoutAcknowledgingGoToAnotherWhenTheLockExpires() throws Exception {
        Uuid id = createTopic("slow", 1);
        KafkaShareConsumer<String, String> stuck = consumer("locks", Map.of("share.acknowledgement.mode", "explicit"));
        open.add(stuck);
        stuck.subscribe(List.of("slow"));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            stuck.poll(Duration.ofMillis(100));
            return Brokers.await(broker.shares().state("locks", id, 0)).isPresent();
        });
        long producedAt = System.nanoTime(); // before the record exists, so before its lock was taken
        produce1("slow", "held");
        List<ConsumerRecord<String, String>> held = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            stuck.poll(Duration.ofMillis(100)).forEach(held::add);
            return !held.isEmpty();
        });
        // The stuck member never acknowledges nor polls again; another member gets the record once its lock ran out.
        KafkaShareConsumer<String, String> other = consumer("locks", Map.of());
        open.add(other);
        other.subscribe(List.of("slow"));
        List<ConsumerRecord<String, String>> redelivered = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            other.poll(Duration.ofMillis(100)).forEach(redelivered::add);
            return !redelivered.isEmpty();
        });
        long afterMs = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - producedAt);
        assertThat(afterMs).as("not before the lock (3 s) ran out").isGreaterThanOrEqualTo(3_000);
        assertThat(redelivered).extracting(ConsumerRecord::value).containsExactly("held");
        assertThat(redelivered.get(0).deliveryCount()).contains((short) 2);
        assertThat(Set.of(held.get(0).offset())).containsExactly(redelivered.get(0).offset());
    }

    @Test
    void aRestartKeepsAcceptedRecordsDoneAndTheRestDeliverable() throws Exception {
        Uuid id = createTopic("durable", 1);
        KafkaShareConsumer<String, String> c = consumer("keep", Map.of("share.acknowledgement.mode", "explicit"));
        open.add(c);
        c.subscribe(List.of("durable"));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100));
            return Brokers.await(broker.shares().state("keep", id, 0)).isPresent();
        });
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("linger.ms", 1_000))) {
            for (int i = 0; i < 4; i++) p.send(new ProducerRecord<>("durable", "r" + i));
            p.flush(); // one batch: acquired whole by one fetch
        }
        // r0 and r1 accepted and stored; r2 and r3 held by the member when the broker stops.
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100)).forEach(got::add);
            return !got.isEmpty();
        });
        assertThat(got).extracting(ConsumerRecord::value).containsExactly("r0", "r1", "r2", "r3");
        c.acknowledge(got.get(0), AcknowledgeType.ACCEPT);
        c.acknowledge(got.get(1), AcknowledgeType.ACCEPT);
        c.commitSync(Duration.ofSeconds(10));
        broker.stop().get(30, java.util.concurrent.TimeUnit.SECONDS);
        open.remove(c);
        c.close(Duration.ofMillis(100));
        broker = Brokers.start(data, brokerConfig(), org.apache.kafka.common.utils.Time.SYSTEM);

        KafkaShareConsumer<String, String> after = consumer("keep", Map.of());
        open.add(after);
        after.subscribe(List.of("durable"));
        List<ConsumerRecord<String, String>> again = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            after.poll(Duration.ofMillis(100)).forEach(again::add);
            return again.size() >= 2;
        });
        assertThat(again).extracting(ConsumerRecord::value).containsExactly("r2", "r3");
        assertThat(again).allSatisfy(r -> assertThat(r.deliveryCount()).contains((short) 2));
        assertThat(after.poll(Duration.ofMillis(500))).as("nothing accepted comes back").isEmpty();
    }

    @Test
    void groupConfigsSetWithTheAdminClientApplyToTheGroup() throws Exception {
        createTopic("backlog", 2);
        produce("backlog", 10); // before the group exists: only share.auto.offset.reset=earliest reaches them
        ConfigResource group = new ConfigResource(ConfigResource.Type.GROUP, "from-start");
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            admin.incrementalAlterConfigs(Map.of(group, List.of(
                    new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("share.record.lock.duration.ms", "15000"), AlterConfigOp.OpType.SET)))).all().get();
            Config described = admin.describeConfigs(List.of(group)).all().get().get(group);
            assertThat(described.get("share.auto.offset.reset").value()).isEqualTo("earliest");
            assertThat(described.get("share.auto.offset.reset").source()).isEqualTo(ConfigEntry.ConfigSource.DYNAMIC_GROUP_CONFIG);
            assertThat(described.get("share.delivery.count.limit").value()).isEqualTo("5");
            assertThat(described.get("share.delivery.count.limit").source()).isEqualTo(ConfigEntry.ConfigSource.DEFAULT_CONFIG);
            for (String[] bad : new String[][] {{"share.auto.offset.reset", "sometimes"}, {"share.delivery.count.limit", "99"}, {"no.such.key", "1"},
                    {"share.heartbeat.interval.ms", "60000"}}) { // longer than the session timeout (10 s here)
                assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> admin.incrementalAlterConfigs(Map.of(group, List.of(
                        new AlterConfigOp(new ConfigEntry(bad[0], bad[1]), AlterConfigOp.OpType.SET)))).all().get()))
                        .as("%s=%s", bad[0], bad[1]).hasCauseInstanceOf(org.apache.kafka.common.errors.InvalidConfigurationException.class);
            }
        }
        KafkaShareConsumer<String, String> c = consumer("from-start", Map.of());
        open.add(c);
        c.subscribe(List.of("backlog"));
        List<String> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100)).forEach(r -> got.add(r.value()));
            return got.size() >= 10;
        });
        assertThat(got).hasSize(10).doesNotHaveDuplicates();

        broker.stop().get(30, java.util.concurrent.TimeUnit.SECONDS);
        broker = Brokers.start(data, brokerConfig(), org.apache.kafka.common.utils.Time.SYSTEM);
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            assertThat(admin.describeConfigs(List.of(group)).all().get().get(group).get("share.record.lock.duration.ms").value())
                    .as("kept across a restart").isEqualTo("15000");
        }
    }

    private void produce1(String topic, String value) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            p.send(new ProducerRecord<>(topic, value)).get();
        }
    }
}
