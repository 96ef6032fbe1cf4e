package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.RawKafkaClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.AddOffsetsToTxnRequestData;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.TxnOffsetCommitRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AddOffsetsToTxnRequest;
import org.apache.kafka.common.requests.AddOffsetsToTxnResponse;
import org.apache.kafka.common.requests.AddPartitionsToTxnRequest;
import org.apache.kafka.common.requests.AddPartitionsToTxnResponse;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.EndTxnResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.TxnOffsetCommitRequest;
import org.apache.kafka.common.requests.TxnOffsetCommitResponse;
import org.junit.jupiter.api.Test;

/**
 * Bad transaction requests get Kafka's error codes, and leave the transactions of others unharmed: an unknown
 * transactional id, a wrong producer id or epoch, EndTxn without an open transaction, a timeout above
 * transaction.max.timeout.ms, a partition of an unknown topic.
 */
class TransactionProtocolErrorsTest extends BrokerPerTest {
    private static final short INIT_V = 4;
    private static final short ADD_V = 3;
    private static final short END_V = 4;

    @Test
    void badTransactionRequestsGetKafkasErrorsAndAGoodTransactionCarriesOn() throws Exception {
        createTopic("orders", 1);
        TopicPartition orders = new TopicPartition("orders", 0);
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            InitProducerIdResponse tooLong = raw.send(init("slow", 900_001));
            assertThat(tooLong.error()).isEqualTo(Errors.INVALID_TRANSACTION_TIMEOUT);

            InitProducerIdResponse good = raw.send(init("good", 60_000));
            assertThat(good.error()).isEqualTo(Errors.NONE);
            long pid = good.data().producerId();
            short epoch = good.data().producerEpoch();

            assertThat(errorsOf(raw.send(add("nobody", pid, epoch, List.of(orders))))).containsOnly(Errors.INVALID_PRODUCER_ID_MAPPING);
            assertThat(errorsOf(raw.send(add("good", pid + 1, epoch, List.of(orders))))).containsOnly(Errors.INVALID_PRODUCER_ID_MAPPING);
            assertThat(errorsOf(raw.send(add("good", pid, (short) (epoch + 1), List.of(orders))))).containsOnly(Errors.PRODUCER_FENCED);
            Map<TopicPartition, Errors> unknown = raw.<AddPartitionsToTxnResponse>send(add("good", pid, epoch,
                    List.of(orders, new TopicPartition("missing", 0)))).errors().get(AddPartitionsToTxnResponse.V3_AND_BELOW_TXN_ID);
            assertThat(unknown).containsEntry(new TopicPartition("missing", 0), Errors.UNKNOWN_TOPIC_OR_PARTITION)
                    .containsEntry(orders, Errors.OPERATION_NOT_ATTEMPTED);
            assertThat(raw.<EndTxnResponse>send(end("good", pid, epoch, true)).error()).as("no transaction is open").isEqualTo(Errors.INVALID_TXN_STATE);
            assertThat(raw.<EndTxnResponse>send(end("nobody", pid, epoch, true)).error()).isEqualTo(Errors.INVALID_PRODUCER_ID_MAPPING);

            // The good id is unharmed: its transaction opens and commits.
            assertThat(errorsOf(raw.send(add("good", pid, epoch, List.of(orders))))).containsOnly(Errors.NONE);
            assertThat(raw.<EndTxnResponse>send(end("good", pid, (short) (epoch + 1), true)).error()).isEqualTo(Errors.PRODUCER_FENCED);
            assertThat(raw.<EndTxnResponse>send(end("good", pid, epoch, true)).error()).isEqualTo(Errors.NONE);
            // While the commit's markers are written every EndTxn is told to retry (as Kafka 4); then the abort is refused.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(raw.<EndTxnResponse>send(end("good", pid, epoch, false)).error())
                    .as("abort after commit").isEqualTo(Errors.INVALID_TXN_STATE));
        }
    }

    @Test
    void everyAdvertisedVersionOfTheTransactionApisCommitsATransaction() throws Exception {
        createTopic("orders", 1);
        TopicPartition orders = new TopicPartition("orders", 0);
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            for (short v = 0; v <= 4; v++) {
                String id = "versions-" + v;
                InitProducerIdResponse init = raw.send(new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId(id)
                        .setTransactionTimeoutMs(60_000).setProducerId(-1).setProducerEpoch((short) -1)).build(v));
                assertThat(init.error()).as("InitProducerId v%d", v).isEqualTo(Errors.NONE);
                long pid = init.data().producerId();
                short epoch = init.data().producerEpoch();
                short addV = (short) Math.min(v, 3);
                assertThat(errorsOf(raw.send(AddPartitionsToTxnRequest.Builder.forClient(id, pid, epoch, List.of(orders)).build(addV))))
                        .as("AddPartitionsToTxn v%d", addV).containsOnly(Errors.NONE);
                AddOffsetsToTxnResponse offsets = raw.send(new AddOffsetsToTxnRequest.Builder(new AddOffsetsToTxnRequestData().setTransactionalId(id)
                        .setProducerId(pid).setProducerEpoch(epoch).setGroupId("g-" + v)).build(v));
                assertThat(offsets.data().errorCode()).as("AddOffsetsToTxn v%d", v).isEqualTo(Errors.NONE.code());
                TxnOffsetCommitRequestData data = new TxnOffsetCommitRequestData().setTransactionalId(id).setGroupId("g-" + v).setProducerId(pid)
                        .setProducerEpoch(epoch).setGenerationIdOrMemberEpoch(-1).setMemberId("").setTopics(List.of(
                                new TxnOffsetCommitRequestData.TxnOffsetCommitRequestTopic().setName("orders").setPartitions(List.of(
                                        new TxnOffsetCommitRequestData.TxnOffsetCommitRequestPartition().setPartitionIndex(0).setCommittedOffset(0)))));
                TxnOffsetCommitResponse commit = raw.send(TxnOffsetCommitRequest.Builder.forTopicNames(data, false).build(v));
                assertThat(commit.data().topics().get(0).partitions().get(0).errorCode()).as("TxnOffsetCommit v%d", v).isEqualTo(Errors.NONE.code());
                EndTxnResponse end = raw.send(new EndTxnRequest.Builder(new EndTxnRequestData().setTransactionalId(id).setProducerId(pid)
                        .setProducerEpoch(epoch).setCommitted(true), false).build(v));
                assertThat(end.error()).as("EndTxn v%d", v).isEqualTo(Errors.NONE);
            }
            InitProducerIdResponse v5 = raw.send(new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId("versions-5")
                    .setTransactionTimeoutMs(60_000).setProducerId(-1).setProducerEpoch((short) -1)).build((short) 5));
            assertThat(v5.error()).isEqualTo(Errors.NONE);
        }
    }

    private static InitProducerIdRequest init(String id, int timeoutMs) {
        return new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId(id).setTransactionTimeoutMs(timeoutMs)
                .setProducerId(-1).setProducerEpoch((short) -1)).build(INIT_V);
    }

    private static AddPartitionsToTxnRequest add(String id, long pid, short epoch, List<TopicPartition> partitions) {
        return AddPartitionsToTxnRequest.Builder.forClient(id, pid, epoch, partitions).build(ADD_V);
    }

    private static EndTxnRequest end(String id, long pid, short epoch, boolean commit) {
        return new EndTxnRequest.Builder(new EndTxnRequestData().setTransactionalId(id).setProducerId(pid).setProducerEpoch(epoch).setCommitted(commit),
                false).build(END_V);
    }

    private static List<Errors> errorsOf(AddPartitionsToTxnResponse r) {
        return List.copyOf(r.errors().get(AddPartitionsToTxnResponse.V3_AND_BELOW_TXN_ID).values());
    }
}
