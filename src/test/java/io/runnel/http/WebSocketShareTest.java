package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.partition.Acks;
import io.runnel.partition.PartitionHandle;
import io.runnel.share.SharePartitionState;
import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.junit.jupiter.api.Test;

/**
 * A WebSocket subscription in a share group: records under the page's credit with their delivery counts, the page's
 * acknowledgements (accept, release, reject) with Kafka's errors for records not held, and what the page held when it
 * unsubscribed delivered again, here to a Kafka share consumer of the same group.
 */
class WebSocketShareTest extends BrokerPerTest {
    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("group.share.heartbeat.interval.ms", "500");
    }

    private void earliest(String group) throws Exception {
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group), List.of(new AlterConfigOp(
                    new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
        }
    }

    private void produce(String topic, int count) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (int i = 0; i < count; i++) p.send(new ProducerRecord<>(topic, 0, null, "job-" + i));
            p.flush();
        }
    }

    private static JsonObject ack(String sid, Object... partitionOffsetType) {
        JsonArray records = new JsonArray();
        for (int i = 0; i < partitionOffsetType.length; i += 3) {
            records.add(new JsonObject().put("partition", partitionOffsetType[i]).put("offset", partitionOffsetType[i + 1]).put("type", partitionOffsetType[i + 2]));
        }
        return new JsonObject().put("op", "ack").put("subscription", sid).put("records", records);
    }

    private static JsonArray errors(JsonObject acked) {
        JsonArray out = new JsonArray();
        for (Object o : acked.getJsonArray("partitions")) {
            JsonObject p = (JsonObject) o;
            if (p.containsKey("error")) out.add(p.getString("error"));
        }
        return out;
    }

    @Test
    void aPageTakesRecordsUnderItsCreditAndAcknowledgesThem() throws Exception {
        createTopic("jobs", 1);
        earliest("workers");
        produce("jobs", 5);
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            JsonObject subscribed = ws.request(new JsonObject().put("op", "subscribe").put("topic", "jobs").put("share", "workers")
                    .put("credit", new JsonObject().put("records", 2)));
            assertThat(subscribed.getString("type")).isEqualTo("subscribed");
            assertThat(subscribed.getString("share")).isEqualTo("workers");
            String sid = subscribed.getString("subscription");
            ws.awaitFrame(f -> "assigned".equals(f.getString("type")) && sid.equals(f.getString("subscription")));
            List<JsonObject> first = ws.awaitRecords(sid, 2);
            assertThat(first).extracting(r -> r.getString("value")).containsExactly("job-0", "job-1");
            assertThat(first).allSatisfy(r -> assertThat(r.getInteger("deliveryCount")).isEqualTo(1));
            assertThat(ws.records(sid)).as("no more than the credit").hasSize(2);

            JsonObject acked = ws.request(ack(sid, 0, 0, "accept", 0, 1, "release"));
            assertThat(acked.getString("type")).isEqualTo("acked");
            assertThat(errors(acked)).isEmpty();
            JsonObject again = ws.request(ack(sid, 0, 1, "accept"));
            assertThat(errors(again)).as("a record released already").containsExactly("INVALID_RECORD_STATE");
            JsonObject never = ws.request(ack(sid, 0, 4, "accept"));
            assertThat(errors(never)).as("a record never delivered").containsExactly("INVALID_RECORD_STATE");

            ws.send(new JsonObject().put("op", "credit").put("subscription", sid).put("records", 2));
            List<JsonObject> next = ws.awaitRecords(sid, 4).subList(2, 4);
            assertThat(next).extracting(r -> r.getString("value")).containsExactly("job-1", "job-2");
            assertThat(next.get(0).getInteger("deliveryCount")).as("the released record, again").isEqualTo(2);
            assertThat(errors(ws.request(ack(sid, 0, 1, "accept", 0, 2, "reject")))).isEmpty();

            // Bad frames fail alone.
            assertThat(ws.request(new JsonObject().put("op", "ack").put("subscription", sid).put("records", "all")).getString("code")).isEqualTo("BAD_REQUEST");
            assertThat(ws.request(ack(sid, 0, 3, "maybe")).getString("code")).isEqualTo("BAD_REQUEST");
            assertThat(ws.request(ack(sid, 0, 3, "accept", 0, 3, "reject")).getString("code")).as("an offset twice").isEqualTo("BAD_REQUEST");
            assertThat(ws.request(new JsonObject().put("op", "commit").put("subscription", sid)).getString("code")).isEqualTo("BAD_REQUEST");
            assertThat(ws.request(new JsonObject().put("op", "subscribe").put("topic", "jobs").put("share", "workers").put("group", "g"))
                    .getString("code")).isEqualTo("BAD_REQUEST");
            assertThat(ws.request(new JsonObject().put("op", "subscribe").put("topic", "nope").put("share", "workers")).getString("code"))
                    .isEqualTo("UNKNOWN_TOPIC_OR_PARTITION");
            // A consumer group's id is not a share group's: the subscribe request itself is answered with the error.
            try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
                admin.alterConsumerGroupOffsets("plain", Map.of(new org.apache.kafka.common.TopicPartition("jobs", 0),
                        new org.apache.kafka.clients.consumer.OffsetAndMetadata(0))).all().get(30, TimeUnit.SECONDS);
            }
            assertThat(ws.request(new JsonObject().put("op", "subscribe").put("topic", "jobs").put("share", "plain")).getString("code"))
                    .isEqualTo("GROUP_ID_NOT_FOUND");

            // The page takes job-3 and leaves without acknowledging it: it goes to the next member at once.
            ws.send(new JsonObject().put("op", "credit").put("subscription", sid).put("records", 1));
            assertThat(ws.awaitRecords(sid, 5).get(4).getString("value")).isEqualTo("job-3");
            JsonObject bye = ws.request(new JsonObject().put("op", "unsubscribe").put("subscription", sid));
            assertThat(bye.getString("type")).isEqualTo("unsubscribed");
        }
        List<ConsumerRecord<String, String>> rest = new ArrayList<>();
        try (KafkaShareConsumer<String, String> c = KafkaClients.shareConsumer(broker.bootstrapServers(), "workers", Map.of())) {
            c.subscribe(List.of("jobs"));
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                c.poll(Duration.ofMillis(100)).forEach(rest::add);
                return rest.size() >= 2;
            });
            assertThat(c.poll(Duration.ofMillis(300))).isEmpty();
        }
        assertThat(rest).extracting(ConsumerRecord::value).containsExactly("job-3", "job-4");
        assertThat(rest.get(0).deliveryCount()).contains((short) 2);
    }

    @Test
    void offsetsThatHoldNoRecordForThePageAreNotLeftLocked() throws Exception {
        // A compacted partition whose first batch lost a record to compaction (offsets keep their place: a hole inside
        // the batch), then a committed and an aborted transaction (markers, and records a share group never sees).
        Uuid id = Brokers.await(broker.topicAdmin().createTopic("latest", 1, Map.of("cleanup.policy", "compact", "segment.bytes", "400"))).topicId();
        PartitionHandle h = broker.topics().partition("latest", 0).orElseThrow();
        Acks all = new Acks(true, 1, 30_000);
        Brokers.await(h.append(MemoryRecords.withRecords(Compression.NONE, keyed("a", "old"), keyed("b", "b1"), keyed("a", "new")).buffer(), all));
        for (int i = 0; i < 12; i++) Brokers.await(h.append(MemoryRecords.withRecords(Compression.NONE, keyed("pad-" + i, "x".repeat(60))).buffer(), all));
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            Record first = MemoryRecords.readableRecords(Brokers.await(h.read(0, 1 << 16, true)).records()).records().iterator().next();
            return first.offset() == 1; // "a"="old" compacted away
        });
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("transactional.id", "latest-tx"))) {
            p.initTransactions();
            for (String v : List.of("t-commit", "t-abort")) {
                p.beginTransaction();
                p.send(new ProducerRecord<>("latest", 0, v, v)).get();
                if (v.equals("t-abort")) p.abortTransaction();
                else p.commitTransaction();
            }
        }
        long end = h.logEndOffset();
        earliest("pages");
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            String sid = ws.request(new JsonObject().put("op", "subscribe").put("topic", "latest").put("share", "pages")
                    .put("credit", new JsonObject().put("records", 100))).getString("subscription");
            List<JsonObject> got = ws.awaitRecords(sid, 15);
            List<String> expected = new ArrayList<>(List.of("b1", "new"));
            for (int i = 0; i < 12; i++) expected.add("x".repeat(60));
            expected.add("t-commit");
            assertThat(got).extracting(r -> r.getString("value")).containsExactlyElementsOf(expected);
            JsonArray acks = new JsonArray();
            got.forEach(r -> acks.add(new JsonObject().put("partition", 0).put("offset", r.getLong("offset")).put("type", "accept")));
            assertThat(errors(ws.request(new JsonObject().put("op", "ack").put("subscription", sid).put("records", acks)))).isEmpty();
            // Offset 0 (compacted away) and the markers are done too, long before a lock (30 s) could have run out.
            await().atMost(Duration.ofSeconds(10)).until(() -> Brokers.await(broker.shares().state("pages", id, 0)).orElseThrow().startOffset() == end);
            assertThat(ws.records(sid)).as("nothing more, nothing twice").hasSize(15);
        }
    }

    @Test
    void aRecordThatCannotBeAcknowledgedDoesNotTakeTheOthersOfItsFrameDown() throws Exception {
        Uuid id = createTopic("jobs", 1);
        earliest("careful");
        produce("jobs", 4);
        try (WsClient ws = WsClient.connect(broker.httpPort())) {
            String sid = ws.request(new JsonObject().put("op", "subscribe").put("topic", "jobs").put("share", "careful")
                    .put("credit", new JsonObject().put("records", 4))).getString("subscription");
            assertThat(ws.awaitRecords(sid, 4)).extracting(r -> r.getLong("offset")).containsExactly(0L, 1L, 2L, 3L);
            assertThat(errors(ws.request(ack(sid, 0, 2, "accept")))).isEmpty();
            // 2 is done already (Kafka refuses the partition's whole request for it); 1 and 3 still go through, 0 is held.
            JsonObject acked = ws.request(ack(sid, 0, 1, "reject", 0, 2, "accept", 0, 3, "accept"));
            assertThat(errors(acked)).containsExactly("INVALID_RECORD_STATE");
            assertThat(acked.getJsonArray("partitions").getJsonObject(0).getJsonArray("offsets").getList()).containsExactly(2);
            SharePartitionState st = Brokers.await(broker.shares().state("careful", id, 0)).orElseThrow();
            assertThat(java.util.Arrays.asList(st.stateOf(0), st.stateOf(1), st.stateOf(2), st.stateOf(3))).containsExactly(
                    SharePartitionState.RecordState.ACQUIRED, SharePartitionState.RecordState.ARCHIVED, SharePartitionState.RecordState.ACKNOWLEDGED,
                    SharePartitionState.RecordState.ACKNOWLEDGED);
            assertThat(errors(ws.request(ack(sid, 0, 0, "accept")))).isEmpty();
            await().atMost(Duration.ofSeconds(10)).until(() -> Brokers.await(broker.shares().state("careful", id, 0)).orElseThrow().startOffset() == 4);
        }
    }

    private static SimpleRecord keyed(String key, String value) {
        return new SimpleRecord(System.currentTimeMillis(), key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8));
    }
}
