package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.RawKafkaClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ApiVersionsResponseData.FinalizedFeatureKey;
import org.apache.kafka.common.message.DescribeTransactionsRequestData;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.TxnOffsetCommitRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.AddPartitionsToTxnRequest;
import org.apache.kafka.common.requests.AddPartitionsToTxnResponse;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;
import org.apache.kafka.common.requests.DescribeTransactionsRequest;
import org.apache.kafka.common.requests.DescribeTransactionsResponse;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.EndTxnResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.TxnOffsetCommitRequest;
import org.apache.kafka.common.requests.TxnOffsetCommitResponse;
import org.junit.jupiter.api.Test;

/**
 * Transactions version 2 (KIP-890) at the protocol level, and the partition verification of version 1: the finalized
 * feature in ApiVersions, partitions that join a transaction through their leader's Produce v12 and the group
 * coordinator's TxnOffsetCommit v5, EndTxn v5's epoch bump and its retries, and version 1 writes to a partition the
 * transaction never added refused with the error each client version knows.
 */
class TransactionsV2ProtocolTest extends BrokerPerTest {
    private static final short END_V2 = 5;

    @Test
    void apiVersionsFinalizesTransactionVersion2FromVersion3On() throws Exception {
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            ApiVersionsResponse v3 = raw.send(new ApiVersionsRequest.Builder().build((short) 3));
            FinalizedFeatureKey tv = v3.data().finalizedFeatures().find("transaction.version");
            assertThat(tv).isNotNull();
            assertThat(tv.maxVersionLevel()).isEqualTo((short) 2);
            assertThat(v3.data().supportedFeatures().find("transaction.version").maxVersion()).isEqualTo((short) 2);
            assertThat(v3.data().finalizedFeaturesEpoch()).isGreaterThanOrEqualTo(0);
            ApiVersionsResponse v2 = raw.send(new ApiVersionsRequest.Builder().build((short) 2));
            assertThat(v2.data().apiKeys()).isNotEmpty();
        }
    }

    @Test
    void produceV12AddsThePartitionAndEndTxnV5BumpsTheEpochOncePerTransaction() throws Exception {
        createTopic("orders", 2);
        TopicPartition p0 = new TopicPartition("orders", 0);
        TopicPartition p1 = new TopicPartition("orders", 1);
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            InitProducerIdResponse init = raw.send(init("v2"));
            long pid = init.data().producerId();
            short e = init.data().producerEpoch();

            // No AddPartitionsToTxn: the leader adds both partitions for the producer.
            ProduceResponse produced = raw.send(produce("v2", pid, e, 0, (short) 12, p0, p1));
            assertThat(errors(produced)).containsOnly(Errors.NONE);
            var described = describe(raw, "v2");
            assertThat(described.transactionState()).isEqualTo("Ongoing");
            assertThat(described.topics().find("orders").partitions()).containsExactlyInAnyOrder(0, 1);

            EndTxnResponse committed = endTxn(raw, end("v2", pid, e, true));
            assertThat(committed.error()).isEqualTo(Errors.NONE);
            assertThat(committed.data().producerId()).isEqualTo(pid);
            short next = committed.data().producerEpoch();
            assertThat(next).as("version 2 bumps the epoch at every end").isEqualTo((short) (e + 1));

            // A retry with the previous epoch is answered as the first was, without bumping again.
            EndTxnResponse retried = endTxn(raw, end("v2", pid, e, true));
            assertThat(retried.error()).isEqualTo(Errors.NONE);
            assertThat(retried.data().producerEpoch()).isEqualTo(next);
            assertThat(endTxn(raw, end("v2", pid, e, false)).error()).as("the retry must be of the same decision")
                    .isEqualTo(Errors.INVALID_TXN_STATE);
            assertThat(endTxn(raw, end("v2", pid, (short) (e - 1), true)).error()).isEqualTo(Errors.PRODUCER_FENCED);

            // The old epoch is fenced on the partition; the next transaction runs in the new one, from sequence 0.
            assertThat(errors(raw.send(produce("v2", pid, e, 1, (short) 12, p0)))).containsOnly(Errors.INVALID_PRODUCER_EPOCH);
            assertThat(errors(raw.send(produce("v2", pid, next, 0, (short) 12, p0)))).containsOnly(Errors.NONE);
            EndTxnResponse aborted = endTxn(raw, end("v2", pid, next, false));
            assertThat(aborted.error()).isEqualTo(Errors.NONE);
            assertThat(aborted.data().producerEpoch()).isEqualTo((short) (next + 1));

            // An abort with no partition in the transaction still bumps (a write may be in flight); a commit is refused.
            short third = aborted.data().producerEpoch();
            assertThat(endTxn(raw, end("v2", pid, third, true)).error()).isEqualTo(Errors.INVALID_TXN_STATE);
            EndTxnResponse empty = endTxn(raw, end("v2", pid, third, false));
            assertThat(empty.error()).isEqualTo(Errors.NONE);
            assertThat(empty.data().producerEpoch()).isEqualTo((short) (third + 1));
        }
    }

    @Test
    void txnOffsetCommitV5AddsTheOffsetsPartitionToTheTransaction() throws Exception {
        createTopic("orders", 1);
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            InitProducerIdResponse init = raw.send(init("offsets-v2"));
            long pid = init.data().producerId();
            short e = init.data().producerEpoch();
            TxnOffsetCommitResponse v5 = raw.send(TxnOffsetCommitRequest.Builder.forTopicNames(offsets("offsets-v2", pid, e, "g"), true).build((short) 5));
            assertThat(v5.data().topics().get(0).partitions().get(0).errorCode()).isEqualTo(Errors.NONE.code());
            var described = describe(raw, "offsets-v2");
            assertThat(described.transactionState()).isEqualTo("Ongoing");
            assertThat(described.topics().find("__consumer_offsets")).isNotNull();

            // Version 4 only verifies: a group whose offsets partition is not in the transaction is refused.
            InitProducerIdResponse v1 = raw.send(init("offsets-v1"));
            TxnOffsetCommitResponse v4 = raw.send(TxnOffsetCommitRequest.Builder.forTopicNames(
                    offsets("offsets-v1", v1.data().producerId(), v1.data().producerEpoch(), "g"), false).build((short) 4));
            assertThat(v4.data().topics().get(0).partitions().get(0).errorCode()).isEqualTo(Errors.TRANSACTION_ABORTABLE.code());
        }
    }

    @Test
    void aVersion1WriteToAPartitionOutsideItsTransactionIsRefusedWithTheErrorItsClientKnows() throws Exception {
        createTopic("orders", 1);
        TopicPartition p0 = new TopicPartition("orders", 0);
        try (RawKafkaClient raw = new RawKafkaClient(broker.bootstrapServers())) {
            InitProducerIdResponse init = raw.send(init("v1"));
            long pid = init.data().producerId();
            short e = init.data().producerEpoch();
            assertThat(errors(raw.send(produce("v1", pid, e, 0, (short) 10, p0)))).containsOnly(Errors.INVALID_TXN_STATE);
            assertThat(errors(raw.send(produce("v1", pid, e, 0, (short) 11, p0)))).containsOnly(Errors.TRANSACTION_ABORTABLE);
            assertThat(errors(raw.send(produce(null, pid, e, 0, (short) 11, p0)))).as("no transactional id").containsOnly(Errors.INVALID_TXN_STATE);
            assertThat(broker.topics().partition("orders", 0).orElseThrow().logEndOffset()).as("nothing refused was written").isZero();

            AddPartitionsToTxnResponse added = raw.send(AddPartitionsToTxnRequest.Builder.forClient("v1", pid, e, List.of(p0)).build((short) 3));
            assertThat(added.errors().get(AddPartitionsToTxnResponse.V3_AND_BELOW_TXN_ID)).containsValue(Errors.NONE);
            assertThat(errors(raw.send(produce("v1", pid, e, 0, (short) 10, p0)))).containsOnly(Errors.NONE);
            assertThat(errors(raw.send(produce("v1", pid, e, 1, (short) 10, p0)))).as("the transaction is open there now").containsOnly(Errors.NONE);
            EndTxnResponse committed = raw.send(new EndTxnRequest.Builder(new EndTxnRequestData().setTransactionalId("v1").setProducerId(pid)
                    .setProducerEpoch(e).setCommitted(true), false).build((short) 4));
            assertThat(committed.error()).isEqualTo(Errors.NONE);
        }
    }

    private static InitProducerIdRequest init(String id) {
        return new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId(id).setTransactionTimeoutMs(60_000)
                .setProducerId(-1).setProducerEpoch((short) -1)).build((short) 5);
    }

    /** Sends EndTxn until it is not told to retry (CONCURRENT_TRANSACTIONS: the last transaction's markers are being written). */
    private static EndTxnResponse endTxn(RawKafkaClient raw, EndTxnRequest request) {
        EndTxnResponse[] last = new EndTxnResponse[1];
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            last[0] = raw.send(request);
            return last[0].error() != Errors.CONCURRENT_TRANSACTIONS;
        });
        return last[0];
    }

    private static EndTxnRequest end(String id, long pid, short epoch, boolean commit) {
        return new EndTxnRequest.Builder(new EndTxnRequestData().setTransactionalId(id).setProducerId(pid).setProducerEpoch(epoch).setCommitted(commit),
                true).build(END_V2);
    }

    private static ProduceRequest produce(String transactionalId, long pid, short epoch, int sequence, short version, TopicPartition... partitions) {
        ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(10_000).setTransactionalId(transactionalId);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName(partitions[0].topic());
        for (TopicPartition tp : partitions) {
            MemoryRecords records = MemoryRecords.withTransactionalRecords(Compression.NONE, pid, epoch, sequence,
                    new SimpleRecord(System.currentTimeMillis(), null, ("v" + tp.partition()).getBytes(StandardCharsets.UTF_8)));
            t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(tp.partition()).setRecords(records));
        }
        data.topicData().add(t);
        return ProduceRequest.builder(data).build(version);
    }

    private static List<Errors> errors(ProduceResponse r) {
        return r.data().responses().iterator().next().partitionResponses().stream().map(p -> Errors.forCode(p.errorCode())).toList();
    }

    private static TxnOffsetCommitRequestData offsets(String id, long pid, short epoch, String group) {
        return new TxnOffsetCommitRequestData().setTransactionalId(id).setGroupId(group).setProducerId(pid).setProducerEpoch(epoch)
                .setGenerationIdOrMemberEpoch(-1).setMemberId("").setTopics(List.of(new TxnOffsetCommitRequestData.TxnOffsetCommitRequestTopic()
                        .setName("orders").setPartitions(List.of(new TxnOffsetCommitRequestData.TxnOffsetCommitRequestPartition().setPartitionIndex(0)
                                .setCommittedOffset(0)))));
    }

    private static org.apache.kafka.common.message.DescribeTransactionsResponseData.TransactionState describe(RawKafkaClient raw, String id)
            throws Exception {
        DescribeTransactionsResponse r = raw.send(new DescribeTransactionsRequest.Builder(new DescribeTransactionsRequestData()
                .setTransactionalIds(List.of(id))).build((short) 0));
        return r.data().transactionStates().get(0);
    }
}
