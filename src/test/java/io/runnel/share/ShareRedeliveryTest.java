package io.runnel.share;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.ShareWorkerMain;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What happens to a share group's records when their member fails them (KIP-932), with kafka-clients 4.4.0: a member
 * killed with records in flight, a member frozen past its locks, a record released until the delivery limit, a
 * member that renews its lock past the lock duration, and transactions (a share group reads committed records).
 */
class ShareRedeliveryTest extends BrokerPerTest {
    private static final int LOCK_MS = 4_000;
    private static final int SESSION_TIMEOUT_MS = 10_000;
    private final List<KafkaShareConsumer<String, String>> open = new CopyOnWriteArrayList<>();
    private final List<BrokerProcess> workers = new CopyOnWriteArrayList<>();

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("group.share.heartbeat.interval.ms", "500", "group.share.session.timeout.ms", Integer.toString(SESSION_TIMEOUT_MS),
                "group.share.record.lock.duration.ms", Integer.toString(LOCK_MS));
    }

    @AfterEach
    void closeClients() throws Exception {
        for (BrokerProcess w : workers) w.close();
        for (KafkaShareConsumer<String, String> c : open) c.close(Duration.ofSeconds(5));
    }

    private KafkaShareConsumer<String, String> consumer(String group, Map<String, Object> extra) {
        KafkaShareConsumer<String, String> c = KafkaClients.shareConsumer(broker.bootstrapServers(), group, extra);
        open.add(c);
        return c;
    }

    private Optional<SharePartitionState> state(String group, Uuid topicId) throws Exception {
        return Brokers.await(broker.shares().state(group, topicId, 0));
    }

    private void groupConfig(String group, String key, String value) throws Exception {
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group), List.of(new AlterConfigOp(
                    new ConfigEntry(key, value), AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
        }
    }

    /** Records in one batch (one fetch acquires them together). */
    private void produce(String topic, String... values) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("linger.ms", 1_000))) {
            for (String v : values) p.send(new ProducerRecord<>(topic, 0, null, v));
            p.flush();
        }
    }

    /** When the last {@link #workerHolding} wrote its records: before any lock on them was taken. */
    private long producedAt;

    /** A member in its own JVM that holds the first records it gets; returns once it holds them, with their offsets. */
    private List<Long> workerHolding(BrokerProcess worker, String group, Uuid topicId, String topic, String... values) throws Exception {
        worker.awaitOutput("SUBSCRIBED", Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(30)).until(() -> state(group, topicId).isPresent()); // it reads from the end: records after this
        producedAt = System.nanoTime();
        produce(topic, values);
        worker.awaitOutput("HOLDING", Duration.ofSeconds(30));
        List<Long> held = new ArrayList<>();
        for (String line : worker.outputLines()) if (line.startsWith("HELD ")) held.add(Long.parseLong(line.split(" ")[2]));
        return held;
    }

    private BrokerProcess worker(String group, String topic) throws Exception {
        BrokerProcess w = BrokerProcess.launch(data, ShareWorkerMain.class.getName(), broker.bootstrapServers(), group, topic);
        workers.add(w);
        return w;
    }

    @Test
    void recordsOfAMemberKilledWithThemInFlightAreDeliveredToAnother() throws Exception {
        Uuid id = createTopic("jobs", 1);
        BrokerProcess w = worker("killed", "jobs");
        List<Long> held = workerHolding(w, "killed", id, "jobs", "a", "b", "c");
        assertThat(held).containsExactly(0L, 1L, 2L);
        assertThat(state("killed", id).orElseThrow().stateOf(0)).isEqualTo(SharePartitionState.RecordState.ACQUIRED);
        w.kill9();

        KafkaShareConsumer<String, String> other = consumer("killed", Map.of());
        List<ConsumerRecord<String, String>> got = subscribeAndTake(other, "jobs", 3);
        assertThat(got).extracting(ConsumerRecord::offset).containsExactly(0L, 1L, 2L);
        assertThat(got).extracting(ConsumerRecord::value).containsExactly("a", "b", "c");
        assertThat(got).allSatisfy(r -> assertThat(r.deliveryCount()).as("the second delivery").contains((short) 2));
        other.commitSync(Duration.ofSeconds(10));
        await().atMost(Duration.ofSeconds(10)).until(() -> state("killed", id).orElseThrow().startOffset() == 3);
    }

    @Test
    void recordsOfAFrozenMemberGoToAnotherOnlyOnceTheirLockRunsOut() throws Exception {
        Uuid id = createTopic("jobs", 1);
        BrokerProcess w = worker("frozen", "jobs");
        List<Long> held = workerHolding(w, "frozen", id, "jobs", "x", "y");
        assertThat(held).containsExactly(0L, 1L);
        w.pause(); // its connection stays open and its session alive: only the locks can free the records

        KafkaShareConsumer<String, String> other = consumer("frozen", Map.of());
        List<ConsumerRecord<String, String>> got = subscribeAndTake(other, "jobs", 2);
        long afterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - producedAt);
        assertThat(got).extracting(ConsumerRecord::value).containsExactly("x", "y");
        assertThat(got).allSatisfy(r -> assertThat(r.deliveryCount()).contains((short) 2));
        // Not before the lock ran out (counted from before the records existed, so from before it was taken).
        assertThat(afterMs).as("ms from the records' writing to their second delivery").isGreaterThanOrEqualTo(LOCK_MS);
    }

    @Test
    void aRecordReleasedUntilTheDeliveryLimitIsArchivedAndTheGroupMovesOn() throws Exception {
        Uuid id = createTopic("jobs", 1);
        groupConfig("limited", "share.delivery.count.limit", "3");
        KafkaShareConsumer<String, String> c = consumer("limited", Map.of("share.acknowledgement.mode", "explicit"));
        c.subscribe(List.of("jobs"));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100)).forEach(r -> c.acknowledge(r, AcknowledgeType.ACCEPT));
            return state("limited", id).isPresent();
        });
        produce("jobs", "poison");
        List<Short> deliveries = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                deliveries.add(r.deliveryCount().orElseThrow());
                c.acknowledge(r, AcknowledgeType.RELEASE); // the worker fails it, every time
            }
            c.commitSync(Duration.ofSeconds(10));
            return deliveries.size() >= 3;
        });
        assertThat(deliveries).containsExactly((short) 1, (short) 2, (short) 3);
        assertThat(state("limited", id).orElseThrow().startOffset()).as("archived: the group is past it").isEqualTo(1);
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> c.poll(Duration.ofMillis(100)).isEmpty());

        produce("jobs", "next");
        List<ConsumerRecord<String, String>> after = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                after.add(r);
                c.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            return !after.isEmpty();
        });
        assertThat(after).extracting(ConsumerRecord::value).containsExactly("next");
        assertThat(after.get(0).deliveryCount()).contains((short) 1);
    }

    @Test
    void aMemberThatRenewsItsLockKeepsTheRecordPastTheLockDuration() throws Exception {
        Uuid id = createTopic("jobs", 1);
        KafkaShareConsumer<String, String> slow = consumer("renewing", Map.of("share.acknowledgement.mode", "explicit"));
        slow.subscribe(List.of("jobs"));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            slow.poll(Duration.ofMillis(100));
            return state("renewing", id).isPresent();
        });
        // Another member polls all along: it must never be given the record the slow one renews.
        KafkaShareConsumer<String, String> other = consumer("renewing", Map.of());
        other.subscribe(List.of("jobs"));
        List<String> stolen = new CopyOnWriteArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = new Thread(() -> {
            while (!stop.get()) other.poll(Duration.ofMillis(100)).forEach(r -> stolen.add(r.value()));
        }, "other-member");
        t.start();
        try {
            produce("jobs", "long-job");
            long[] firstAt = {0};
            List<Short> counts = new ArrayList<>();
            boolean[] accepted = {false};
            // Each pass of the poll loop renews (as KafkaShareConsumer's javadoc shows); after twice the lock duration, accepted.
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(LOCK_MS / 8)).until(() -> {
                for (ConsumerRecord<String, String> r : slow.poll(Duration.ofMillis(100))) {
                    if (firstAt[0] == 0) firstAt[0] = System.nanoTime();
                    counts.add(r.deliveryCount().orElseThrow());
                    boolean done = System.nanoTime() - firstAt[0] > TimeUnit.MILLISECONDS.toNanos(2L * LOCK_MS);
                    slow.acknowledge(r, done ? AcknowledgeType.ACCEPT : AcknowledgeType.RENEW);
                    accepted[0] |= done;
                }
                slow.commitSync(Duration.ofSeconds(10));
                return accepted[0];
            });
            assertThat(counts).as("returned by each poll after a renewal, never delivered again").isNotEmpty().containsOnly((short) 1);
            assertThat(state("renewing", id).orElseThrow().startOffset()).isEqualTo(1);
        } finally {
            stop.set(true);
            t.join(30_000);
        }
        assertThat(stolen).as("the other member never got it").isEmpty();
    }

    @Test
    void aShareGroupReadsCommittedRecordsOnlyUnlessToldOtherwise() throws Exception {
        Uuid id = createTopic("orders", 1);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("transactional.id", "orders-tx"))) {
            p.initTransactions();
            for (String v : List.of("committed-1", "aborted", "committed-2")) {
                p.beginTransaction();
                p.send(new ProducerRecord<>("orders", 0, null, v)).get();
                if (v.equals("aborted")) p.abortTransaction();
                else p.commitTransaction();
            }
        }
        long end = broker.topics().partition("orders", 0).orElseThrow().logEndOffset(); // three records and three markers
        assertThat(end).isEqualTo(6);
        groupConfig("committed", "share.auto.offset.reset", "earliest");
        groupConfig("everything", "share.auto.offset.reset", "earliest");
        groupConfig("everything", "share.isolation.level", "read_uncommitted");

        assertThat(readAll("committed", 2)).containsExactly("committed-1", "committed-2");
        await().atMost(Duration.ofSeconds(10)).until(() -> state("committed", id).orElseThrow().startOffset() == end);
        assertThat(readAll("everything", 3)).containsExactly("committed-1", "aborted", "committed-2");
        await().atMost(Duration.ofSeconds(10)).until(() -> state("everything", id).orElseThrow().startOffset() == end);
    }

    /** What a new member of {@code group} gets, accepting each, until it has {@code count} and then nothing more for a second. */
    private List<String> readAll(String group, int count) throws Exception {
        KafkaShareConsumer<String, String> c = consumer(group, Map.of());
        List<String> got = new ArrayList<>(subscribeAndTake(c, "orders", count).stream().map(ConsumerRecord::value).toList());
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> {
            c.poll(Duration.ofMillis(100)).forEach(r -> got.add(r.value()));
            return true;
        });
        c.commitSync(Duration.ofSeconds(10));
        return got;
    }

    /** Subscribes {@code c} to {@code topic} and polls until it has at least {@code count} records. */
    private static List<ConsumerRecord<String, String>> subscribeAndTake(KafkaShareConsumer<String, String> c, String topic, int count) {
        c.subscribe(List.of(topic));
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            c.poll(Duration.ofMillis(100)).forEach(got::add);
            return got.size() >= count;
        });
        return got;
    }
}
