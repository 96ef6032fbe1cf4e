package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * kafkajs 2.2's transactions (transactions version 1, at kafkajs's old protocol versions: InitProducerId,
 * AddPartitionsToTxn and EndTxn v0 to v1) commit and abort against Runnel, and the Java consumer with read_committed
 * sees the committed messages only.
 */
class KafkaJsTransactionsTest extends BrokerPerTest {
    @Test
    void kafkajsTransactionsCommitAndAbortAndReadCommittedJavaConsumersSeeOnlyTheCommittedOnes() throws Exception {
        Process p = new ProcessBuilder("node", "src/test/js/kafkajs-transactions.mjs", broker.bootstrapServers(), "kjs-txn").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("node output:%n%s", out).isZero();
        assertThat(out).contains("\"outcomes\":[\"committed\",\"aborted\",\"committed\"]");

        List<String> seen = KafkaClients.committedValues(broker.bootstrapServers(), List.of(new TopicPartition("kjs-txn", 0), new TopicPartition("kjs-txn", 1)));
        assertThat(seen).containsExactlyInAnyOrder("c0", "c1", "c2", "c3");
    }
}
