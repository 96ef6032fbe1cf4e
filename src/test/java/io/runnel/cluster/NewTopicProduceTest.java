package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.runnel.testkit.RawKafkaClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData.PartitionProduceResponse;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A producer that learnt of a new topic from one broker may reach its leader before the controller's image did. An
 * idempotent producer's first batch refused then (UNKNOWN_TOPIC_OR_PARTITION) while its next ones, arriving after the
 * image, were appended could never be retried into the log (its sequence came too late). The broker holds such a
 * request, in the connection's order, until the partition arrives: here two pipelined batches sent to every broker
 * before the topic exists end up in the leader's log in order, and the other brokers send the producer to the leader.
 */
class NewTopicProduceTest {
    @TempDir
    Path root;

    @Test
    void batchesSentBeforeTheTopicReachedTheLeaderAreAppendedInOrder() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3)) {
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                List<RawKafkaClient> connections = new ArrayList<>();
                List<RequestHeader[]> sent = new ArrayList<>();
                try {
                    long pid;
                    try (RawKafkaClient c = new RawKafkaClient(cluster.broker(1).kafkaBootstrap())) {
                        pid = c.newIdempotentProducerId();
                    }
                    for (int b = 1; b <= 3; b++) {
                        RawKafkaClient c = new RawKafkaClient(cluster.broker(b).kafkaBootstrap());
                        connections.add(c);
                        sent.add(new RequestHeader[] {c.write(produce(pid, 0, "first")), c.write(produce(pid, 1, "second"))});
                    }
                    admin.createTopics(List.of(new NewTopic("fresh", 1, (short) 3))).all().get(30, TimeUnit.SECONDS);
                    // As with Kafka, a broker may answer Metadata before the new topic's metadata reached it: asked until one knows.
                    int leader = await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(
                            () -> admin.describeTopics(List.of("fresh")).allTopicNames().get().get("fresh").partitions().get(0).leader().id(), id -> id > 0);
                    for (int b = 1; b <= 3; b++) {
                        RawKafkaClient c = connections.get(b - 1);
                        for (RequestHeader h : sent.get(b - 1)) {
                            ProduceResponse r = c.read(h);
                            PartitionProduceResponse p = r.data().responses().iterator().next().partitionResponses().get(0);
                            assertThat(Errors.forCode(p.errorCode())).as("broker %d (leader %d)", b, leader)
                                    .isEqualTo(b == leader ? Errors.NONE : Errors.NOT_LEADER_OR_FOLLOWER);
                        }
                    }
                } finally {
                    for (RawKafkaClient c : connections) c.close();
                }
            }
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(cluster.bootstrap(), Map.of())) {
                TopicPartition tp = new TopicPartition("fresh", 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, 2);
                assertThat(got).extracting(ConsumerRecord::value).containsExactly("first", "second");
            }
        }
    }

    private static ProduceRequest produce(long pid, int sequence, String value) {
        SimpleRecord record = new SimpleRecord(System.currentTimeMillis(), null, value.getBytes());
        ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(20_000);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("fresh");
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0)
                .setRecords(MemoryRecords.withIdempotentRecords(Compression.NONE, pid, (short) 0, sequence, record)));
        data.topicData().add(t);
        return ProduceRequest.builder(data).build((short) 12);
    }
}
