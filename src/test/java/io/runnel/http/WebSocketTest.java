package io.runnel.http;

import static io.runnel.testkit.Brokers.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.SharedBroker;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** The WebSocket gateway with a real WebSocket client against a real broker. */
class WebSocketTest extends SharedBroker {

    private static int http() {
        return broker.httpPort();
    }

    private static Predicate<JsonObject> type(String type) {
        return f -> type.equals(f.getString("type"));
    }

    @Test
    void producedRecordsComeBackWithEveryFieldAndAreReadableByKafkaClients() throws Exception {
        await(broker.topicAdmin().createTopic("ws-roundtrip", 3, Map.of()));
        try (WsClient ws = WsClient.connect(http())) {
            JsonObject sub = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-roundtrip").put("from", "earliest")
                    .put("credit", new JsonObject().put("records", 100)));
            assertThat(sub.getString("type")).isEqualTo("subscribed");
            assertThat(sub.getJsonArray("partitions")).hasSize(3);
            String sid = sub.getString("subscription");
            JsonArray records = new JsonArray()
                    .add(new JsonObject().put("key", "k1").put("value", "plain text").put("partition", 1).put("timestamp", 1_700_000_000_000L)
                            .put("headers", new JsonObject().put("trace", "t-1")))
                    .add(new JsonObject().put("key", "k2").put("value", new JsonObject().put("n", 42).put("ok", true)).put("partition", 1))
                    .add(new JsonObject().put("key", "k3").putNull("value").put("partition", 1))
                    .add(new JsonObject().put("value", Base64.getEncoder().encodeToString(new byte[] {(byte) 0xff, 0, 1})).put("encoding", "base64")
                            .put("partition", 1));
            JsonObject ack = ws.request(new JsonObject().put("op", "produce").put("topic", "ws-roundtrip").put("records", records));
            assertThat(ack.getString("type")).isEqualTo("ack");
            JsonArray results = ack.getJsonArray("results");
            for (int i = 0; i < 4; i++) {
                assertThat(results.getJsonObject(i).getInteger("partition")).isEqualTo(1);
                assertThat(results.getJsonObject(i).getLong("offset")).isEqualTo(i);
            }
            assertThat(results.getJsonObject(0).getLong("timestamp")).isEqualTo(1_700_000_000_000L);
            assertThat(ack.getJsonObject("credit").getInteger("records")).isEqualTo(1000); // all credit is back

            List<JsonObject> got = ws.awaitRecords(sid, 4);
            assertThat(got).hasSize(4);
            assertThat(got.get(0).getString("key")).isEqualTo("k1");
            assertThat(got.get(0).getString("value")).isEqualTo("plain text");
            assertThat(got.get(0).getLong("timestamp")).isEqualTo(1_700_000_000_000L);
            assertThat(got.get(0).getString("timestampType")).isEqualTo("CreateTime");
            assertThat(got.get(0).getJsonArray("headers").getJsonObject(0).getMap()).containsEntry("key", "trace").containsEntry("value", "t-1");
            assertThat(new JsonObject(got.get(1).getString("value")).getInteger("n")).isEqualTo(42); // JSON stored as its text
            assertThat(got.get(2).getValue("value")).isNull();
            assertThat(got.get(3).getString("valueEncoding")).isEqualTo("base64"); // not UTF-8: base64
            assertThat(Base64.getDecoder().decode(got.get(3).getString("value"))).containsExactly(0xff, 0, 1);
            assertThat(got).extracting(r -> r.getLong("offset")).containsExactly(0L, 1L, 2L, 3L);

            // Keyed records without a partition land where a Kafka producer would put them (murmur2 of the key).
            JsonObject keyed = ws.request(new JsonObject().put("op", "produce").put("topic", "ws-roundtrip")
                    .put("records", new JsonArray().add(new JsonObject().put("key", "same").put("value", "a")).add(new JsonObject().put("key", "same").put("value", "b"))));
            int p = keyed.getJsonArray("results").getJsonObject(0).getInteger("partition");
            assertThat(keyed.getJsonArray("results").getJsonObject(1).getInteger("partition")).isEqualTo(p);
            try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, Map.of())) {
                assertThat(producer.send(new ProducerRecord<>("ws-roundtrip", "same", "c")).get().partition()).isEqualTo(p);
            }
            // A Kafka consumer reads what the WebSocket produced.
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
                TopicPartition tp = new TopicPartition("ws-roundtrip", 1);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<String, String>> kafka = KafkaClients.pollAtLeast(c, 4);
                assertThat(kafka.get(0).value()).isEqualTo("plain text");
                assertThat(new String(kafka.get(0).headers().lastHeader("trace").value(), StandardCharsets.UTF_8)).isEqualTo("t-1");
                assertThat(kafka.get(2).value()).isNull();
            }

            // From an offset of chosen partitions, and from a timestamp.
            JsonObject fromOffset = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-roundtrip").put("partitions", new JsonArray().add(1))
                    .put("from", new JsonObject().put("offset", 2)).put("credit", new JsonObject().put("records", 10)));
            List<JsonObject> tail = ws.awaitRecords(fromOffset.getString("subscription"), 2);
            assertThat(tail.get(0).getLong("offset")).isEqualTo(2);
            JsonObject fromTime = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-roundtrip").put("partitions", new JsonArray().add(1))
                    .put("from", new JsonObject().put("timestamp", 1_700_000_000_001L)).put("credit", new JsonObject().put("records", 10)));
            assertThat(fromTime.getJsonArray("partitions").getJsonObject(0).getLong("offset")).isEqualTo(1); // first record at or after
        }
    }

    @Test
    void theServerNeverSendsMoreThanTheClientGranted() throws Exception {
        await(broker.topicAdmin().createTopic("ws-credit", 2, Map.of()));
        try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, Map.of())) {
            for (int i = 0; i < 300; i++) producer.send(new ProducerRecord<>("ws-credit", i % 2, null, "v" + i));
            producer.flush();
        }
        try (WsClient ws = WsClient.connect(http())) {
            String sid = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-credit").put("from", "earliest")
                    .put("credit", new JsonObject().put("records", 7))).getString("subscription");
            int granted = 7;
            while (granted < 300) {
                ws.awaitRecords(sid, granted);
                // Every frame is counted: what arrived is exactly what was granted, never more.
                assertThat(ws.records(sid)).hasSize(granted);
                int more = Math.min(7, 300 - granted);
                ws.send(new JsonObject().put("op", "credit").put("subscription", sid).put("records", more));
                granted += more;
            }
            List<JsonObject> all = ws.awaitRecords(sid, 300);
            Set<String> values = new HashSet<>();
            for (JsonObject r : all) assertThat(values.add(r.getString("value"))).isTrue();
            assertThat(values).hasSize(300);
            // Byte credit: records of about 1 KB and 5 KB of credit deliver at most 5 records.
            String big = "x".repeat(1000);
            try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, Map.of())) {
                for (int i = 0; i < 20; i++) producer.send(new ProducerRecord<>("ws-credit", 0, null, big));
                producer.flush();
            }
            String bytesSid = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-credit").put("partitions", new JsonArray().add(0))
                    .put("from", new JsonObject().put("offset", 150)).put("credit", new JsonObject().put("records", 1000).put("bytes", 5000)))
                    .getString("subscription");
            List<JsonObject> limited = ws.awaitRecords(bytesSid, 1);
            assertThat(ws.request(new JsonObject().put("op", "produce").put("topic", "ws-credit")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "sync").put("partition", 1)))).getString("type")).isEqualTo("ack");
            assertThat(ws.records(bytesSid).stream().mapToInt(r -> r.getString("value").length()).sum()).isLessThanOrEqualTo(5000);
            ws.send(new JsonObject().put("op", "credit").put("subscription", bytesSid).put("bytes", 100_000));
            assertThat(ws.awaitRecords(bytesSid, 20)).hasSize(20); // 150 offsets of partition 0 hold 150 small + 20 big
            assertThat(limited).isNotEmpty();
        }
    }

    @Test
    void aFrameBeyondTheProduceCreditIsRefusedAndTheSocketCarriesOn() throws Exception {
        await(broker.topicAdmin().createTopic("ws-produce-credit", 1, Map.of()));
        try (WsClient ws = WsClient.connect(http())) {
            JsonObject hello = ws.frames().get(0);
            int creditRecords = hello.getJsonObject("credit").getInteger("records");
            JsonArray tooMany = new JsonArray();
            for (int i = 0; i <= creditRecords; i++) tooMany.add(new JsonObject().put("value", "v" + i));
            JsonObject refused = ws.request(new JsonObject().put("op", "produce").put("topic", "ws-produce-credit").put("records", tooMany));
            assertThat(refused.getString("type")).isEqualTo("error");
            assertThat(refused.getString("code")).isEqualTo("CREDIT_EXCEEDED");
            assertThat(broker.topics().partition("ws-produce-credit", 0).orElseThrow().logEndOffset()).isZero(); // nothing appended
            JsonObject ok = ws.request(new JsonObject().put("op", "produce").put("topic", "ws-produce-credit")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "fits"))));
            assertThat(ok.getString("type")).isEqualTo("ack");
        }
    }

    @Test
    void malformedFramesGetErrorFramesWithReasonsAndTheSocketStaysUsable() throws Exception {
        await(broker.topicAdmin().createTopic("ws-errors", 2, Map.of()));
        try (WsClient ws = WsClient.connect(http())) {
            ws.sendText("this is not json");
            assertThat(ws.awaitFrame(type("error")).getString("message")).contains("not a JSON object");
            ws.sendBinary(new byte[] {1, 2, 3});
            ws.awaitFrame(f -> "error".equals(f.getString("type")) && f.getString("message").contains("Binary frames"));
            assertError(ws, new JsonObject().put("topic", "ws-errors"), "BAD_REQUEST", "no \"op\"");
            assertError(ws, new JsonObject().put("op", "fly"), "BAD_REQUEST", "Unknown op");
            assertError(ws, new JsonObject().put("op", "produce").put("records", new JsonArray()), "BAD_REQUEST", "\"topic\"");
            assertError(ws, new JsonObject().put("op", "produce").put("topic", "ws-errors").put("records", "x"), "BAD_REQUEST", "'records' must be an array");
            assertError(ws, new JsonObject().put("op", "produce").put("topic", "ws-errors")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "v").put("partition", "one"))), "BAD_REQUEST", "records[0].partition");
            assertError(ws, new JsonObject().put("op", "produce").put("topic", "ws-errors")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "***").put("encoding", "base64"))), "BAD_REQUEST", "base64");
            assertError(ws, new JsonObject().put("op", "produce").put("topic", "ws-errors")
                    .put("records", new JsonArray().add(new JsonObject().put("vale", "typo"))), "BAD_REQUEST", "records[0].vale");
            assertError(ws, new JsonObject().put("op", "produce").put("topic", "nope")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "v"))), "UNKNOWN_TOPIC_OR_PARTITION", "nope");
            assertError(ws, new JsonObject().put("op", "subscribe").put("topic", "ws-errors").put("from", "yesterday"), "BAD_REQUEST", "\"from\"");
            assertError(ws, new JsonObject().put("op", "subscribe").put("topic", "ws-errors").put("partitions", new JsonArray().add(9)),
                    "UNKNOWN_TOPIC_OR_PARTITION", "no partition 9");
            assertError(ws, new JsonObject().put("op", "subscribe").put("topic", "ws-errors").put("from", new JsonObject().put("offset", 99)),
                    "OFFSET_OUT_OF_RANGE", "past the end");
            assertError(ws, new JsonObject().put("op", "credit").put("subscription", "s999").put("records", 5), "BAD_REQUEST", "No subscription");
            String sid = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-errors")).getString("subscription");
            assertError(ws, new JsonObject().put("op", "commit").put("subscription", sid), "BAD_REQUEST", "group");
            assertError(ws, new JsonObject().put("op", "credit").put("subscription", sid).put("records", -1), "BAD_REQUEST", "non-negative");
            // A record for a partition that does not exist fails alone; the others of the frame are written.
            JsonObject mixed = ws.request(new JsonObject().put("op", "produce").put("topic", "ws-errors").put("records", new JsonArray()
                    .add(new JsonObject().put("value", "good").put("partition", 0)).add(new JsonObject().put("value", "bad").put("partition", 5))));
            assertThat(mixed.getJsonArray("results").getJsonObject(0).getLong("offset")).isZero();
            assertThat(mixed.getJsonArray("results").getJsonObject(1).getString("error")).isEqualTo("UNKNOWN_TOPIC_OR_PARTITION");
            assertThat(ws.isClosed()).isFalse();
            ws.send(new JsonObject().put("op", "credit").put("subscription", sid).put("records", 10));
            ws.request(new JsonObject().put("op", "produce").put("topic", "ws-errors")
                    .put("records", new JsonArray().add(new JsonObject().put("value", "after").put("partition", 0))));
            // subscribed at latest, before both records
            assertThat(ws.awaitRecords(sid, 2)).extracting(r -> r.getString("value")).containsExactly("good", "after");
        }
    }

    private static void assertError(WsClient ws, JsonObject frame, String code, String reason) {
        JsonObject e = ws.request(frame);
        assertThat(e.getString("type")).as("answer to %s", frame).isEqualTo("error");
        assertThat(e.getString("code")).as("answer to %s", frame).isEqualTo(code);
        assertThat(e.getString("message")).as("answer to %s", frame).contains(reason);
    }

    @Test
    void groupSubscriptionsSharePartitionsCommitAndTakeOverWithoutDuplicates() throws Exception {
        await(broker.topicAdmin().createTopic("ws-group", 4, Map.of()));
        try (WsClient a = WsClient.connect(http()); WsClient b = WsClient.connect(http())) {
            JsonObject subscribe = new JsonObject().put("op", "subscribe").put("topic", "ws-group").put("group", "ws-readers").put("from", "earliest")
                    .put("credit", new JsonObject().put("records", 10_000));
            String sa = a.request(subscribe).getString("subscription");
            String sb = b.request(subscribe).getString("subscription");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> owned(a, sa).size() + owned(b, sb).size() == 4
                    && !owned(a, sa).isEmpty() && !owned(b, sb).isEmpty());
            try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, Map.of())) {
                for (int i = 0; i < 200; i++) producer.send(new ProducerRecord<>("ws-group", "k" + i, "v" + i));
                producer.flush();
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> a.records(sa).size() + b.records(sb).size() >= 200);
            Set<String> seen = new HashSet<>();
            for (JsonObject r : concat(a.records(sa), b.records(sb))) assertThat(seen.add(r.getString("value"))).as("duplicate %s", r).isTrue();
            assertThat(seen).hasSize(200);
            assertThat(a.request(new JsonObject().put("op", "commit").put("subscription", sa)).getString("type")).isEqualTo("committed");
            assertThat(b.request(new JsonObject().put("op", "commit").put("subscription", sb)).getString("type")).isEqualTo("committed");
            var committed = admin.listConsumerGroupOffsets("ws-readers").partitionsToOffsetAndMetadata().get();
            assertThat(committed.values().stream().mapToLong(o -> o.offset()).sum()).isEqualTo(200);

            int before = a.records(sa).size();
            b.request(new JsonObject().put("op", "unsubscribe").put("subscription", sb)); // leaves the group
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> owned(a, sa).size() == 4);
            try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, Map.of())) {
                for (int i = 200; i < 300; i++) producer.send(new ProducerRecord<>("ws-group", "k" + i, "v" + i));
                producer.flush();
            }
            List<JsonObject> after = a.awaitRecords(sa, before + 100).subList(before, before + 100);
            // B's partitions resumed at B's commits: A gets only the new records, each once.
            assertThat(after).extracting(r -> r.getString("value")).doesNotHaveDuplicates()
                    .allMatch(v -> Integer.parseInt(v.substring(1)) >= 200);
            assertThat(a.records(sa)).hasSize(before + 100);
        }
    }

    /** The partitions a group subscription holds now, from its "assigned" frames. */
    private static Set<Integer> owned(WsClient c, String sid) {
        Set<Integer> owned = new HashSet<>();
        for (JsonObject f : c.frames()) {
            if (!"assigned".equals(f.getString("type")) || !sid.equals(f.getString("subscription"))) continue;
            for (Object r : f.getJsonArray("revoked")) owned.remove((Integer) r);
            for (Object p : f.getJsonArray("partitions")) owned.add(((JsonObject) p).getInteger("partition"));
        }
        return owned;
    }

    private static List<JsonObject> concat(List<JsonObject> x, List<JsonObject> y) {
        List<JsonObject> out = new ArrayList<>(x);
        out.addAll(y);
        return out;
    }
}
