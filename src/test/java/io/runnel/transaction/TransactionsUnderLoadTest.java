package io.runnel.transaction;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * A transactional producer flat out over six partitions, committing every few hundred records (as ProducerPerformance
 * with --transaction-duration-ms does): every commit completes, and read_committed readers see every record.
 */
class TransactionsUnderLoadTest extends BrokerPerTest {
    @Test
    void manyTransactionsOverSixPartitionsWithPipelinedRequestsAllCommit() throws Exception {
        createTopic("load", 6);
        int records = 60_000;
        String pad = "x".repeat(90);
        // Small batches and up to five requests in flight: a transaction's first batches in a partition wait for the
        // coordinator while later batches of the same partition are already behind them on the connection.
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "load",
                ProducerConfig.LINGER_MS_CONFIG, 1, ProducerConfig.BATCH_SIZE_CONFIG, 4096, ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000))) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < records; i++) {
                p.send(new ProducerRecord<>("load", null, pad + i));
                if (i % 6000 == 5999) {
                    p.commitTransaction();
                    p.beginTransaction();
                }
            }
            p.commitTransaction();
        }
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < 6; i++) tps.add(new TopicPartition("load", i));
        List<String> values = KafkaClients.committedValues(broker.bootstrapServers(), tps);
        assertThat(values).hasSize(records).doesNotHaveDuplicates();
    }
}
