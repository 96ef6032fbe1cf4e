package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.junit.jupiter.api.Test;

/**
 * producer.id.expiration.ms (KIP-854): a partition forgets an idempotent producer whose last batch is older than it,
 * unless the producer has a transaction open there, so the producer state does not grow with every producer ever seen.
 */
class ProducerExpirationTest extends BrokerPerTest {

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("producer.id.expiration.ms", "1000", "producer.id.expiration.check.interval.ms", "100");
    }

    @Test
    void anIdleProducerIsForgottenAndThenStartsAfreshAtAnySequence() throws Exception {
        createTopic("expiring", 1);
        TopicPartition tp = new TopicPartition("expiring", 0);
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers()); Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            long pid = c.newIdempotentProducerId();
            assertThat(produce(c, pid, 0)).isEqualTo(Errors.NONE);
            assertThat(producers(admin, tp)).extracting(ProducerState::producerId).containsExactly(pid);

            await().atMost(Duration.ofSeconds(20)).until(() -> producers(admin, tp).isEmpty());
            // Forgotten, the producer is new to the partition: any first sequence is taken (KIP-360), not OUT_OF_ORDER.
            assertThat(produce(c, pid, 7)).isEqualTo(Errors.NONE);
            assertThat(producers(admin, tp)).extracting(ProducerState::lastSequence).containsExactly(7);
        }
    }

    @Test
    void onlyIdleProducersWithoutAnOpenTransactionAreForgotten() {
        ProducerStateTable table = new ProducerStateTable();
        table.update(1, (short) 0, 0, 0, 0, 0, false, 1_000);       // idle for 60 s
        table.update(2, (short) 0, 0, 0, 1, 1, true, 1_000);        // idle as long, but its transaction is open here
        table.update(3, (short) 0, 0, 0, 2, 2, false, 30_000);      // idle for 31 s only
        assertThat(table.removeExpired(61_000, 60_000)).isEqualTo(1);
        assertThat(table.describe()).extracting(ProducerStateTable.ProducerView::producerId).containsExactlyInAnyOrder(2L, 3L);
    }

    private static List<ProducerState> producers(Admin admin, TopicPartition tp) throws Exception {
        return admin.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers();
    }

    private static Errors produce(RawKafkaClient c, long pid, int sequence) throws Exception {
        SimpleRecord record = new SimpleRecord(System.currentTimeMillis(), null, ("s" + sequence).getBytes());
        ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(5000);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("expiring");
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0)
                .setRecords(MemoryRecords.withIdempotentRecords(Compression.NONE, pid, (short) 0, sequence, record)));
        data.topicData().add(t);
        ProduceResponse r = c.send(ProduceRequest.builder(data).build((short) 12));
        return Errors.forCode(r.data().responses().iterator().next().partitionResponses().get(0).errorCode());
    }
}
