package io.runnel.http;

import static io.runnel.testkit.Brokers.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.SharedBroker;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * A WebSocket {@code produce} frame with a {@code transactionalId} is one Kafka transaction: all its records or none
 * for read_committed readers (Kafka consumers and WebSocket subscriptions alike), committed frame after frame, aborted
 * as a whole when one partition's write fails, and fenced when a Kafka producer (or another socket) takes the id.
 */
class WebSocketTransactionsTest extends SharedBroker {
    private static JsonObject produce(String topic, String txnId, JsonArray records) {
        return new JsonObject().put("op", "produce").put("topic", topic).put("transactionalId", txnId).put("records", records);
    }

    private static JsonObject rec(String key, String value, int partition) {
        return new JsonObject().put("key", key).put("value", value).put("partition", partition);
    }

    private static List<String> values(List<ConsumerRecord<String, String>> records) {
        return records.stream().map(ConsumerRecord::value).toList();
    }

    @Test
    void framesCommitAsWholesAndAFailedOneIsAbortedAsAWhole() throws Exception {
        await(broker.topicAdmin().createTopic("ws-txn", 2, Map.of("max.message.bytes", "2000")));
        List<TopicPartition> both = List.of(new TopicPartition("ws-txn", 0), new TopicPartition("ws-txn", 1));
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            JsonObject sub = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-txn").put("from", "earliest")
                    .put("isolation", "read_committed").put("credit", new JsonObject().put("records", 100)));
            String sid = sub.getString("subscription");

            JsonObject first = ws.request(produce("ws-txn", "page-1", new JsonArray().add(rec("a", "one", 0)).add(rec("b", "two", 1))));
            assertThat(first.getString("type")).isEqualTo("ack");
            assertThat(first.getBoolean("committed")).isTrue();
            assertThat(first.getString("transactionalId")).isEqualTo("page-1");
            assertThat(first.getJsonArray("results")).hasSize(2).allSatisfy(r -> assertThat(((JsonObject) r).getLong("offset")).isZero());

            // Partition 0's record is written, partition 1's is too large: the transaction is aborted as a whole.
            JsonObject failed = ws.request(produce("ws-txn", "page-1", new JsonArray().add(rec("c", "lost", 0)).add(rec("d", "x".repeat(3000), 1))));
            assertThat(failed.getString("type")).isEqualTo("error");
            assertThat(failed.getString("code")).isEqualTo("MESSAGE_TOO_LARGE");
            assertThat(failed.getString("message")).contains("aborted");

            JsonObject third = ws.request(produce("ws-txn", "page-1", new JsonArray().add(rec("e", "three", 0))));
            assertThat(third.getBoolean("committed")).isTrue();

            assertThat(values(KafkaClients.readToEnd(broker.bootstrapServers(), "read_committed", both)))
                    .containsExactlyInAnyOrder("one", "two", "three");
            assertThat(values(KafkaClients.readToEnd(broker.bootstrapServers(), "read_uncommitted", both)))
                    .as("read_uncommitted sees the aborted record too, as in Kafka").contains("lost");
            assertThat(ws.awaitRecords(sid, 3)).extracting(r -> r.getString("value")).containsExactlyInAnyOrder("one", "two", "three");

            assertThat(ws.request(produce("ws-txn", "page-1", new JsonArray().add(rec("f", "g", 0))).put("acks", 1)).getString("code"))
                    .isEqualTo("BAD_REQUEST");
        }
    }

    @Test
    void aKafkaProducerTakingTheIdFencesTheSocket() throws Exception {
        await(broker.topicAdmin().createTopic("ws-fenced", 1, Map.of()));
        TopicPartition p0 = new TopicPartition("ws-fenced", 0);
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            assertThat(ws.request(produce("ws-fenced", "shared-id", new JsonArray().add(rec("a", "from-page", 0)))).getString("type")).isEqualTo("ack");
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG,
                    "shared-id"))) {
                p.initTransactions();
                JsonObject fenced = ws.request(produce("ws-fenced", "shared-id", new JsonArray().add(rec("b", "zombie", 0))));
                assertThat(fenced.getString("type")).isEqualTo("error");
                assertThat(fenced.getString("code")).isEqualTo("PRODUCER_FENCED");
                assertThat(ws.request(produce("ws-fenced", "shared-id", new JsonArray().add(rec("c", "again", 0)))).getString("code"))
                        .as("a fenced socket stays fenced for the id").isEqualTo("PRODUCER_FENCED");
                p.beginTransaction();
                p.send(new org.apache.kafka.clients.producer.ProducerRecord<>("ws-fenced", 0, "d", "from-kafka"));
                p.commitTransaction();
            }
            assertThat(ws.request(produce("ws-fenced", "other-id", new JsonArray().add(rec("e", "other", 0)))).getString("type"))
                    .as("other ids of the socket are unharmed").isEqualTo("ack");
        }
        assertThat(values(KafkaClients.readToEnd(broker.bootstrapServers(), "read_committed", List.of(p0))))
                .containsExactly("from-page", "from-kafka", "other");
    }
}
