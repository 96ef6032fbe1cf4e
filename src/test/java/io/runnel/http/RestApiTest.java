package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.SharedBroker;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/** Every REST endpoint, with the JDK's HTTP client against a real broker, errors included. */
class RestApiTest extends SharedBroker {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private record Reply(int status, String body) {
        JsonObject json() {
            return new JsonObject(body);
        }

        JsonArray array() {
            return new JsonArray(body);
        }
    }

    private static Reply call(String method, String path, String body) throws Exception {
        return send(request(method, path, body));
    }

    private static HttpRequest request(String method, String path, String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + path)).timeout(Duration.ofSeconds(60))
                .header("content-type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static Reply send(HttpRequest r) throws Exception {
        HttpResponse<String> resp = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        return new Reply(resp.statusCode(), resp.body());
    }

    private static void assertError(Reply r, int status, String code, String reason) {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        JsonObject e = r.json();
        assertThat(e.getInteger("status")).isEqualTo(status);
        assertThat(e.getString("code")).isEqualTo(code);
        assertThat(e.getString("message")).contains(reason);
    }

    @Test
    void clusterBrokersHealthAndUnknownPaths() throws Exception {
        JsonObject cluster = call("GET", "/api/cluster", null).json();
        assertThat(cluster.getString("clusterId")).isNotBlank();
        assertThat(cluster.getJsonArray("brokers").getJsonObject(0).getJsonObject("listeners").getString("PLAINTEXT")).isEqualTo(bootstrap);
        assertThat(call("GET", "/api/brokers", null).array().getJsonObject(0).getInteger("nodeId")).isEqualTo(1);
        assertThat(call("GET", "/health", null).json().getString("status")).isEqualTo("UP");
        assertThat(call("GET", "/ready", null).json().getString("status")).isEqualTo("READY");
        assertError(call("GET", "/api/nothing", null), 404, "NOT_FOUND", "/api/nothing");
        assertThat(call("GET", "/api/stats", null).json().getLong("recordsIn")).isNotNull();
    }

    /**
     * Java's HttpClient asks every new cleartext connection to upgrade to HTTP/2 (h2c); the broker answers in HTTP/1.1
     * instead. Over an upgraded connection, an answer that the handler wrote after waiting on another context was at
     * times lost, and the client got EOF after the idle timeout (about one /metrics scrape in 250).
     */
    @Test
    void cleartextRequestsAreAnsweredInHttp11EvenWhenTheClientAsksForAnUpgrade() throws Exception {
        HttpClient fresh = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> metrics = fresh.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/metrics"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.version()).as("no h2c upgrade").isEqualTo(HttpClient.Version.HTTP_1_1);
        assertThat(metrics.body()).contains("runnel_");
    }

    @Test
    void topicsAreCreatedListedDescribedAndDeleted() throws Exception {
        Reply created = call("POST", "/api/topics", new JsonObject().put("name", "rest-topic").put("partitions", 3).put("replicationFactor", 1)
                .put("configs", new JsonObject().put("retention.ms", 3_600_000).put("cleanup.policy", "delete")).encode());
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().getJsonArray("partitions")).hasSize(3);
        assertThat(created.json().getJsonObject("configs").getJsonObject("retention.ms").getMap())
                .containsEntry("value", "3600000").containsEntry("source", "TOPIC");
        assertThat(call("GET", "/api/topics", null).array().stream().map(o -> ((JsonObject) o).getString("name"))).contains("rest-topic");
        JsonObject described = call("GET", "/api/topics/rest-topic", null).json();
        assertThat(described.getJsonArray("partitions").getJsonObject(2).getLong("logEndOffset")).isZero();
        assertThat(described.getJsonObject("configs").getJsonObject("segment.bytes").getString("source")).isEqualTo("DEFAULT");

        assertError(call("POST", "/api/topics", new JsonObject().put("name", "rest-topic").encode()), 409, "TOPIC_ALREADY_EXISTS", "rest-topic");
        assertError(call("POST", "/api/topics", "{not json"), 400, "BAD_REQUEST", "not a JSON object");
        assertError(call("POST", "/api/topics", "[]"), 400, "BAD_REQUEST", "JSON object");
        assertError(call("POST", "/api/topics", new JsonObject().put("partitions", 1).encode()), 400, "BAD_REQUEST", "\"name\"");
        assertError(call("POST", "/api/topics", new JsonObject().put("name", "x1").put("partitions", "two").encode()), 400, "BAD_REQUEST", "partitions");
        assertError(call("POST", "/api/topics", new JsonObject().put("name", "x2").put("replicationFactor", 3).encode()), 400,
                "INVALID_REPLICATION_FACTOR", "1 broker");
        assertError(call("POST", "/api/topics", new JsonObject().put("name", "x3").put("configs", new JsonObject().put("colour", "red")).encode()),
                400, "BAD_REQUEST", "colour");
        assertError(call("POST", "/api/topics", new JsonObject().put("name", "x4").put("configs", new JsonObject().put("retention.ms", "soon")).encode()),
                400, "INVALID_CONFIG", "retention.ms");
        assertError(call("POST", "/api/topics", new JsonObject().put("name", "bad/name").encode()), 400, "INVALID_TOPIC_EXCEPTION", "bad/name");
        assertError(call("GET", "/api/topics/nope", null), 404, "UNKNOWN_TOPIC_OR_PARTITION", "nope");

        Reply deleted = call("DELETE", "/api/topics/rest-topic", null);
        assertThat(deleted.status()).isEqualTo(204);
        assertError(call("GET", "/api/topics/rest-topic", null), 404, "UNKNOWN_TOPIC_OR_PARTITION", "rest-topic");
        assertError(call("DELETE", "/api/topics/rest-topic", null), 404, "UNKNOWN_TOPIC_OR_PARTITION", "rest-topic");
        assertThat(call("POST", "/api/topics", "x".repeat(3 << 20)).status()).isEqualTo(413); // past the body limit
    }

    @Test
    void recordsAreProducedAndConsumedWithOffsetsLimitsAndLongPolls() throws Exception {
        call("POST", "/api/topics", new JsonObject().put("name", "rest-records").put("partitions", 2).encode());
        JsonArray records = new JsonArray();
        for (int i = 0; i < 5; i++) records.add(new JsonObject().put("key", "k" + i).put("value", "v" + i).put("partition", 0));
        records.add(new JsonObject().put("value", new JsonObject().put("json", true)).put("partition", 0).put("headers", new JsonArray()
                .add(new JsonObject().put("key", "h").put("value", "1")).add(new JsonObject().put("key", "h").put("value", "2"))));
        Reply produced = call("POST", "/api/topics/rest-records/records", new JsonObject().put("records", records).encode());
        assertThat(produced.status()).as(produced.body()).isEqualTo(200);
        assertThat(produced.json().getJsonArray("results").getJsonObject(5).getLong("offset")).isEqualTo(5);

        JsonObject page = call("GET", "/api/topics/rest-records/partitions/0/records?offset=1&limit=2", null).json();
        assertThat(page.getJsonArray("records")).hasSize(2);
        assertThat(page.getJsonArray("records").getJsonObject(0).getString("value")).isEqualTo("v1");
        assertThat(page.getLong("nextOffset")).isEqualTo(3);
        assertThat(page.getLong("logEndOffset")).isEqualTo(6);
        JsonObject last = call("GET", "/api/topics/rest-records/partitions/0/records?offset=5", null).json().getJsonArray("records").getJsonObject(0);
        assertThat(new JsonObject(last.getString("value")).getBoolean("json")).isTrue();
        assertThat(last.getJsonArray("headers")).hasSize(2);
        assertThat(call("GET", "/api/topics/rest-records/partitions/0/records", null).json().getJsonArray("records")).hasSize(6); // from earliest
        // Records produced with a Kafka client are read over REST too, base64 on request.
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of())) {
            p.send(new ProducerRecord<>("rest-records", 1, "kafka", "from-kafka")).get();
        }
        JsonObject b64 = call("GET", "/api/topics/rest-records/partitions/1/records?offset=0&encoding=base64", null).json().getJsonArray("records").getJsonObject(0);
        assertThat(new String(Base64.getDecoder().decode(b64.getString("value")))).isEqualTo("from-kafka");
        assertThat(b64.getString("valueEncoding")).isEqualTo("base64");

        // Long poll: the request waits at the end of the log and is answered by the next append.
        CompletableFuture<HttpResponse<String>> waiting = HTTP.sendAsync(request("GET", "/api/topics/rest-records/partitions/0/records?offset=6&timeout=20000", null),
                HttpResponse.BodyHandlers.ofString());
        call("POST", "/api/topics/rest-records/records", new JsonObject().put("records", new JsonArray().add(new JsonObject().put("value", "late").put("partition", 0))).encode());
        JsonObject woke = new JsonObject(waiting.get(30, TimeUnit.SECONDS).body());
        assertThat(woke.getJsonArray("records").getJsonObject(0).getString("value")).isEqualTo("late");
        JsonObject empty = call("GET", "/api/topics/rest-records/partitions/0/records?offset=7&timeout=100", null).json();
        assertThat(empty.getJsonArray("records")).isEmpty();
        assertThat(empty.getLong("nextOffset")).isEqualTo(7);

        assertError(call("GET", "/api/topics/rest-records/partitions/0/records?offset=99", null), 416, "OFFSET_OUT_OF_RANGE", "99");
        assertError(call("GET", "/api/topics/rest-records/partitions/7/records", null), 404, "UNKNOWN_TOPIC_OR_PARTITION", "partition 7");
        assertError(call("GET", "/api/topics/rest-records/partitions/x/records", null), 400, "BAD_REQUEST", "partition");
        assertError(call("GET", "/api/topics/rest-records/partitions/0/records?limit=lots", null), 400, "BAD_REQUEST", "limit");
        assertError(call("GET", "/api/topics/rest-records/partitions/0/records?limit=0", null), 400, "BAD_REQUEST", "limit");
        assertError(call("GET", "/api/topics/rest-records/partitions/0/records?timeout=99999999", null), 400, "BAD_REQUEST", "timeout");
        assertError(call("GET", "/api/topics/nope/partitions/0/records", null), 404, "UNKNOWN_TOPIC_OR_PARTITION", "nope");
        assertError(call("POST", "/api/topics/nope/records", new JsonObject().put("records", records).encode()), 404, "UNKNOWN_TOPIC_OR_PARTITION", "nope");
        assertError(call("POST", "/api/topics/rest-records/records", "{\"records\": 5}"), 400, "BAD_REQUEST", "'records' must be an array");
        assertError(call("POST", "/api/topics/rest-records/records", "{\"records\": [{\"timestamp\": \"now\"}]}"), 400, "BAD_REQUEST", "records[0].timestamp");
        assertError(call("POST", "/api/topics/rest-records/records", "nonsense"), 400, "BAD_REQUEST", "JSON");
    }

    @Test
    void consumerGroupsShowMembersCommittedOffsetsAndLag() throws Exception {
        call("POST", "/api/topics", new JsonObject().put("name", "rest-lag").put("partitions", 2).encode());
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of())) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("rest-lag", i % 2, null, "v" + i));
            p.flush();
        }
        try (KafkaConsumer<String, String> c = KafkaClients.groupConsumer(bootstrap, "classic", "rest-group", Map.of("max.poll.records", 3))) {
            c.subscribe(List.of("rest-lag"));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !c.poll(Duration.ofMillis(100)).isEmpty());
            c.commitSync();
            assertThat(call("GET", "/api/groups", null).array().stream().map(o -> ((JsonObject) o).getString("groupId"))).contains("rest-group");
            JsonObject g = call("GET", "/api/groups/rest-group", null).json();
            assertThat(g.getString("type")).isEqualTo("classic");
            assertThat(g.getString("state")).isEqualTo("Stable");
            assertThat(g.getJsonArray("members")).hasSize(1);
            assertThat(g.getJsonArray("members").getJsonObject(0).getJsonArray("assignment").getJsonObject(0).getString("topic")).isEqualTo("rest-lag");
            JsonArray offsets = g.getJsonArray("offsets");
            long committed = offsets.stream().mapToLong(o -> ((JsonObject) o).getLong("committedOffset")).sum();
            assertThat(committed).isBetween(1L, 9L);
            assertThat(g.getLong("totalLag")).isEqualTo(offsets.stream().mapToLong(o -> ((JsonObject) o).getLong("logEndOffset")).sum() - committed);
        }
        assertError(call("GET", "/api/groups/nobody", null), 404, "GROUP_ID_NOT_FOUND", "nobody");
        String metrics = call("GET", "/metrics", null).body();
        assertThat(metrics).contains("runnel_consumer_group_lag{group=\"rest-group\",partition=\"0\",topic=\"rest-lag\"}")
                .contains("runnel_topic_records_in_total{topic=\"rest-lag\"} 10.0")
                .contains("runnel_kafka_request_seconds_bucket{api=\"Produce\"")
                .contains("runnel_log_size_bytes{partition=\"1\",topic=\"rest-lag\"}")
                .contains("jvm_memory_used_bytes")
                .contains("vertx_http_server_active_connections");
    }
}
