package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.RawKafkaClient;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData.PartitionProduceResponse;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The idempotent producer at the protocol level: a retried batch (as after a lost response) is written once and
 * answered with its original offset; sequence gaps and stale epochs get Kafka's errors; the state survives restarts.
 */
class IdempotentProduceTest extends BrokerPerTest {

    @BeforeEach
    void start() throws Exception {
        createTopic("idem", 1);
    }


    private static ByteBuffer batch(long pid, short epoch, int seq, String... values) {
        SimpleRecord[] records = new SimpleRecord[values.length];
        for (int i = 0; i < values.length; i++) records[i] = new SimpleRecord(1_700_000_000_000L, null, values[i].getBytes());
        return MemoryRecords.withIdempotentRecords(Compression.NONE, pid, epoch, seq, records).buffer();
    }

    private static PartitionProduceResponse produce(RawKafkaClient c, ByteBuffer batch) throws Exception {
        ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(5000);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("idem");
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0).setRecords(MemoryRecords.readableRecords(batch)));
        data.topicData().add(t);
        ProduceResponse r = c.send(ProduceRequest.builder(data).build((short) 12));
        return r.data().responses().iterator().next().partitionResponses().get(0);
    }

    @Test
    void aRetriedBatchIsWrittenOnceAndAnsweredWithItsOriginalOffset() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            long pid = c.newIdempotentProducerId();
            assertThat(produce(c, batch(pid, (short) 0, 0, "a", "b")).baseOffset()).isZero();
            assertThat(produce(c, batch(pid, (short) 0, 2, "c")).baseOffset()).isEqualTo(2);
            // The response to seq 2 was "lost"; the producer retries both in-flight batches.
            PartitionProduceResponse retry0 = produce(c, batch(pid, (short) 0, 0, "a", "b"));
            PartitionProduceResponse retry2 = produce(c, batch(pid, (short) 0, 2, "c"));
            assertThat(retry0.errorCode()).isZero();
            assertThat(retry0.baseOffset()).isZero();
            assertThat(retry2.baseOffset()).isEqualTo(2);
            assertThat(broker.topics().partition("idem", 0).orElseThrow().logEndOffset()).isEqualTo(3);
            assertThat(produce(c, batch(pid, (short) 0, 3, "d")).baseOffset()).isEqualTo(3);
        }
    }

    @Test
    void sequenceGapsAndStaleEpochsGetKafkasErrors() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            long pid = c.newIdempotentProducerId();
            assertThat(produce(c, batch(pid, (short) 0, 0, "a")).errorCode()).isZero();
            assertThat(produce(c, batch(pid, (short) 0, 5, "gap")).errorCode()).isEqualTo(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER.code());
            assertThat(produce(c, batch(pid, (short) 1, 0, "new epoch")).errorCode()).isZero();
            assertThat(produce(c, batch(pid, (short) 0, 1, "stale")).errorCode()).isEqualTo(Errors.INVALID_PRODUCER_EPOCH.code());
            assertThat(produce(c, batch(pid, (short) 2, 7, "epoch must start at 0")).errorCode()).isEqualTo(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER.code());
            assertThat(broker.topics().partition("idem", 0).orElseThrow().logEndOffset()).isEqualTo(2);
        }
    }

    @Test
    void producerStateSurvivesARestartWithOrWithoutItsSnapshot() throws Exception {
        long pid;
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            pid = c.newIdempotentProducerId();
            for (int seq = 0; seq < 5; seq++) produce(c, batch(pid, (short) 0, seq, "v" + seq));
        }
        for (boolean deleteSnapshots : new boolean[] {false, true}) {
            broker.stop().get(30, TimeUnit.SECONDS);
            if (deleteSnapshots) {
                try (var files = Files.list(data.resolve("idem-0"))) {
                    for (Path f : files.filter(f -> f.toString().endsWith(".snapshot")).toList()) Files.delete(f);
                }
            } else {
                try (var files = Files.list(data.resolve("idem-0"))) {
                    assertThat(files.map(f -> f.getFileName().toString())).contains("00000000000000000005.snapshot");
                }
            }
            broker = Brokers.start(data);
            try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
                assertThat(produce(c, batch(pid, (short) 0, 4, "v4")).baseOffset()).as("duplicate after restart").isEqualTo(4);
                assertThat(broker.topics().partition("idem", 0).orElseThrow().logEndOffset()).isEqualTo(5);
                assertThat(produce(c, batch(pid, (short) 0, 9, "gap")).errorCode()).isEqualTo(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER.code());
                assertThat(c.newIdempotentProducerId()).isNotEqualTo(pid); // ids are never handed out twice
            }
        }
    }
}
