package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Apache Kafka's own {@code TransactionalMessageCopier} (kafka-tools 4.4.0, the program of Kafka's transactions system
 * test, run in JVMs of their own) copies a topic, one copier per input partition, each a read_committed consumer and a
 * transactional producer committing its offsets with its output, against a three-broker cluster; meanwhile the broker
 * coordinating a copier's transactional id is killed with -9 and restarted, then the leader of an output partition.
 * The output, read with read_committed, holds every input record exactly once and in the input's order per partition.
 */
class TransactionalMessageCopierTest {
    private static final int PARTITIONS = 3;
    private static final int RECORDS = 3000;
    private static final Pattern PROGRESS = Pattern.compile("\"remaining\":(\\d+)");

    @TempDir
    Path root;

    @Test
    void kafkasCopierCopiesEveryRecordExactlyOnceWhileTheCoordinatorAndALeaderAreKilled() throws Exception {
        Path classpathFile = Path.of("target", "kafka-tools.classpath");
        assertThat(classpathFile).as("scripts/test resolves kafka-tools 4.4.0 and writes its classpath there").exists();
        String toolsClasspath = Files.readString(classpathFile).trim();
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                Map<String, String> configs = Map.of("min.insync.replicas", "2");
                admin.createTopics(List.of(new NewTopic("input", PARTITIONS, (short) 3).configs(configs),
                        new NewTopic("output", PARTITIONS, (short) 3).configs(configs))).all().get(30, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() ->
                        admin.describeTopics(List.of("input", "output")).allTopicNames().get(10, TimeUnit.SECONDS).values().stream()
                                .allMatch(d -> d.partitions().stream().allMatch(p -> p.leader() != null)));
            }
            List<List<String>> input = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) input.add(new ArrayList<>());
            try (KafkaProducer<String, String> feeder = KafkaClients.producer(cluster.bootstrap(), Map.of())) {
                for (int i = 0; i < RECORDS; i++) {
                    String v = "record-" + i;
                    feeder.send(new ProducerRecord<>("input", i % PARTITIONS, "k" + (i % 50), v));
                    input.get(i % PARTITIONS).add(v);
                }
                feeder.flush();
            }

            List<BrokerProcess> copiers = new ArrayList<>();
            try {
                for (int p = 0; p < PARTITIONS; p++) {
                    copiers.add(BrokerProcess.launchWithClasspath(root, List.of("-Xmx192m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                            "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.clients.producer.internals.TransactionManager=info"), toolsClasspath, "org.apache.kafka.tools.TransactionalMessageCopier",
                            "--broker-list", cluster.bootstrap(), "--input-topic", "input", "--input-partition", Integer.toString(p),
                            "--output-topic", "output", "--consumer-group", "copiers-" + p, "--transactional-id", "copier-" + p,
                            "--transaction-size", "40", "--transaction-timeout", "30000", "--max-messages", "-1"));
                }
                // A third of the way, the coordinator of copier-0 dies; two thirds, the leader of output partition 1.
                awaitCopied(copiers, RECORDS / 3);
                int coordinator = leaderOf(cluster, "__transaction_state", Utils.abs("copier-0".hashCode()) % 5);
                cluster.broker(coordinator).kill9();
                cluster.restart(coordinator);
                awaitCopied(copiers, 2 * RECORDS / 3);
                int leader = leaderOf(cluster, "output", 1);
                cluster.broker(leader).kill9();
                cluster.restart(leader);
                for (BrokerProcess c : copiers) {
                    await().atMost(Duration.ofSeconds(180)).until(() -> !c.isAlive());
                    assertThat(c.waitForExit()).as("copier output:%n%s", tail(c)).isZero();
                }
            } finally {
                for (BrokerProcess c : copiers) c.close();
            }

            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
                List<TopicPartition> tps = new ArrayList<>();
                for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition("output", p));
                c.assign(tps);
                c.seekToBeginning(tps);
                Map<Integer, List<String>> output = new HashMap<>();
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        output.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r.value());
                    }
                    Map<TopicPartition, Long> end = c.endOffsets(tps);
                    return tps.stream().allMatch(tp -> c.position(tp) >= end.get(tp));
                });
                for (int p = 0; p < PARTITIONS; p++) {
                    assertThat(output.getOrDefault(p, List.of())).as("output partition %d: every input record once, in order", p).isEqualTo(input.get(p));
                }
            }
        }
    }

    /** Waits until the copiers together report at least {@code records} copied (committed). */
    private static void awaitCopied(List<BrokerProcess> copiers, int records) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100)).until(() -> {
            long remaining = 0;
            for (BrokerProcess c : copiers) remaining += lastRemaining(c);
            return RECORDS - remaining >= records;
        });
    }

    /** The copier's last reported count of records left to copy (its whole partition before it reports). */
    private static long lastRemaining(BrokerProcess copier) throws IOException {
        long last = RECORDS / PARTITIONS;
        Matcher m = PROGRESS.matcher(copier.output());
        while (m.find()) last = Long.parseLong(m.group(1));
        return Math.min(last, RECORDS / PARTITIONS);
    }

    private static int leaderOf(LocalCluster cluster, String topic, int partition) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            int[] leader = {-1};
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
                var l = d.partitions().get(partition).leader();
                leader[0] = l == null ? -1 : l.id();
                return leader[0] > 0;
            });
            return leader[0];
        }
    }

    private static String tail(BrokerProcess p) throws IOException {
        List<String> lines = p.outputLines();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
