package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every broker's HTTP and WebSocket endpoints serve the whole cluster: on three brokers, REST produce and reads and a
 * WebSocket subscription at one broker reach partitions led by the others (over the inter-broker listener), with the
 * subscription's credit still bounding what is sent, and a subscription keeps reading, without a gap or a duplicate,
 * when the leader of one of its partitions is killed and another replica takes over. WebSocket transactions and group
 * members work wherever their coordinator is.
 */
class ClusterHttpForwardingTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static Path root;
    private static LocalCluster cluster;

    @BeforeAll
    static void startCluster() throws Exception {
        root = Files.createTempDirectory("runnel-forwarding");
        cluster = LocalCluster.start(root, 3);
        cluster.awaitLiveBrokers(1, 3);
        cluster.awaitLiveBrokers(2, 3);
        cluster.awaitLiveBrokers(3, 3);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) cluster.close();
        io.runnel.testkit.TestFiles.deleteTree(root);
    }

    /** Creates {@code topic} with three partitions on all three brokers and waits until every broker knows its leaders. */
    private static List<TopicPartitionInfo> createTopic(String topic) throws Exception {
        return createTopic(topic, Map.of());
    }

    private static List<TopicPartitionInfo> createTopic(String topic, Map<String, String> configs) throws Exception {
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            Map<String, String> all = new HashMap<>(configs);
            all.put("min.insync.replicas", "2");
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 3).configs(all))).all().get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                return d.partitions().stream().allMatch(p -> p.isr().size() == 3);
            });
            List<TopicPartitionInfo> parts = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions();
            for (int b = 1; b <= 3; b++) {
                int via = b;
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                    JsonArray described = describe(via, topic).getJsonArray("partitions");
                    return IntStream.range(0, 3).allMatch(p -> described.getJsonObject(p).getInteger("leader") == parts.get(p).leader().id());
                });
            }
            return parts;
        }
    }

    private static JsonObject describe(int broker, String topic) throws Exception {
        return new JsonObject(get(broker, "/api/topics/" + topic).body());
    }

    private static HttpResponse<String> get(int broker, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + cluster.broker(broker).httpPort() + path)).timeout(Duration.ofSeconds(60))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(int broker, String path, JsonObject body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + cluster.broker(broker).httpPort() + path)).timeout(Duration.ofSeconds(60))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** {@link WsClient#awaitRecords}, failing with what arrived per partition, the error frames and broker 1's warnings. */
    private static List<JsonObject> awaitRecords(WsClient ws, String sid, int count) throws Exception {
        try {
            return ws.awaitRecords(sid, count);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            Map<Integer, Integer> perPartition = new java.util.TreeMap<>();
            for (JsonObject r : ws.records(sid)) perPartition.merge(r.getInteger("partition"), 1, Integer::sum);
            String warnings = String.join("\n", cluster.broker(1).outputLines().stream().filter(l -> l.contains("WARN") || l.contains("ERROR")).toList());
            throw new AssertionError("records per partition " + perPartition + "; errors " + ws.frames().stream()
                    .filter(f -> "error".equals(f.getString("type"))).toList() + "; broker 1 warned:\n" + warnings, e);
        }
    }

    @Test
    void restProduceAndReadsWorkAtEveryBrokerForEveryPartition() throws Exception {
        List<TopicPartitionInfo> parts = createTopic("rest-anywhere");
        assertThat(parts).as("leaders spread over the brokers: some partitions are led elsewhere than broker 1")
                .anyMatch(p -> p.leader().id() != 1);
        JsonArray records = new JsonArray();
        for (int p = 0; p < 3; p++) for (int i = 0; i < 10; i++) records.add(new JsonObject().put("partition", p).put("key", "k" + i).put("value", p + "-" + i));
        HttpResponse<String> produced = post(1, "/api/topics/rest-anywhere/records", new JsonObject().put("records", records));
        assertThat(produced.statusCode()).as(produced.body()).isEqualTo(200);
        JsonArray results = new JsonObject(produced.body()).getJsonArray("results");
        for (int i = 0; i < results.size(); i++) {
            JsonObject r = results.getJsonObject(i);
            assertThat(r.getString("error")).as(r.encode()).isNull();
            assertThat(r.getLong("offset")).isEqualTo(i % 10);
        }
        for (int b = 1; b <= 3; b++) {
            for (int p = 0; p < 3; p++) {
                HttpResponse<String> read = get(b, "/api/topics/rest-anywhere/partitions/" + p + "/records?offset=earliest&limit=100");
                assertThat(read.statusCode()).as(read.body()).isEqualTo(200);
                JsonObject body = new JsonObject(read.body());
                int partition = p;
                assertThat(body.getJsonArray("records").stream().map(o -> ((JsonObject) o).getString("value")).toList())
                        .as("partition %d read at broker %d", p, b).containsExactlyElementsOf(IntStream.range(0, 10).mapToObj(i -> partition + "-" + i).toList());
                assertThat(body.getLong("nextOffset")).isEqualTo(10);
                assertThat(body.getLong("logEndOffset")).isEqualTo(10);
            }
        }
        // A long poll at a broker that does not lead the partition answers when a record arrives at the leader.
        int p = IntStream.range(0, 3).filter(i -> parts.get(i).leader().id() != 2).findFirst().orElseThrow();
        CompletableFuture<HttpResponse<String>> waiting = HTTP.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + cluster.broker(2).httpPort() + "/api/topics/rest-anywhere/partitions/" + p + "/records?offset=10&timeout=20000")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
            producer.send(new ProducerRecord<>("rest-anywhere", p, "late", "late")).get(30, TimeUnit.SECONDS);
        }
        HttpResponse<String> late = waiting.get(30, TimeUnit.SECONDS);
        assertThat(late.statusCode()).as(late.body()).isEqualTo(200);
        assertThat(new JsonObject(late.body()).getJsonArray("records").getJsonObject(0).getString("value")).isEqualTo("late");
        // Offsets the leader does not have: Kafka's OFFSET_OUT_OF_RANGE, as for a local partition.
        HttpResponse<String> beyond = get(2, "/api/topics/rest-anywhere/partitions/" + p + "/records?offset=1000");
        assertThat(beyond.statusCode()).as(beyond.body()).isEqualTo(416);
    }

    @Test
    void transactionsReadAtABrokerThatDoesNotLeadAreMarkedAsAtTheLeader() throws Exception {
        List<TopicPartitionInfo> parts = createTopic("txn-anywhere");
        int p = IntStream.range(0, 3).filter(i -> parts.get(i).leader().id() != 1).findFirst().orElseThrow();
        try (KafkaProducer<String, String> tx = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "forwarded-tx"))) {
            tx.initTransactions();
            tx.beginTransaction();
            tx.send(new ProducerRecord<>("txn-anywhere", p, "k", "aborted"));
            tx.flush();
            tx.abortTransaction();
            tx.beginTransaction();
            tx.send(new ProducerRecord<>("txn-anywhere", p, "k", "committed"));
            tx.commitTransaction();
            tx.beginTransaction();
            tx.send(new ProducerRecord<>("txn-anywhere", p, "k", "open"));
            tx.flush();
            JsonArray uncommitted = new JsonObject(get(1, "/api/topics/txn-anywhere/partitions/" + p + "/records?offset=earliest").body())
                    .getJsonArray("records");
            assertThat(uncommitted.stream().map(o -> ((JsonObject) o).getString("value") + ":" + ((JsonObject) o).getString("transaction")).toList())
                    .containsExactly("aborted:aborted", "committed:committed", "open:open");
            JsonArray committed = new JsonObject(get(1, "/api/topics/txn-anywhere/partitions/" + p + "/records?offset=earliest&isolation=read_committed")
                    .body()).getJsonArray("records");
            assertThat(committed.stream().map(o -> ((JsonObject) o).getString("value")).toList()).containsExactly("committed");
            tx.commitTransaction();
        }
    }

    @Test
    void runnelJsMovesToAnotherBrokerWhenItsOwnDiesAndResumesWhereItWas() throws Exception {
        createTopic("browser-failover");
        int home = 2;
        Path errors = Files.createTempFile(root, "runnel-failover", ".log");
        Process p = new ProcessBuilder("node", "src/test/js/runnel-failover.mjs", "http://127.0.0.1:" + cluster.broker(home).httpPort() + "/",
                "browser-failover").redirectError(ProcessBuilder.Redirect.appendTo(errors.toFile())).start();
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
        java.io.Writer in = new java.io.OutputStreamWriter(p.getOutputStream(), java.nio.charset.StandardCharsets.UTF_8);
        try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
            assertThat(line(out, p, errors, l -> l.equals("ready"))).isEqualTo("ready");
            for (int i = 0; i < 30; i++) producer.send(new ProducerRecord<>("browser-failover", i % 3, "k", "v" + i));
            producer.flush();
            in.write("await 30\n");
            in.flush();
            assertThat(new JsonObject(line(out, p, errors, l -> l.startsWith("{"))).getJsonArray("got")).hasSizeGreaterThanOrEqualTo(30);

            cluster.broker(home).kill9(); // the page's broker: runnel.js moves to another one and resubscribes
            for (int i = 30; i < 60; i++) producer.send(new ProducerRecord<>("browser-failover", i % 3, "k", "v" + i));
            producer.flush();
            in.write("await 60\n");
            in.flush();
            JsonObject seen = new JsonObject(line(out, p, errors, l -> l.startsWith("{")));
            List<String> got = seen.getJsonArray("got").stream().map(String::valueOf).toList();
            assertThat(got).as("each record once").doesNotHaveDuplicates().hasSize(60);
            for (int part = 0; part < 3; part++) {
                int partition = part;
                assertThat(got.stream().filter(g -> g.startsWith(partition + "@")).toList()).as("partition %d in order, none missing", part)
                        .containsExactlyElementsOf(IntStream.range(0, 20).mapToObj(o -> partition + "@" + o + ":v" + (o * 3 + partition)).toList());
            }
            assertThat(seen.getJsonArray("reconnects")).as("moved to another broker").hasSize(1);
            assertThat(seen.getJsonArray("reconnects").getString(0)).doesNotContain(":" + cluster.broker(home).httpPort() + "/");
            in.write("quit\n");
            in.close();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(Files.readString(errors)).isZero();
        } finally {
            p.destroyForcibly();
            cluster.restart(home);
        }
    }

    @Test
    void aWebSocketGroupMemberJoinsAndCommitsWhereverItsGroupIsCoordinated() throws Exception {
        createTopic("group-anywhere");
        String group;
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            // A group coordinated by another broker than the socket's (broker 1).
            // The coordinator leads the group's __consumer_offsets partition (created by the first FindCoordinator).
            admin.listConsumerGroupOffsets("ws-group-probe").partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            List<TopicPartitionInfo> offsets = admin.describeTopics(List.of("__consumer_offsets")).allTopicNames().get(30, TimeUnit.SECONDS)
                    .get("__consumer_offsets").partitions();
            String found = null;
            for (int i = 0; i < 50 && found == null; i++) {
                String g = "ws-group-" + i;
                TopicPartitionInfo p = offsets.get(org.apache.kafka.common.utils.Utils.abs(g.hashCode()) % offsets.size());
                if (p.leader() != null && p.leader().id() != 1) found = g;
            }
            assertThat(found).isNotNull();
            group = found;
        }
        try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
            try (WsClient ws = WsClient.connect(cluster.broker(1).httpPort())) {
                JsonObject subscribed = ws.request(new JsonObject().put("op", "subscribe").put("topic", "group-anywhere").put("group", group)
                        .put("from", "earliest").put("credit", new JsonObject().put("records", 1000)));
                assertThat(subscribed.getString("type")).as(subscribed.encode()).isEqualTo("subscribed");
                String sid = subscribed.getString("subscription");
                await().atMost(Duration.ofSeconds(60)).until(() -> assignedStarts(ws).size() == 3);
                for (int i = 0; i < 30; i++) producer.send(new ProducerRecord<>("group-anywhere", i % 3, "k", "v" + i));
                producer.flush();
                assertThat(ws.awaitRecords(sid, 30)).hasSize(30);
                JsonObject committed = ws.request(new JsonObject().put("op", "commit").put("subscription", sid));
                assertThat(committed.getString("type")).as(committed.encode()).isEqualTo("committed");
            }
            try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS).values()).extracting(o -> o.offset()).containsOnly(10L));
            }
            // Another member at another broker starts where the group committed.
            try (WsClient ws = WsClient.connect(cluster.broker(3).httpPort())) {
                String sid = ws.request(new JsonObject().put("op", "subscribe").put("topic", "group-anywhere").put("group", group)
                        .put("from", "earliest").put("credit", new JsonObject().put("records", 1000))).getString("subscription");
                // The group hands the partitions over as the first member's leave is seen: in one frame or several.
                await().atMost(Duration.ofSeconds(60)).until(() -> assignedStarts(ws).size() == 3);
                assertThat(assignedStarts(ws).values()).containsOnly(10L);
                producer.send(new ProducerRecord<>("group-anywhere", 0, "k", "after")).get(30, TimeUnit.SECONDS);
                assertThat(ws.awaitRecords(sid, 1).get(0).getString("value")).isEqualTo("after");
            }
        }
    }

    /**
     * A WebSocket share subscription at broker 1 on a topic whose partitions every broker leads: it heartbeats to its
     * group's coordinator wherever that is, fetches at each leader (ShareFetch over the inter-broker listener for the
     * others), and its acknowledgements reach every leader: the group's start offsets reach the end.
     */
    @Test
    void aWebSocketShareSubscriptionWorksOnPartitionsLedAnywhere() throws Exception {
        List<TopicPartitionInfo> parts = createTopic("share-anywhere");
        assertThat(parts.stream().map(p -> p.leader().id()).distinct()).as("leaders").hasSizeGreaterThan(1);
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            admin.incrementalAlterConfigs(Map.of(new org.apache.kafka.common.config.ConfigResource(org.apache.kafka.common.config.ConfigResource.Type.GROUP,
                    "ws-share"), List.of(new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry(
                    "share.auto.offset.reset", "earliest"), org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
        }
        try (KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
            for (int i = 0; i < 30; i++) producer.send(new ProducerRecord<>("share-anywhere", i % 3, "k", "v" + i));
            producer.flush();
        }
        try (WsClient ws = WsClient.connect(cluster.broker(1).httpPort())) {
            JsonObject subscribed = ws.request(new JsonObject().put("op", "subscribe").put("topic", "share-anywhere").put("share", "ws-share")
                    .put("credit", new JsonObject().put("records", 1000)));
            assertThat(subscribed.getString("type")).as(subscribed.encode()).isEqualTo("subscribed");
            String sid = subscribed.getString("subscription");
            List<JsonObject> records = ws.awaitRecords(sid, 30);
            assertThat(records).extracting(r -> r.getString("value")).hasSize(30).doesNotHaveDuplicates();
            io.vertx.core.json.JsonArray acks = new io.vertx.core.json.JsonArray();
            records.forEach(r -> acks.add(new JsonObject().put("partition", r.getInteger("partition")).put("offset", r.getLong("offset")).put("type", "accept")));
            JsonObject acked = ws.request(new JsonObject().put("op", "ack").put("subscription", sid).put("records", acks));
            assertThat(acked.getString("type")).isEqualTo("acked");
            assertThat(acked.getJsonArray("partitions").stream().map(o -> (JsonObject) o)).hasSize(3).allSatisfy(p -> assertThat(p.containsKey("error"))
                    .as(p.encode()).isFalse());
        }
        try (Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(admin.listShareGroupOffsets(Map.of("ws-share",
                            new org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec())).partitionsToOffsetInfo("ws-share").get(30, TimeUnit.SECONDS)
                    .values()).extracting(o -> o.startOffset()).containsOnly(10L).hasSize(3));
        }
    }

    /**
     * A WebSocket transaction at broker 1 whose transactional id another broker coordinates, over partitions led by
     * every broker: committed as a whole, aborted as a whole when the write at another broker fails, and fenced when a
     * Kafka producer takes the id.
     */
    @Test
    void aWebSocketTransactionSpansTheClusterWhereverItsCoordinatorAndLeadersAre() throws Exception {
        List<TopicPartitionInfo> parts = createTopic("ws-txn-anywhere", Map.of("max.message.bytes", "2000"));
        List<org.apache.kafka.common.TopicPartition> all = IntStream.range(0, 3).mapToObj(i -> new org.apache.kafka.common.TopicPartition("ws-txn-anywhere", i))
                .toList();
        int remote = IntStream.range(0, 3).filter(i -> parts.get(i).leader().id() != 1).findFirst().orElseThrow();
        int other = (remote + 1) % 3;
        String id;
        try (KafkaProducer<String, String> probe = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "ws-txn-probe"));
             Admin admin = KafkaClients.admin(cluster.bootstrap())) {
            probe.initTransactions(); // makes __transaction_state
            List<TopicPartitionInfo> state = await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> admin.describeTopics(
                    List.of("__transaction_state")).allTopicNames().get().get("__transaction_state").partitions(), ps -> ps.stream().allMatch(
                    p -> p.leader() != null && p.leader().id() > 0));
            id = IntStream.range(0, 100).mapToObj(i -> "ws-txn-" + i).filter(g -> state.get(org.apache.kafka.common.utils.Utils.abs(g.hashCode())
                    % state.size()).leader().id() != 1).findFirst().orElseThrow();
        }
        try (WsClient ws = WsClient.connect(cluster.broker(1).httpPort())) {
            JsonObject first = ws.request(txnProduce("ws-txn-anywhere", id, new JsonArray().add(txnRecord("one", 0)).add(txnRecord("two", 1))
                    .add(txnRecord("three", 2))));
            assertThat(first.getString("type")).as(first.encode()).isEqualTo("ack");
            assertThat(first.getBoolean("committed")).isTrue();
            assertThat(first.getJsonArray("results")).hasSize(3).allSatisfy(r -> assertThat(((JsonObject) r).getLong("offset")).isZero());

            // The other partition's record is written, the remote one's is refused by its leader: aborted as a whole.
            JsonObject failed = ws.request(txnProduce("ws-txn-anywhere", id, new JsonArray().add(txnRecord("lost", other))
                    .add(txnRecord("x".repeat(3000), remote))));
            assertThat(failed.getString("type")).as(failed.encode()).isEqualTo("error");
            assertThat(failed.getString("code")).as(failed.encode()).isEqualTo("MESSAGE_TOO_LARGE");
            assertThat(failed.getString("message")).contains("aborted");

            JsonObject fourth = ws.request(txnProduce("ws-txn-anywhere", id, new JsonArray().add(txnRecord("four", remote))));
            assertThat(fourth.getBoolean("committed")).as(fourth.encode()).isTrue();
            assertThat(KafkaClients.readToEnd(cluster.bootstrap(), "read_committed", all)).extracting(r -> r.value())
                    .containsExactlyInAnyOrder("one", "two", "three", "four");
            assertThat(KafkaClients.readToEnd(cluster.bootstrap(), "read_uncommitted", all)).extracting(r -> r.value()).contains("lost");

            try (KafkaProducer<String, String> taker = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id))) {
                taker.initTransactions();
                JsonObject fenced = ws.request(txnProduce("ws-txn-anywhere", id, new JsonArray().add(txnRecord("zombie", remote))));
                assertThat(fenced.getString("code")).as(fenced.encode()).isEqualTo("PRODUCER_FENCED");
            }
        }
    }

    private static JsonObject txnProduce(String topic, String transactionalId, JsonArray records) {
        return new JsonObject().put("op", "produce").put("topic", topic).put("transactionalId", transactionalId).put("records", records);
    }

    private static JsonObject txnRecord(String value, int partition) {
        return new JsonObject().put("key", "k").put("value", value).put("partition", partition);
    }

    /** The partitions a group subscription holds now, by the "assigned" frames so far, with where each started. */
    private static Map<Integer, Long> assignedStarts(WsClient ws) {
        Map<Integer, Long> held = new java.util.TreeMap<>();
        for (JsonObject f : ws.frames()) {
            if (!"assigned".equals(f.getString("type"))) continue;
            for (Object r : f.getJsonArray("revoked")) held.remove((Integer) r);
            for (Object o : f.getJsonArray("partitions")) held.put(((JsonObject) o).getInteger("partition"), ((JsonObject) o).getLong("offset"));
        }
        return held;
    }

    /** The next line of the browser script's output that {@code match} accepts (within two minutes). */
    private static String line(java.io.BufferedReader out, Process p, Path errors, java.util.function.Predicate<String> match) throws Exception {
        CompletableFuture<String> next = CompletableFuture.supplyAsync(() -> {
            try {
                for (String l = out.readLine(); l != null; l = out.readLine()) if (match.test(l)) return l;
                return null;
            } catch (java.io.IOException e) {
                return null;
            }
        });
        String l;
        try {
            l = next.get(120, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            p.destroyForcibly();
            throw new AssertionError("no answer from the browser script; its errors:\n" + Files.readString(errors));
        }
        if (l == null) throw new AssertionError("the browser script ended; its errors:\n" + Files.readString(errors));
        return l;
    }

    @Test
    void aWebSocketSubscriptionReadsEveryPartitionWithinItsCreditAndFollowsALeaderThatDies() throws Exception {
        List<TopicPartitionInfo> parts = createTopic("ws-anywhere");
        try (WsClient ws = WsClient.connect(cluster.broker(1).httpPort());
             KafkaProducer<String, String> producer = KafkaClients.producer(cluster.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all",
                     ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
            JsonObject subscribed = ws.request(new JsonObject().put("op", "subscribe").put("topic", "ws-anywhere").put("from", "earliest")
                    .put("credit", new JsonObject().put("records", 5)));
            assertThat(subscribed.getString("type")).as(subscribed.encode()).isEqualTo("subscribed");
            assertThat(subscribed.getJsonArray("partitions")).as("every partition, wherever it is led").hasSize(3);
            String sid = subscribed.getString("subscription");
            for (int p = 0; p < 3; p++) for (int i = 0; i < 10; i++) producer.send(new ProducerRecord<>("ws-anywhere", p, "k", p + "-" + i));
            producer.flush();
            ws.awaitRecords(sid, 5);
            // The credit holds across brokers: a produce answered after the records shows nothing more was sent.
            JsonObject ack = ws.request(new JsonObject().put("op", "produce").put("topic", "ws-anywhere")
                    .put("records", new JsonArray().add(new JsonObject().put("partition", 0).put("value", "0-10"))));
            assertThat(ack.getString("type")).as(ack.encode()).isEqualTo("ack");
            assertThat(ack.getJsonArray("results").getJsonObject(0).getLong("offset")).as("a WebSocket produce to a partition led anywhere").isEqualTo(10);
            assertThat(ws.records(sid)).hasSize(5);
            ws.send(new JsonObject().put("op", "credit").put("subscription", sid).put("records", 1000));
            ws.awaitRecords(sid, 31);

            // Kill the leader of a partition that broker 1 does not lead; the subscription goes on at the new leader.
            int victim = parts.stream().map(p -> p.leader().id()).filter(id -> id != 1).findFirst().orElseThrow();
            cluster.broker(victim).kill9();
            for (int p = 0; p < 3; p++) for (int i = 10; i < 20; i++) producer.send(new ProducerRecord<>("ws-anywhere", p, "k", p + "-" + (i + (p == 0 ? 1 : 0))));
            producer.flush();
            List<JsonObject> got = awaitRecords(ws, sid, 61);
            Map<Integer, List<String>> byPartition = new HashMap<>();
            Set<String> seen = new HashSet<>();
            for (JsonObject r : got) {
                assertThat(seen.add(r.getInteger("partition") + "@" + r.getLong("offset"))).as("no record twice: " + r.encode()).isTrue();
                byPartition.computeIfAbsent(r.getInteger("partition"), x -> new ArrayList<>()).add(r.getString("value"));
            }
            assertThat(byPartition.get(0)).containsExactlyElementsOf(IntStream.range(0, 21).mapToObj(i -> "0-" + i).toList());
            for (int p = 1; p < 3; p++) {
                int partition = p;
                assertThat(byPartition.get(p)).as("partition %d, in order, none missing", p)
                        .containsExactlyElementsOf(IntStream.range(0, 20).mapToObj(i -> partition + "-" + i).toList());
            }
            cluster.restart(victim);
        }
    }
}
