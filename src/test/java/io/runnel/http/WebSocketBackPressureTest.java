package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Main;
import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A browser that stops: one subscription granted 10 records and never grants more, another granted a million and
 * then the socket stops being read (a frozen tab). 500 MB are produced meanwhile to a broker whose heap is capped at
 * 96 MB and direct memory at 64 MB: had the broker buffered for the socket, it would run out of memory. It keeps
 * serving, the first subscription got exactly its 10 records, and both carry on when the client does.
 */
class WebSocketBackPressureTest {
    private static final int VALUE_BYTES = 100_000;
    private static final int RECORDS = 5_000; // 500 MB

    @TempDir
    Path data;

    @Test
    void aStalledClientCostsTheBrokerABoundedAmountOfMemory() throws Exception {
        try (BrokerProcess broker = BrokerProcess.launch(data, List.of("-Xmx96m", "-XX:MaxDirectMemorySize=64m"), Main.class.getName(),
                Brokers.testArgs(data.resolve("data")))) {
            broker.awaitOutput("HTTP listening on", Duration.ofSeconds(30));
            String bootstrap = broker.kafkaBootstrap();
            try (Admin admin = KafkaClients.admin(bootstrap)) {
                admin.createTopics(List.of(new NewTopic("stall", 1, (short) 1))).all().get();
            }
            try (WsClient ws = WsClient.connect(broker.httpPort())) {
                String ten = ws.request(new JsonObject().put("op", "subscribe").put("topic", "stall").put("from", "earliest")
                        .put("credit", new JsonObject().put("records", 10))).getString("subscription");
                String lots = ws.request(new JsonObject().put("op", "subscribe").put("topic", "stall").put("from", "earliest")
                        .put("credit", new JsonObject().put("records", 1_000_000))).getString("subscription");
                ws.pause();
                String value = "x".repeat(VALUE_BYTES);
                try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "1",
                        ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20, ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1 << 20))) {
                    for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("stall", null, value));
                    p.flush();
                }
                ws.resume();
                ws.awaitRecords(ten, 10);
                ws.awaitRecords(lots, 300); // the frozen tab's subscription carries on where it stopped
                JsonObject ack = ws.request(new JsonObject().put("op", "produce").put("topic", "stall")
                        .put("records", new JsonArray().add(new JsonObject().put("value", "sync"))));
                assertThat(ack.getJsonArray("results").getJsonObject(0).getLong("offset")).isEqualTo(RECORDS); // all 5,000 were appended
                assertThat(ws.records(ten)).hasSize(10);
                ws.send(new JsonObject().put("op", "credit").put("subscription", ten).put("records", 5));
                assertThat(ws.awaitRecords(ten, 15)).extracting(r -> r.getLong("offset"))
                        .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L, 14L);
            }
            assertThat(broker.output()).doesNotContain("OutOfMemoryError");
        }
    }
}
