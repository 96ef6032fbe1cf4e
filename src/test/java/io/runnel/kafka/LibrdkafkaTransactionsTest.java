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
 * librdkafka's transactions (Debian's python3-confluent-kafka for Debian's /usr/bin/python3, which scripts/test
 * installs; transactions version 1)
 * commit and abort against Runnel, and the Java consumer with read_committed sees the committed messages only.
 */
class LibrdkafkaTransactionsTest extends BrokerPerTest {
    @Test
    void librdkafkaTransactionsCommitAndAbortAndReadCommittedJavaConsumersSeeOnlyTheCommittedOnes() throws Exception {
        createTopic("rdk-txn", 2);
        Process p = new ProcessBuilder("/usr/bin/python3", "src/test/python/librdkafka_transactions.py", broker.bootstrapServers(), "rdk-txn")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(90, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("python output:%n%s", out).isZero();
        assertThat(out).contains("\"outcomes\": [\"committed\", \"aborted\", \"committed\"]");

        List<String> seen = KafkaClients.committedValues(broker.bootstrapServers(), List.of(new TopicPartition("rdk-txn", 0), new TopicPartition("rdk-txn", 1)));
        assertThat(seen).containsExactlyInAnyOrder("c0", "c1", "c2", "c3");
    }
}
