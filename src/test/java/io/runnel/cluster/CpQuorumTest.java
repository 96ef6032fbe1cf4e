package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CP-subsystem metadata quorum (cluster.cp.member.count=3) across three broker JVMs: the controller is killed
 * with -9 twice in a row, a different broker each time. Each time another broker takes the controller lock, the
 * metadata written under the old controller is all there, leaders move, acks=all carries on, and the restarted
 * broker is promoted back into the CP group (its former self removed), so that the second crash still leaves a
 * majority. Every acknowledged record is there once at the end.
 */
class CpQuorumTest {
    private static final int PER_STEP = 200;

    @TempDir
    Path root;

    @Test
    void theControllerMovesAndTheCpGroupHealsAcrossCrashesInARow() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--cluster.cp.member.count=3")) {
            JsonObject info = cluster.clusterInfo(1);
            assertThat(info.getJsonObject("metadataQuorum").getString("mode")).isEqualTo("cp");
            assertThat(info.getJsonObject("metadataQuorum").getJsonArray("cpMembers")).containsExactlyInAnyOrder(1, 2, 3);
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("quorum", 3, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            int sent = 0;
            sent = produce(cluster.bootstrap(), sent);
            int previous = -1;
            for (int round = 0; round < 2; round++) {
                int controller = cluster.clusterInfo(1 + round).getInteger("controllerId");
                assertThat(controller).as("a different broker controls after each crash").isNotEqualTo(previous);
                cluster.broker(controller).kill9();
                int via = controller % 3 + 1;
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                    int now = cluster.clusterInfo(via).getInteger("controllerId");
                    assertThat(now).isPositive().isNotEqualTo(controller);
                });
                // The topic written under the old controller is known to the new one, and acks=all goes on.
                String live = cluster.broker(via).kafkaBootstrap() + "," + cluster.broker(via % 3 + 1).kafkaBootstrap();
                sent = produce(live, sent);
                cluster.restart(controller); // waits until the CP group has three live members again
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() ->
                        assertThat(cluster.clusterInfo(via).getJsonObject("metadataQuorum").getJsonArray("cpMembers")).contains(controller));
                previous = controller;
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                List<TopicPartition> tps = List.of(new TopicPartition("quorum", 0), new TopicPartition("quorum", 1), new TopicPartition("quorum", 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, sent);
                assertThat(got).hasSize(sent);
                assertThat(got.stream().map(ConsumerRecord::value).distinct().count()).isEqualTo(sent);
            }
        }
    }

    /**
     * Two of the three CP members crash together and come back: without CP persistence they return without their CP
     * identity, so the group can never reach a majority again. The oldest broker sees that (both are back and say so),
     * resets the CP subsystem, every broker reports its topics again, and the new controller, with a higher epoch than
     * any before, rebuilds the metadata: the topic, its leaders and every acknowledged record are there, and acks=all
     * goes on.
     */
    @Test
    void aCpGroupWhoseMajorityCameBackWithoutItsIdentityIsResetAndTheMetadataRebuilt() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, "--cluster.cp.member.count=3")) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                admin.createTopics(List.of(new NewTopic("quorum", 3, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
            }
            int sent = produce(cluster.bootstrap(), 0);
            long epochBefore = controllerEpoch(cluster);
            cluster.broker(2).kill9();
            cluster.broker(3).kill9();
            cluster.restartTogether(2, 3); // waits for a controller and a whole CP group again: the reset made them
            assertThat(cluster.broker(1).output()).as("the survivor reset the CP subsystem").contains("resetting the CP subsystem");
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(controllerEpoch(cluster)).as("controller epochs go on rising across the reset").isGreaterThan(epochBefore));
            sent = produce(cluster.bootstrap(), sent);
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                var partitions = admin.describeTopics(List.of("quorum")).allTopicNames().get(30, TimeUnit.SECONDS).get("quorum").partitions();
                assertThat(partitions).hasSize(3).allSatisfy(p -> assertThat(p.replicas()).hasSize(3));
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                List<TopicPartition> tps = List.of(new TopicPartition("quorum", 0), new TopicPartition("quorum", 1), new TopicPartition("quorum", 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, sent);
                assertThat(got.stream().map(ConsumerRecord::value).distinct().count()).isEqualTo(sent);
                assertThat(got).hasSize(sent);
            }
        }
    }

    /** The controller epoch the acting controller reports (-1 while none acts). */
    private static long controllerEpoch(LocalCluster cluster) throws Exception {
        long epoch = -1;
        for (int id = 1; id <= cluster.size(); id++) epoch = Math.max(epoch, cluster.clusterInfo(id).getLong("actingControllerEpoch", -1L));
        return epoch;
    }

    /** Sends {@link #PER_STEP} records with acks=all (idempotent) and waits until all are acknowledged. */
    private static int produce(String bootstrap, int sent) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < PER_STEP; i++, sent++) acks.add(p.send(new ProducerRecord<>("quorum", "k" + (sent % 30), "v" + sent)));
            p.flush();
            for (var a : acks) a.get(); // every record acknowledged, or the test fails with the producer's error
        }
        return sent;
    }
}
