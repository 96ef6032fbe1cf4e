package io.runnel.kafka;

import static io.runnel.testkit.Brokers.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.partition.Acks;
import io.runnel.partition.PartitionHandle;
import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData.WritableTxnMarkerPartitionResult;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest.TxnMarkerEntry;
import org.apache.kafka.common.requests.TransactionResult;
import org.junit.jupiter.api.Test;

/**
 * The partition leader's transaction APIs over the Kafka protocol: DescribeProducers (as the Admin client asks it)
 * shows an open transaction's start offset, and WriteTxnMarkers (as a coordinator sends it) ends it, or is refused per
 * partition with Kafka's errors.
 */
class TransactionMarkersTest extends BrokerPerTest {
    private static final TopicPartition TP = new TopicPartition("orders", 0);

    @Test
    void anOpenTransactionIsDescribedAndAMarkerEndsItWhileStaleOrMisdirectedMarkersAreRefused() throws Exception {
        createTopic("orders", 1);
        PartitionHandle h = broker.topics().partition("orders", 0).orElseThrow();
        await(h.append(MemoryRecords.withTransactionalRecords(Compression.NONE, 4242L, (short) 1, 0,
                new SimpleRecord(1L, null, "pending".getBytes(StandardCharsets.UTF_8))).buffer(), Acks.LEADER));

        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            List<ProducerState> open = admin.describeProducers(List.of(TP)).partitionResult(TP).get(30, TimeUnit.SECONDS).activeProducers();
            assertThat(open).singleElement().satisfies(p -> {
                assertThat(p.producerId()).isEqualTo(4242L);
                assertThat(p.producerEpoch()).isEqualTo(1);
                assertThat(p.currentTransactionStartOffset()).hasValue(0L);
            });
        }

        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            WriteTxnMarkersResponse stale = raw.send(markers(4242L, (short) 0, TransactionResult.COMMIT, TP));
            assertThat(errorsOf(stale)).containsExactly(Errors.INVALID_PRODUCER_EPOCH);
            WriteTxnMarkersResponse unknown = raw.send(markers(4242L, (short) 1, TransactionResult.COMMIT, new TopicPartition("nope", 0)));
            assertThat(errorsOf(unknown)).containsExactly(Errors.UNKNOWN_TOPIC_OR_PARTITION);
            WriteTxnMarkersResponse aborted = raw.send(markers(4242L, (short) 1, TransactionResult.ABORT, TP));
            assertThat(errorsOf(aborted)).containsExactly(Errors.NONE);
        }

        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            List<ProducerState> after = admin.describeProducers(List.of(TP)).partitionResult(TP).get(30, TimeUnit.SECONDS).activeProducers();
            assertThat(after).singleElement().satisfies(p -> assertThat(p.currentTransactionStartOffset()).isEmpty());
        }
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            c.assign(List.of(TP));
            c.seekToBeginning(List.of(TP));
            assertThat(c.endOffsets(List.of(TP))).containsEntry(TP, 2L); // the record and its marker are stable
            List<String> seen = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.position(TP) < 2 && System.nanoTime() < deadline) c.poll(Duration.ofMillis(200)).forEach(r -> seen.add(r.value()));
            assertThat(c.position(TP)).as("read past the aborted record and its marker").isEqualTo(2);
            assertThat(seen).as("the aborted record").isEmpty();
        }
    }

    private static WriteTxnMarkersRequest markers(long producerId, short epoch, TransactionResult result, TopicPartition tp) {
        return new WriteTxnMarkersRequest.Builder(List.of(new TxnMarkerEntry(producerId, epoch, 0, result, List.of(tp), (short) 0)))
                .build(ApiKeys.WRITE_TXN_MARKERS.latestVersion());
    }

    private static List<Errors> errorsOf(WriteTxnMarkersResponse r) {
        return r.data().markers().stream().flatMap(m -> m.topics().stream()).flatMap(t -> t.partitions().stream())
                .map(WritableTxnMarkerPartitionResult::errorCode).map(Errors::forCode).toList();
    }
}
