package io.runnel.transaction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.log.Log;
import io.runnel.log.LogConfig;
import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.RawKafkaClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.EndTxnResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;

/**
 * Transactions version 2 bumps the epoch with every transaction, so a long-lived producer exhausts it: the EndTxn that
 * takes the epoch to its last value hands the producer a new producer id at epoch 0 (Kafka keeps Short.MAX_VALUE for
 * the coordinator's fencing), a retry of that EndTxn with the exhausted id is answered the same, and the producer
 * carries on with its new id. The id's state is set near the end of the epoch range by writing its record into
 * {@code __transaction_state} while the broker is stopped (32,000 transactions would take too long).
 */
class EpochExhaustionTest extends BrokerPerTest {
    @Test
    void theTransactionThatExhaustsTheEpochHandsTheProducerANewIdAndItsRetryIsAnsweredTheSame() throws Exception {
        createTopic("orders", 1);
        TopicPartition orders = new TopicPartition("orders", 0);
        long pid;
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            InitProducerIdResponse init = raw.send(new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId("aged")
                    .setTransactionTimeoutMs(60_000).setProducerId(-1).setProducerEpoch((short) -1)).build((short) 5));
            pid = init.data().producerId();
        }
        broker.stop().get(30, TimeUnit.SECONDS);
        short nearEnd = (short) (Short.MAX_VALUE - 2);
        Path partition = data.resolve(TransactionCoordinator.TRANSACTION_TOPIC + "-" + Utils.abs("aged".hashCode()) % 5);
        try (var log = new Closing(Log.open(partition, LogConfig.defaults(), Time.SYSTEM))) {
            TxnMetadata aged = new TxnMetadata("aged", pid, RecordBatch.NO_PRODUCER_ID, nearEnd, (short) (nearEnd - 1), 60_000, TxnState.COMPLETE_COMMIT,
                    Set.of(), -1, System.currentTimeMillis(), TxnMetadata.TV_2, RecordBatch.NO_PRODUCER_ID);
            log.log.appendAsLeader(TxnRecords.batch(List.of(aged), System.currentTimeMillis()), 0);
        }
        broker = Brokers.start(data);

        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            // The transaction at MAX - 2 ends at MAX - 1: still the same producer id.
            assertThat(produce(raw, pid, nearEnd, 0, orders)).isEqualTo(Errors.NONE);
            EndTxnResponse first = endTxn(raw, pid, nearEnd, true);
            assertThat(first.error()).isEqualTo(Errors.NONE);
            assertThat(first.data().producerId()).isEqualTo(pid);
            short last = first.data().producerEpoch();
            assertThat(last).isEqualTo((short) (Short.MAX_VALUE - 1));

            // The one at MAX - 1 exhausts it: its markers carry MAX, and the producer continues as a new id at epoch 0.
            assertThat(produce(raw, pid, last, 1, orders)).isEqualTo(Errors.NONE);
            EndTxnResponse exhausted = endTxn(raw, pid, last, true);
            assertThat(exhausted.error()).isEqualTo(Errors.NONE);
            long next = exhausted.data().producerId();
            assertThat(next).isNotEqualTo(pid);
            assertThat(exhausted.data().producerEpoch()).isZero();
            EndTxnResponse retried = endTxn(raw, pid, last, true);
            assertThat(retried.error()).as("a retry with the exhausted id").isEqualTo(Errors.NONE);
            assertThat(retried.data().producerId()).isEqualTo(next);
            assertThat(retried.data().producerEpoch()).isZero();

            assertThat(produce(raw, next, (short) 0, 0, orders)).isEqualTo(Errors.NONE);
            assertThat(endTxn(raw, next, (short) 0, true).error()).isEqualTo(Errors.NONE);
            assertThat(produce(raw, pid, last, 2, orders)).as("the exhausted id is fenced").isNotEqualTo(Errors.NONE);
        }
        assertThat(io.runnel.testkit.KafkaClients.committedValues(broker.bootstrapServers(), List.of(orders)))
                .containsExactly("v-" + nearEnd, "v-" + (Short.MAX_VALUE - 1), "v-0");
    }

    private static Errors produce(RawKafkaClient raw, long pid, short epoch, int sequence, TopicPartition tp) throws Exception {
        ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(10_000).setTransactionalId("aged");
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName(tp.topic());
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(tp.partition()).setRecords(MemoryRecords.withTransactionalRecords(
                Compression.NONE, pid, epoch, sequence, new SimpleRecord(System.currentTimeMillis(), null, ("v-" + epoch).getBytes(StandardCharsets.UTF_8)))));
        data.topicData().add(t);
        Errors[] error = new Errors[1];
        // The previous transaction's markers may still be on their way: the leader then answers NOT_ENOUGH_REPLICAS, retried.
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            ProduceResponse r = raw.send(ProduceRequest.builder(data).build((short) 12));
            error[0] = Errors.forCode(r.data().responses().iterator().next().partitionResponses().get(0).errorCode());
            return error[0] != Errors.NOT_ENOUGH_REPLICAS;
        });
        return error[0];
    }

    private static EndTxnResponse endTxn(RawKafkaClient raw, long pid, short epoch, boolean commit) {
        EndTxnResponse[] last = new EndTxnResponse[1];
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            last[0] = raw.send(new EndTxnRequest.Builder(new EndTxnRequestData().setTransactionalId("aged").setProducerId(pid).setProducerEpoch(epoch)
                    .setCommitted(commit), true).build((short) 5));
            return last[0].error() != Errors.CONCURRENT_TRANSACTIONS;
        });
        return last[0];
    }

    /** A log closed after use. */
    private record Closing(Log log) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            log.close();
        }
    }
}
