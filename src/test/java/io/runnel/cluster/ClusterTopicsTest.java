package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
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
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Topics in a three-broker cluster (separate JVMs): the controller spreads partitions over the brokers, every broker
 * answers the same Metadata, unmodified Kafka clients produce and consume across brokers (and in a consumer group
 * whose coordinator lives where its __consumer_offsets partition does), a broker that dies takes its partitions
 * offline and brings them back with their records, and the metadata survives a restart of the whole cluster.
 */
class ClusterTopicsTest {
    private static final int RECORDS = 600;

    @TempDir
    Path root;

    @Test
    void topicsSpreadOverTheClusterAndClientsUseEveryBroker() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.createTopics(List.of(new NewTopic("spread", 6, (short) 1))).all().get(30, TimeUnit.SECONDS);
                assertThatThrownBy(() -> admin.createTopics(List.of(new NewTopic("too-many", 3, (short) 4))).all().get())
                        .hasCauseInstanceOf(InvalidReplicationFactorException.class).hasMessageContaining("live brokers (3)");
            }
            // Every broker gives the same leaders, and the six partitions lead on all three brokers.
            Map<Integer, Integer> leaders = leadersSeenByEveryBroker(cluster, "spread");
            assertThat(new HashSet<>(leaders.values())).containsExactlyInAnyOrder(1, 2, 3);

            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.bootstrap(), Map.of())) {
                for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("spread", "k" + i, "v" + i));
                p.flush();
            }
            assertThat(readAll(cluster.bootstrap(), "spread", 6)).hasSize(RECORDS);

            // A consumer group: FindCoordinator sends it to the broker that leads its __consumer_offsets partition.
            try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(cluster.bootstrap(), "classic", "spread-readers", Map.of())) {
                c.subscribe(List.of("spread"));
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, RECORDS);
                assertThat(got).hasSize(RECORDS);
                c.commitSync();
            }
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                var offsets = admin.listConsumerGroupOffsets("spread-readers").partitionsToOffsetAndMetadata().get();
                assertThat(offsets.values().stream().mapToLong(o -> o.offset()).sum()).isEqualTo(RECORDS);
            }

            // A broker dies: its partitions have no leader (a single replica: unclean election is off); the others serve.
            int victim = leaders.get(0) == controller(cluster) ? leaders.get(0) % 3 + 1 : leaders.get(0);
            cluster.broker(victim).kill9();
            Set<Integer> alive = new HashSet<>(Set.of(1, 2, 3));
            alive.remove(victim);
            int witness = alive.iterator().next();
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                try (Admin admin = KafkaClients.admin(cluster.broker(witness).kafkaBootstrap())) {
                    TopicDescription d = admin.describeTopics(List.of("spread")).allTopicNames().get().get("spread");
                    for (TopicPartitionInfo p : d.partitions()) {
                        if (leaders.get(p.partition()) == victim) assertThat(p.leader()).isNull();
                        else assertThat(p.leader().id()).isEqualTo(leaders.get(p.partition()));
                    }
                }
            });
            cluster.restart(victim);
            assertThat(leadersSeenByEveryBroker(cluster, "spread")).isEqualTo(leaders); // its partitions lead again, on it
            assertThat(readAll(cluster.bootstrap(), "spread", 6)).hasSize(RECORDS); // with their records

            // A manual assignment (kafka-topics.sh --replica-assignment): the replicas as given, the first one leading;
            // a broker named twice, a broker that does not exist or unequal replica counts are refused.
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("placed", Map.of(0, List.of(3, 1), 1, List.of(2, 3))))).all().get(30, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> {
                    TopicDescription d = admin.describeTopics(List.of("placed")).allTopicNames().get().get("placed");
                    assertThat(d.partitions().get(0).replicas()).extracting(Node::id).containsExactly(3, 1);
                    assertThat(d.partitions().get(1).replicas()).extracting(Node::id).containsExactly(2, 3);
                    assertThat(d.partitions().get(0).leader().id()).isEqualTo(3);
                    assertThat(d.partitions().get(1).leader().id()).isEqualTo(2);
                });
                for (Map<Integer, List<Integer>> bad : List.of(Map.of(0, List.of(1, 1)), Map.of(0, List.of(1, 9)), Map.of(0, List.of(1), 1, List.of(2, 3)),
                        Map.of(1, List.of(1)))) {
                    assertThatThrownBy(() -> admin.createTopics(List.of(new NewTopic("misplaced", bad))).all().get(30, TimeUnit.SECONDS))
                            .as("assignment %s", bad).hasCauseInstanceOf(InvalidReplicaAssignmentException.class);
                }
            }
            try (KafkaProducer<String, String> p = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                p.send(new ProducerRecord<>("placed", 1, "k", "placed by hand")).get(30, TimeUnit.SECONDS);
            }

            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("doomed", 3, (short) 1))).all().get(30, TimeUnit.SECONDS);
                leadersSeenByEveryBroker(cluster, "doomed");
                admin.deleteTopics(List.of("doomed")).all().get(30, TimeUnit.SECONDS);
            }
            for (int id = 1; id <= 3; id++) {
                int node = id;
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    try (Admin admin = KafkaClients.admin(cluster.broker(node).kafkaBootstrap())) {
                        assertThatThrownBy(() -> admin.describeTopics(List.of("doomed")).allTopicNames().get())
                                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(UnknownTopicOrPartitionException.class);
                    }
                });
            }

            // The whole cluster restarts: Hazelcast's maps start empty and the metadata comes back from the brokers' reports.
            for (int id = 1; id <= 3; id++) cluster.broker(id).terminate();
            cluster.restartAll();
            assertThat(leadersSeenByEveryBroker(cluster, "spread")).isEqualTo(leaders);
            // The replicated offsets topic keeps its three replicas: the brokers report the placements they last had.
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> {
                try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                    for (TopicPartitionInfo p : admin.describeTopics(List.of("__consumer_offsets")).allTopicNames().get().get("__consumer_offsets").partitions()) {
                        assertThat(p.replicas()).as("replicas of __consumer_offsets-%d", p.partition()).hasSize(3);
                    }
                }
            });
            assertThat(readAll(cluster.bootstrap(), "spread", 6)).hasSize(RECORDS);
        }
    }

    /**
     * A whole-cluster restart in which the broker that first comes back had fallen out of the ISR before it: its
     * report is stale, and electing it at once (it is the controller, alone) made the others truncate to it when they
     * returned, losing records acknowledged by the later ISR. The controller waits for every member of the ISR it
     * knows to report, then takes the newest placement (docs/cluster.md, "Metadata durability").
     */
    @Test
    void aStaggeredWholeClusterRestartLosesNoAcknowledgedRecord(@TempDir Path dir) throws Exception {
        // Oldest-member mode: there the broker that comes back first is the controller on its own, which is what this
        // checks. A CP group forms only once cluster.cp.member.count brokers are back, with every report in.
        try (LocalCluster cluster = LocalCluster.start(dir, 3, "--cluster.cp.member.count=0")) {
            TopicPartition tp = new TopicPartition("staggered", 0);
            int leader;
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("staggered", 1, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
                leader = await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> admin.describeTopics(List.of("staggered"))
                        .allTopicNames().get().get("staggered").partitions().get(0).leader().id(), id -> id > 0);
            }
            int stale = leader == 1 ? 2 : 1;
            int other = 6 - leader - stale;
            List<String> acknowledged = new ArrayList<>();
            try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of("acks", "all", "enable.idempotence", true))) {
                for (int i = 0; i < 200; i++) producer.send(new ProducerRecord<>("staggered", 0, null, "before-" + i)).get(30, TimeUnit.SECONDS);
                for (int i = 0; i < 200; i++) acknowledged.add("before-" + i);
                cluster.broker(stale).kill9();
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                    try (Admin admin = KafkaClients.admin(cluster.broker(leader).kafkaBootstrap())) {
                        assertThat(admin.describeTopics(List.of("staggered")).allTopicNames().get().get("staggered").partitions().get(0).isr())
                                .extracting(org.apache.kafka.common.Node::id).doesNotContain(stale);
                    }
                });
                // Acknowledged by the ISR {leader, other} only: the stale broker never had these.
                for (int i = 0; i < 200; i++) producer.send(new ProducerRecord<>("staggered", 0, null, "after-" + i)).get(30, TimeUnit.SECONDS);
                for (int i = 0; i < 200; i++) acknowledged.add("after-" + i);
            }
            cluster.broker(leader).terminate();
            cluster.broker(other).terminate();

            cluster.restart(stale); // alone: the controller of a new cluster, with its stale report
            try (Admin admin = KafkaClients.admin(cluster.broker(stale).kafkaBootstrap())) {
                assertThat(admin.describeTopics(List.of("staggered")).allTopicNames().get(30, TimeUnit.SECONDS).get("staggered").partitions().get(0).leader())
                        .as("no leader before the other ISR members have reported").matches(n -> n == null || n.isEmpty() || n.id() < 0);
            }
            cluster.restart(leader);
            cluster.restart(other);
            List<String> read = new ArrayList<>();
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                read.clear();
                KafkaClients.readToEnd(cluster.bootstrap(), "read_uncommitted", List.of(tp)).forEach(r -> read.add(r.value()));
                assertThat(read).containsAll(acknowledged);
            });
            assertThat(read).hasSize(acknowledged.size());
        }
    }

    private static int controller(LocalCluster cluster) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            return admin.describeCluster().controller().get().id();
        }
    }

    /**
     * Partition to leader, once every broker's Metadata names the same leader for every partition. A broker that has
     * not yet applied the metadata naming a topic just created answers UNKNOWN_TOPIC_OR_PARTITION, as Kafka's brokers
     * do until the controller's record reaches them: that is "not yet", not a failure.
     */
    private static Map<Integer, Integer> leadersSeenByEveryBroker(LocalCluster cluster, String topic) {
        Map<Integer, Integer> agreed = new HashMap<>();
        await().atMost(Duration.ofSeconds(60)).ignoreExceptionsMatching(e -> e.getCause() instanceof UnknownTopicOrPartitionException).untilAsserted(() -> {
            Map<Integer, Integer> first = null;
            for (int id = 1; id <= cluster.size(); id++) {
                try (Admin admin = KafkaClients.admin(cluster.broker(id).kafkaBootstrap())) {
                    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                    Map<Integer, Integer> seen = new HashMap<>();
                    for (TopicPartitionInfo p : d.partitions()) {
                        assertThat(p.leader()).as("leader of %s-%d seen by broker %d", topic, p.partition(), id).isNotNull();
                        seen.put(p.partition(), p.leader().id());
                    }
                    if (first == null) first = seen;
                    assertThat(seen).as("leaders seen by broker %d", id).isEqualTo(first);
                }
            }
            agreed.clear();
            agreed.putAll(first);
        });
        return agreed;
    }

    private static List<ConsumerRecord<String, String>> readAll(String bootstrap, String topic, int partitions) {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(topic, p));
            c.assign(tps);
            c.seekToBeginning(tps);
            return KafkaClients.pollAtLeast(c, RECORDS);
        }
    }
}
