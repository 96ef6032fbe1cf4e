package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * Browsers and scripts choose their isolation as Kafka consumers do: REST reads and WebSocket subscriptions with
 * {@code "isolation": "read_committed"} see committed transactions only and stop at an open one, which they deliver
 * once it commits; read_uncommitted (the default) sees every record.
 */
class HttpIsolationTest extends BrokerPerTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @Test
    void readCommittedRestReadsAndSubscriptionsSkipAbortedRecordsAndWaitForOpenTransactions() throws Exception {
        createTopic("ledger", 1);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "ledger-web"));
             WsClient ws = WsClient.connect(broker.httpPort())) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>("ledger", 0, "k", "committed"));
            p.commitTransaction();
            p.beginTransaction();
            p.send(new ProducerRecord<>("ledger", 0, "k", "aborted"));
            p.flush();
            p.abortTransaction();
            p.beginTransaction();
            p.send(new ProducerRecord<>("ledger", 0, "k", "open"));
            p.flush();

            JsonObject committed = get("/api/topics/ledger/partitions/0/records?isolation=read_committed").json();
            assertThat(values(committed.getJsonArray("records"))).containsExactly("committed");
            assertThat(committed.getLong("logEndOffset")).as("the last stable offset: the open transaction's first record").isEqualTo(4);
            assertThat(values(get("/api/topics/ledger/partitions/0/records").json().getJsonArray("records")))
                    .containsExactly("committed", "aborted", "open");
            Reply bad = get("/api/topics/ledger/partitions/0/records?isolation=serializable");
            assertThat(bad.status()).isEqualTo(400);
            assertThat(bad.body()).contains("isolation");

            JsonObject sub = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ledger").put("from", "earliest")
                    .put("isolation", "read_committed").put("credit", new JsonObject().put("records", 100)));
            assertThat(sub.getString("type")).isEqualTo("subscribed");
            String sid = sub.getString("subscription");
            assertThat(ws.awaitRecords(sid, 1)).extracting(r -> r.getString("value")).containsExactly("committed");
            p.commitTransaction(); // the open transaction commits: the subscription is woken and delivers it
            assertThat(ws.awaitRecords(sid, 2)).extracting(r -> r.getString("value")).containsExactly("committed", "open");
        }
    }

    private record Reply(int status, String body) {
        JsonObject json() {
            return new JsonObject(body);
        }
    }

    private Reply get(String path) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + path))
                .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    private static List<String> values(JsonArray records) {
        return records.stream().map(o -> ((JsonObject) o).getString("value")).toList();
    }
}
