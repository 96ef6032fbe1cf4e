package io.runnel.partition;

import static io.runnel.testkit.Brokers.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * REST and WebSocket on replicated partitions, with a real broker whose partition is given placements as the
 * controller would give them: a second in-sync replica (broker 99) that never fetches, so that the high watermark
 * stays where it is until the ISR shrinks, or another leader. Produce honours {@code acks} with the same acks=all as
 * Kafka producers: acks=1 answers once the leader has the records, acks=all (the default) only once every in-sync
 * replica has them, and is refused while the ISR is smaller than min.insync.replicas. A partition this broker only
 * follows is not served: the client is sent to its leader.
 */
class HttpOnReplicatedPartitionsTest extends BrokerPerTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private CompletableFuture<JsonObject> produce(String topic, String body) {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/api/topics/" + topic + "/records"))
                .timeout(Duration.ofSeconds(60)).header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HTTP.sendAsync(r, HttpResponse.BodyHandlers.ofString()).thenApply(resp -> {
            assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
            return new JsonObject(resp.body());
        });
    }

    private static JsonObject result(JsonObject reply) {
        return reply.getJsonArray("results").getJsonObject(0);
    }

    @Test
    void restAndWebSocketProduceWaitForTheInSyncReplicasUnlessAcksIsOne() throws Exception {
        await(broker.topicAdmin().createTopic("acked", 1, Map.of("min.insync.replicas", "2")));
        int self = broker.topics().nodeId();
        PartitionHandle h = broker.topics().partition("acked", 0).orElseThrow();
        int epoch = h.placement().leaderEpoch() + 1;
        await(h.applyPlacement(new Placement(List.of(self, 99), self, epoch, List.of(self, 99))));

        JsonObject leaderOnly = produce("acked", "{\"acks\":1,\"records\":[{\"value\":\"one\"}]}").get(30, TimeUnit.SECONDS);
        assertThat(result(leaderOnly).getLong("offset")).isZero();
        CompletableFuture<JsonObject> all = produce("acked", "{\"records\":[{\"value\":\"all\"}]}");
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            int wsLeaderOnly = ws.send(new JsonObject().put("op", "produce").put("topic", "acked").put("acks", "1")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "ws-one"))));
            JsonObject ack = ws.awaitFrame(f -> Integer.valueOf(wsLeaderOnly).equals(f.getValue("id")));
            assertThat(ack.getString("type")).isEqualTo("ack");
            int wsAll = ws.send(new JsonObject().put("op", "produce").put("topic", "acked").put("acks", "all")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "ws-all"))));
            // Both acks=all produces are appended (offsets 1 and 3) and wait: broker 99 has neither.
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> h.logEndOffset() == 4);
            assertThat(all).isNotDone();
            assertThat(ws.frames()).noneMatch(f -> Integer.valueOf(wsAll).equals(f.getValue("id")));
            assertThat(h.highWatermark()).isZero();

            // Broker 99 leaves the ISR: the high watermark moves past both, and with one in-sync replica left of the
            // two min.insync.replicas asks for, Kafka's answer is NOT_ENOUGH_REPLICAS_AFTER_APPEND.
            await(h.applyPlacement(new Placement(List.of(self, 99), self, epoch, List.of(self))));
            assertThat(result(all.get(30, TimeUnit.SECONDS)).getString("error")).isEqualTo("NOT_ENOUGH_REPLICAS_AFTER_APPEND");
            JsonObject wsAck = ws.awaitFrame(f -> Integer.valueOf(wsAll).equals(f.getValue("id")));
            assertThat(wsAck.getJsonArray("results").getJsonObject(0).getString("error")).isEqualTo("NOT_ENOUGH_REPLICAS_AFTER_APPEND");

            // Now refused before writing, and written with acks=1.
            assertThat(result(produce("acked", "{\"acks\":\"all\",\"records\":[{\"value\":\"x\"}]}").get(30, TimeUnit.SECONDS))
                    .getString("error")).isEqualTo("NOT_ENOUGH_REPLICAS");
            assertThat(h.logEndOffset()).isEqualTo(4);
            assertThat(result(produce("acked", "{\"acks\":\"1\",\"records\":[{\"value\":\"y\"}]}").get(30, TimeUnit.SECONDS)).getLong("offset"))
                    .isEqualTo(4);

            // Back to two in-sync replicas once 99 is in the ISR again: acks=all is acknowledged when 99 has the records.
            await(h.applyPlacement(new Placement(List.of(self, 99), self, epoch, List.of(self, 99))));
            CompletableFuture<JsonObject> replicated = produce("acked", "{\"records\":[{\"value\":\"z\"}]}");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> h.logEndOffset() == 6);
            assertThat(replicated).isNotDone();
            await(h.sliceForReplica(99, 6, 1 << 20)); // broker 99 fetches from the log end: it has everything
            assertThat(result(replicated.get(30, TimeUnit.SECONDS)).getLong("offset")).isEqualTo(5);
        }
    }

    @Test
    void aPartitionThisBrokerFollowsIsAnsweredWith421NamingItsLeader() throws Exception {
        await(broker.topicAdmin().createTopic("followed", 2, Map.of()));
        int self = broker.topics().nodeId();
        PartitionHandle h = broker.topics().partition("followed", 1).orElseThrow();
        await(h.applyPlacement(new Placement(List.of(99, self), 99, h.placement().leaderEpoch() + 1, List.of(99, self))));
        HttpRequest read = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/api/topics/followed/partitions/1/records"))
                .GET().build();
        HttpResponse<String> resp = HTTP.send(read, HttpResponse.BodyHandlers.ofString());
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(421);
        assertThat(new JsonObject(resp.body()).getString("code")).isEqualTo("NOT_LEADER_OR_FOLLOWER");
        assertThat(result(produce("followed", "{\"records\":[{\"partition\":1,\"value\":\"v\"}]}").get(30, TimeUnit.SECONDS))
                .getString("error")).isEqualTo("NOT_LEADER_OR_FOLLOWER");
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            JsonObject chosen = ws.request(new JsonObject().put("op", "subscribe").put("topic", "followed").put("partitions", new JsonArray().add(1)));
            assertThat(chosen.getString("type")).isEqualTo("error");
            assertThat(chosen.getString("message")).contains("led by broker 99");
            JsonObject all = ws.request(new JsonObject().put("op", "subscribe").put("topic", "followed").put("from", "earliest"));
            assertThat(all.getString("type")).isEqualTo("subscribed");
            assertThat(all.getJsonArray("partitions")).as("only the partition it leads").hasSize(1);
            assertThat(all.getJsonArray("partitions").getJsonObject(0).getInteger("partition")).isZero();
        }
    }

    @Test
    void anAcksValueOtherThanOneOrAllIsABadRequest() throws Exception {
        createTopic("bad-acks", 1);
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/api/topics/bad-acks/records"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"acks\":0,\"records\":[{\"value\":\"v\"}]}"))
                .build();
        HttpResponse<String> resp = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        assertThat(resp.statusCode()).isEqualTo(400);
        assertThat(new JsonObject(resp.body()).getString("message")).contains("\"acks\" must be 1");
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            int id = ws.send(new JsonObject().put("op", "produce").put("topic", "bad-acks").put("acks", "none")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "v"))));
            JsonObject error = ws.awaitFrame(f -> Integer.valueOf(id).equals(f.getValue("id")));
            assertThat(error.getString("type")).isEqualTo("error");
            assertThat(error.getString("message")).contains("\"acks\" must be 1");
        }
        assertThat(broker.topics().partition("bad-acks", 0).orElseThrow().logEndOffset()).isZero();
    }
}
