package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rolling restart with controlled shutdown (SIGTERM), as operators do it: each broker of three in turn is stopped
 * and started again once every partition is fully replicated, while an idempotent acks=all producer sends at a steady
 * rate and a consumer group of two members reads and commits after each poll. No send fails (the producer sees only
 * retriable errors, which it retries), every acknowledged record is in the log exactly once and in order per key, the
 * group reads each of them exactly once (its coordinator moves with the leadership of its __consumer_offsets
 * partition, members and generation included, so nobody is rebalanced out), no partition goes without an
 * acknowledgement and the group never stops reading for longer than {@link #LONGEST_STOP}, and each stopped broker
 * moved its leaderships before it stopped serving (its log says so).
 */
class RollingRestartTest {
    private static final String TOPIC = "orders";
    private static final int PARTITIONS = 6;
    private static final int MAX_RECORDS = 100_000;
    /** Records per batch; one batch every {@link #BATCH_EVERY_MS}: a steady 200 records a second. */
    private static final int BATCH = 10;
    private static final long BATCH_EVERY_MS = 50;
    private static final long MAX_RUN_MS = 300_000;
    /**
     * The longest the group may go without a record while the producer runs: a leader change costs the clients a
     * metadata refresh and a retry (their backoff is up to a second), a coordinator change a lookup. Kafka's own figure
     * for a hard failure is the session timeout plus an election; a controlled shutdown should stay well under it.
     */
    private static final Duration LONGEST_STOP = Duration.ofSeconds(10);

    @TempDir
    Path root;

    @Test
    void aRollingRestartUnderLoadFailsNoSendLosesAndDuplicatesNothingAndKeepsTheGroupReading() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic(TOPIC, PARTITIONS, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            awaitFullyReplicated(cluster);
            String bootstrap = cluster.bootstrap();
            AtomicBoolean stop = new AtomicBoolean();
            Queue<String> acked = new ConcurrentLinkedQueue<>();
            Queue<Exception> sendErrors = new ConcurrentLinkedQueue<>();
            AtomicInteger sent = new AtomicInteger();
            AtomicBoolean measuring = new AtomicBoolean();
            Map<Integer, Long> lastAckPerPartition = new ConcurrentHashMap<>();
            AtomicLong longestProduceGap = new AtomicLong();
            Map<String, Integer> timesRead = new ConcurrentHashMap<>();
            AtomicLong lastRead = new AtomicLong(System.nanoTime());
            AtomicLong longestGap = new AtomicLong();
            Queue<Throwable> consumerErrors = new ConcurrentLinkedQueue<>();
            AtomicBoolean consumersDone = new AtomicBoolean();
            Thread producer = new Thread(() -> produce(bootstrap, stop, sent, acked, sendErrors, measuring, lastAckPerPartition, longestProduceGap),
                    "rolling-producer");
            List<Thread> consumers = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                consumers.add(new Thread(() -> consume(bootstrap, consumersDone, timesRead, lastRead, longestGap, measuring, consumerErrors),
                        "rolling-consumer-" + i));
            }
            producer.start();
            consumers.forEach(Thread::start);
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> timesRead.size() >= 500); // both running
                // Gaps count from here: the group has joined and every partition has been written.
                await().atMost(Duration.ofSeconds(60)).until(() -> lastAckPerPartition.size() == PARTITIONS);
                lastRead.set(System.nanoTime());
                measuring.set(true);
                for (int id = 1; id <= cluster.size(); id++) {
                    int before = acked.size();
                    String stopped = cluster.restartGracefully(id);
                    assertThat(stopped).as("broker %d's controlled shutdown", id).contains("controlled shutdown took")
                            .doesNotContain("did not complete").doesNotContain("stopping without moving").contains("every log is flushed");
                    awaitFullyReplicated(cluster); // as an operator waits before the next broker
                    await().atMost(Duration.ofSeconds(60)).until(() -> acked.size() >= before + 400);
                }
            } finally {
                measuring.set(false);
                stop.set(true);
                producer.join(150_000);
            }
            assertThat(sendErrors).as("sends that failed").isEmpty();
            assertThat(acked).hasSize(sent.get());
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> timesRead.keySet().containsAll(acked));
            } finally {
                consumersDone.set(true);
                for (Thread c : consumers) c.join(30_000);
            }
            assertThat(consumerErrors).as("consumer errors").isEmpty();
            assertThat(timesRead.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
                    .as("records the group read twice").isEmpty();
            assertThat(Duration.ofNanos(longestGap.get())).as("the longest the group read nothing while records were sent")
                    .isLessThan(LONGEST_STOP);
            assertThat(Duration.ofNanos(longestProduceGap.get())).as("the longest a partition acknowledged nothing")
                    .isLessThan(LONGEST_STOP);
            assertLogHoldsEachAcknowledgedRecordOnceInOrder(cluster.bootstrap(), acked);
        }
    }

    /** A steady stream, bounded in count and time; each batch flushed. A failed send is recorded (it must not happen). */
    private static void produce(String bootstrap, AtomicBoolean stop, AtomicInteger sent, Queue<String> acked, Queue<Exception> errors,
                                AtomicBoolean measuring, Map<Integer, Long> lastAck, AtomicLong longestGap) {
        long deadline = System.currentTimeMillis() + MAX_RUN_MS;
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true, ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
            long next = System.currentTimeMillis();
            while (!stop.get() && sent.get() < MAX_RECORDS && System.currentTimeMillis() < deadline) {
                long wait = next - System.currentTimeMillis();
                if (wait > 0) LockSupport.parkNanos(wait * 1_000_000); // pacing, not synchronisation
                next = Math.max(next, System.currentTimeMillis() - BATCH_EVERY_MS) + BATCH_EVERY_MS;
                for (int i = 0; i < BATCH; i++) {
                    int n = sent.getAndIncrement();
                    String v = "v" + n;
                    p.send(new ProducerRecord<>(TOPIC, "k" + (n % 24), v), (md, e) -> {
                        if (e != null) {
                            errors.add(e);
                            return;
                        }
                        acked.add(v);
                        long now = System.nanoTime();
                        Long previous = lastAck.put(md.partition(), now);
                        if (previous != null && measuring.get()) longestGap.accumulateAndGet(now - previous, Math::max);
                    });
                }
                p.flush();
            }
        } catch (RuntimeException e) {
            errors.add(e);
        }
    }

    /**
     * A member of the group: reads, counts each record, commits synchronously after each poll and before giving
     * partitions up, and keeps the longest time without a record while the producer runs.
     */
    private static void consume(String bootstrap, AtomicBoolean done, Map<String, Integer> timesRead, AtomicLong lastRead, AtomicLong longestGap,
                                AtomicBoolean measuring, Queue<Throwable> errors) {
        long deadline = System.currentTimeMillis() + MAX_RUN_MS;
        try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(bootstrap, "classic", "rolling-readers",
                Map.of("max.poll.records", 200))) {
            c.subscribe(List.of(TOPIC), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    c.commitSync();
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                }
            });
            while (!done.get() && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(100));
                long now = System.nanoTime();
                if (!records.isEmpty()) {
                    long previous = lastRead.getAndSet(now);
                    if (measuring.get()) longestGap.accumulateAndGet(now - previous, Math::max);
                }
                for (ConsumerRecord<String, String> r : records) timesRead.merge(r.value(), 1, Integer::sum);
                if (!records.isEmpty()) c.commitSync();
            }
        } catch (RuntimeException e) {
            errors.add(e);
        }
    }

    private static void assertLogHoldsEachAcknowledgedRecordOnceInOrder(String bootstrap, Collection<String> acked) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(TOPIC, p));
        List<ConsumerRecord<String, String>> got = KafkaClients.readToEnd(bootstrap, "read_uncommitted", tps);
        assertThat(got.stream().map(ConsumerRecord::value).toList()).as("the log").doesNotHaveDuplicates().containsAll(acked);
        Map<String, Integer> lastByKey = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) { // per key (one partition each), in the order sent
            int n = Integer.parseInt(r.value().substring(1));
            assertThat(n).as("order of key %s", r.key()).isGreaterThan(lastByKey.getOrDefault(r.key(), -1));
            lastByKey.put(r.key(), n);
        }
    }

    /** Every partition's ISR is all three brokers, as each broker tells it (no under-replicated partition). */
    private static void awaitFullyReplicated(LocalCluster cluster) {
        await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            for (int via = 1; via <= cluster.size(); via++) {
                try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
                    TopicDescription d = admin.describeTopics(List.of(TOPIC)).allTopicNames().get().get(TOPIC);
                    for (TopicPartitionInfo p : d.partitions()) {
                        assertThat(p.isr().stream().map(Node::id)).as("ISR of partition %d seen by %d", p.partition(), via)
                                .containsExactlyInAnyOrder(1, 2, 3);
                    }
                }
            }
        });
    }
}
