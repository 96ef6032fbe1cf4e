package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
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
 * Replication across three broker JVMs: a topic with replication factor 3 and min.insync.replicas=2; an idempotent
 * producer with acks=all under steady load and a consumer group reading all along; the leader of a partition is
 * killed with -9 and restarted, three times over while both run. Afterwards every acknowledged record is in the log
 * exactly once and in order per key, the consumers have seen every one of them, and the restarted brokers are back
 * in the ISR.
 */
class ReplicationTest {
    private static final int MAX_RECORDS = 200_000;
    /** Records per batch; one batch every {@link #BATCH_EVERY_MS}: a steady 500 records a second. */
    private static final int BATCH = 25;
    private static final long BATCH_EVERY_MS = 50;
    private static final long MAX_RUN_MS = 300_000;

    @TempDir
    Path root;

    @Test
    void acknowledgedRecordsSurviveTheLossOfLeadersUnderSteadyLoadAndConsumersFinish() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic("replicated", 3, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            awaitFullIsr(cluster);
            String bootstrap = cluster.bootstrap();
            AtomicBoolean stop = new AtomicBoolean();
            Set<String> acked = ConcurrentHashMap.newKeySet();
            AtomicReference<Exception> producerError = new AtomicReference<>();
            AtomicInteger sent = new AtomicInteger();
            Thread producer = new Thread(() -> produce(bootstrap, stop, sent, acked, producerError), "steady-producer");
            Set<String> consumed = ConcurrentHashMap.newKeySet();
            AtomicBoolean consumersDone = new AtomicBoolean();
            Thread consumer = new Thread(() -> consume(bootstrap, consumersDone, consumed), "group-consumer");
            producer.start();
            consumer.start();
            try {
                for (int round = 0; round < 3; round++) {
                    int before = acked.size();
                    await().atMost(Duration.ofSeconds(60)).until(() -> acked.size() >= before + 300);
                    int victim = leaderOf(cluster, round % 3);
                    cluster.broker(victim).kill9();
                    awaitNewLeader(cluster, round % 3, victim);
                    int during = acked.size();
                    await().atMost(Duration.ofSeconds(60)).until(() -> acked.size() >= during + 300); // acks=all goes on with two
                    cluster.restart(victim);
                    awaitFullIsr(cluster); // the restarted broker caught up and is in sync again
                }
            } finally {
                stop.set(true);
                producer.join(150_000);
            }
            assertThat(producerError.get()).as("every record sent was acknowledged in the end").isNull();
            assertThat(acked).hasSize(sent.get());
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> consumed.containsAll(acked)); // the consumers finished
            } finally {
                consumersDone.set(true);
                consumer.join(30_000);
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                List<TopicPartition> tps = List.of(new TopicPartition("replicated", 0), new TopicPartition("replicated", 1),
                        new TopicPartition("replicated", 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, acked.size());
                assertThat(got).hasSize(acked.size());
                assertThat(got.stream().map(ConsumerRecord::value).distinct().count()).isEqualTo(acked.size()); // no duplicates
                Map<String, Integer> lastByKey = new HashMap<>();
                for (ConsumerRecord<String, String> r : got) { // per key (one partition each), in the order sent
                    int n = Integer.parseInt(r.value().substring(1));
                    assertThat(n).isGreaterThan(lastByKey.getOrDefault(r.key(), -1));
                    lastByKey.put(r.key(), n);
                }
            }
        }
    }

    /**
     * Sends a steady stream (a batch of {@link #BATCH} every {@link #BATCH_EVERY_MS} ms, each flushed: the producer's
     * own back pressure when a leader is gone) until stopped, bounded in count and time.
     */
    private static void produce(String bootstrap, AtomicBoolean stop, AtomicInteger sent, Set<String> acked, AtomicReference<Exception> error) {
        long deadline = System.currentTimeMillis() + MAX_RUN_MS;
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
            long next = System.currentTimeMillis();
            while (!stop.get() && sent.get() < MAX_RECORDS && System.currentTimeMillis() < deadline) {
                long wait = next - System.currentTimeMillis();
                if (wait > 0) LockSupport.parkNanos(wait * 1_000_000); // pacing, not synchronisation
                next = Math.max(next, System.currentTimeMillis() - BATCH_EVERY_MS) + BATCH_EVERY_MS;
                for (int i = 0; i < BATCH; i++) {
                    int n = sent.getAndIncrement();
                    String v = "v" + n;
                    p.send(new ProducerRecord<>("replicated", "k" + (n % 30), v), (md, e) -> {
                        if (e == null) acked.add(v);
                        else error.compareAndSet(null, e);
                    });
                }
                p.flush();
            }
        } catch (RuntimeException e) {
            error.compareAndSet(null, e);
        }
    }

    /** A consumer group member reading from the start until told to stop (bounded in time). */
    private static void consume(String bootstrap, AtomicBoolean done, Set<String> consumed) {
        long deadline = System.currentTimeMillis() + MAX_RUN_MS;
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of("group.id", "replication-readers",
                "auto.offset.reset", "earliest"))) {
            c.subscribe(List.of("replicated"));
            while (!done.get() && System.currentTimeMillis() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(r -> consumed.add(r.value()));
            }
        }
    }

    private static Map<Integer, TopicPartitionInfo> describe(LocalCluster cluster, int via) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.broker(via).kafkaBootstrap())) {
            TopicDescription d = admin.describeTopics(List.of("replicated")).allTopicNames().get().get("replicated");
            Map<Integer, TopicPartitionInfo> out = new HashMap<>();
            for (TopicPartitionInfo p : d.partitions()) out.put(p.partition(), p);
            return out;
        }
    }

    private static int leaderOf(LocalCluster cluster, int partition) throws Exception {
        return describe(cluster, 1 + partition % 3).get(partition).leader().id();
    }

    private static void awaitNewLeader(LocalCluster cluster, int partition, int old) {
        int via = old % 3 + 1;
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            TopicPartitionInfo p = describe(cluster, via).get(partition);
            assertThat(p.leader()).isNotNull();
            assertThat(p.leader().id()).isNotEqualTo(old);
        });
    }

    private static void awaitFullIsr(LocalCluster cluster) {
        await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            for (int via = 1; via <= 3; via++) {
                for (TopicPartitionInfo p : describe(cluster, via).values()) {
                    assertThat(p.isr().stream().map(Node::id)).as("ISR of partition %d seen by %d", p.partition(), via)
                            .containsExactlyInAnyOrder(1, 2, 3);
                }
            }
        });
    }
}
