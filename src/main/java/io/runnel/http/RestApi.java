package io.runnel.http;

import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.ResourceType;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.config.TopicConfig;
import io.runnel.group.CommittedOffset;
import io.runnel.group.GroupDescription;
import io.runnel.group.GroupOverview;
import io.runnel.share.SharePartitionManager;
import io.runnel.share.SharePartitionState;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.runnel.cluster.BrokerLinks;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.message.ConsumerGroupDescribeResponseData;
import org.apache.kafka.common.message.ShareGroupDescribeResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ListOffsetsRequest;

/**
 * The REST API under {@code /api} (reference: docs/http-api.md). JSON in and out; every error is
 * {@code {"status", "code", "message"}} with the HTTP status: 400 for a malformed request, 404 for an unknown topic,
 * partition or group, 409 for a topic that exists, 413 for a body or record too large, 416 for an offset out of range.
 */
final class RestApi {
    private final HttpServices s;

    private RestApi(HttpServices s) {
        this.s = s;
    }

    static void mount(Router router, HttpServices services, HttpAuth auth) {
        RestApi api = new RestApi(services);
        router.route("/api/*").handler(BodyHandler.create(false).setBodyLimit(Limits.HTTP_MAX_BODY_BYTES));
        router.post("/api/login").handler(auth::login);
        router.post("/api/logout").handler(auth::logout);
        router.route("/api/*").handler(ctx -> auth.handle(ctx, false));
        router.get("/api/whoami").handler(auth::whoami);
        router.get("/api/cluster").handler(api::cluster);
        router.get("/api/cluster/partitions").handler(api::placements);
        router.get("/api/brokers").handler(ctx -> ctx.json(api.brokers()));
        router.get("/api/stats").handler(api::stats);
        router.get("/api/topics").handler(api::listTopics);
        router.post("/api/topics").handler(api::createTopic);
        router.get("/api/topics/:topic").handler(api::describeTopic);
        router.delete("/api/topics/:topic").handler(api::deleteTopic);
        router.post("/api/topics/:topic/records").handler(api::produce);
        router.get("/api/topics/:topic/partitions/:partition/records").handler(api::consume);
        router.get("/api/groups").handler(api::listGroups);
        router.get("/api/groups/:group").handler(api::describeGroup);
        router.route("/api/*").handler(ctx -> fail(ctx, new ApiError(404, "NOT_FOUND", "No such API: " + ctx.request().method() + " " + ctx.request().path())));
        router.route("/api/*").failureHandler(ctx -> {
            Throwable e = ctx.failure();
            if (e == null) {
                int status = ctx.statusCode();
                e = new ApiError(status, status == 413 ? "REQUEST_TOO_LARGE" : "HTTP_" + status,
                        status == 413 ? "The body is larger than " + Limits.HTTP_MAX_BODY_BYTES + " bytes" : "HTTP status " + status);
            }
            send(ctx, ApiError.of(e));
        });
    }

    /** 403 with Kafka's error name unless the caller may do {@code op} on the resource. */
    private void authorize(RoutingContext ctx, AclOperation op, ResourceType type, String name) {
        HttpAuth.authorize(s, HttpAuth.principal(ctx), HttpAuth.host(ctx), op, type, name);
    }

    /** Answers with {@code e} as JSON and its status (nothing if the response was already sent). */
    static void send(RoutingContext ctx, ApiError e) {
        if (ctx.response().ended()) return;
        ctx.response().setStatusCode(e.status()).putHeader("content-type", "application/json").end(e.toJson().encode());
    }

    private static void fail(RoutingContext ctx, Throwable e) {
        send(ctx, ApiError.of(e));
    }

    private static <T> void reply(RoutingContext ctx, Future<T> f, int status) {
        f.onComplete(ar -> {
            if (ar.failed()) {
                fail(ctx, ar.cause());
            } else if (!ctx.response().ended()) {
                ctx.response().setStatusCode(status);
                if (ar.result() == null) {
                    ctx.response().end();
                } else {
                    ctx.json(ar.result());
                }
            }
        });
    }

    private static JsonObject body(RoutingContext ctx) {
        try {
            JsonObject o = ctx.body().asJsonObject();
            if (o == null) throw ApiError.badRequest("The body must be a JSON object");
            return o;
        } catch (DecodeException | ClassCastException e) {
            throw ApiError.badRequest("The body is not a JSON object: " + e.getMessage());
        }
    }

    private LocalTopic topic(RoutingContext ctx) {
        String name = ctx.pathParam("topic");
        return s.topics().topic(name).orElseThrow(() -> ApiError.unknownTopic(name));
    }

    // ---- cluster ----

    /**
     * Every live broker with its Kafka listeners (this one's as bound here, the others' as they advertise them), and
     * whether it is fenced (registered but not yet caught up with the metadata: clients are not told of it).
     */
    private JsonArray brokers() {
        return brokers(ClusterStatus.of(s), s.cluster().controllerId());
    }

    /**
     * The brokers as this broker sees them: the live ones with their addresses, whether fenced, whether the controller,
     * the partitions each leads and how many of those are under-replicated; then brokers that hold replicas but are not
     * live here ({@code "live": false}), so that a broker gone is visible where its partitions are.
     */
    private JsonArray brokers(ClusterStatus status, int controller) {
        JsonArray out = new JsonArray();
        List<Integer> seen = new ArrayList<>();
        for (var b : s.cluster().brokers()) {
            JsonObject listeners = new JsonObject();
            (b.nodeId() == s.nodeId() ? s.kafkaListeners().get() : b.listeners()).forEach(listeners::put);
            ClusterStatus.Led led = status.led.getOrDefault(b.nodeId(), ClusterStatus.Led.NONE);
            String rack = b.nodeId() == s.nodeId() ? s.config().get(BrokerConfig.BROKER_RACK) : b.rack();
            out.add(new JsonObject().put("nodeId", b.nodeId()).put("listeners", listeners).put("http", b.http()).put("rack", rack)
                    .put("live", true).put("fenced", s.cluster().fenced(b.nodeId())).put("controller", b.nodeId() == controller)
                    .put("self", b.nodeId() == s.nodeId()).put("partitionsLed", led.partitions()).put("underReplicatedLed", led.underReplicated()));
            seen.add(b.nodeId());
        }
        for (int id : status.replicaBrokers) {
            if (seen.contains(id)) continue;
            out.add(new JsonObject().put("nodeId", id).put("listeners", new JsonObject()).put("http", (String) null).put("rack", (String) null)
                    .put("live", false).put("fenced", false).put("controller", false).put("self", false).put("partitionsLed", 0)
                    .put("underReplicatedLed", 0));
        }
        return out;
    }

    private void cluster(RoutingContext ctx) {
        int controller = s.cluster().controllerId();
        JsonObject quorum = new JsonObject().put("mode", s.cluster().metadataMode()).put("controllerEpoch", s.cluster().controllerEpoch());
        if (s.cluster().metadataMode().equals("quorum")) {
            quorum.put("voters", new JsonArray(new ArrayList<>(s.cluster().quorumVoters()))).put("leaderId", s.cluster().quorumLeaderId());
        }
        if (s.cluster().cpMemberCount() > 0) {
            quorum.put("cpMemberCount", s.cluster().cpMemberCount()).put("cpMembers", new JsonArray(new ArrayList<>(s.cluster().cpMembers())));
        }
        JsonArray leading = new JsonArray();
        for (LocalTopic t : s.topics().topics()) {
            for (PartitionHandle h : t.localPartitions()) {
                Placement pl = h.placement(); // read once: leadership may move between two reads
                if (pl.leader() == s.nodeId()) leading.add(new JsonObject().put("topic", t.name()).put("partition", h.topicPartition().partition())
                        .put("leaderEpoch", pl.leaderEpoch()).put("replicas", pl.replicas().size()));
            }
        }
        // Kafka's cluster-wide meanings, from this broker's metadata: fewer in-sync replicas than replicas; no leader.
        ClusterStatus status = ClusterStatus.of(s);
        // As Metadata: only the reassignments of topics the caller may describe.
        JsonArray reassignments = new JsonArray();
        for (Object o : status.reassignments) {
            JsonObject ra = (JsonObject) o;
            if (s.security().authorizer().authorize(HttpAuth.principal(ctx), HttpAuth.host(ctx), AclOperation.DESCRIBE, ResourceType.TOPIC,
                    ra.getString("topic"), true)) {
                reassignments.add(ra);
            }
        }
        ctx.json(new JsonObject().put("clusterId", s.clusterId()).put("nodeId", s.nodeId()).put("controllerId", controller)
                .put("actingControllerEpoch", s.cluster().actingControllerEpoch()).put("brokers", brokers(status, controller))
                .put("topics", s.topics().topics().size()).put("partitions", status.partitions)
                .put("underReplicatedPartitions", status.underReplicated).put("underMinIsrPartitions", status.underMinIsr)
                .put("offlinePartitions", status.offline).put("preferredReplicaImbalance", status.preferredImbalance)
                .put("reassignments", reassignments).put("metadataQuorum", quorum).put("leading", leading));
    }

    /**
     * Where every partition lives (the topics the caller may describe, by name): leader, replicas (the first is the
     * preferred leader), ISR, and what is wrong with it, from this broker's metadata. Kafka's describeTopics for all.
     */
    private void placements(RoutingContext ctx) {
        List<LocalTopic> topics = new ArrayList<>(s.topics().topics());
        topics.removeIf(t -> !s.security().authorizer().authorize(HttpAuth.principal(ctx), HttpAuth.host(ctx), AclOperation.DESCRIBE,
                ResourceType.TOPIC, t.name(), true));
        topics.sort(Comparator.comparing(LocalTopic::name));
        JsonArray out = new JsonArray();
        for (LocalTopic t : topics) {
            for (int p = 0; p < t.placements().size(); p++) {
                Placement pl = t.placements().get(p);
                if (pl.replicas().isEmpty()) continue;
                TopicMetadata.Reassignment ra = t.metadata().reassignments().get(p);
                out.add(new JsonObject().put("topic", t.name()).put("internal", InternalTopics.isInternal(t.name())).put("partition", p)
                        .put("leader", pl.leader()).put("leaderEpoch", pl.leaderEpoch()).put("replicas", new JsonArray(new ArrayList<>(pl.replicas())))
                        .put("isr", new JsonArray(new ArrayList<>(pl.isr()))).put("offline", !pl.hasLeader())
                        .put("underReplicated", ClusterStatus.underReplicated(pl, ra)).put("underMinIsr", ClusterStatus.underMinIsr(t, pl, ra))
                        .put("preferredLeader", pl.hasLeader() && pl.leader() == pl.replicas().get(0))
                        .put("reassigning", ra != null));
            }
        }
        ctx.json(out);
    }

    private void stats(RoutingContext ctx) {
        ctx.json(new JsonObject().put("time", s.time().milliseconds()).put("recordsIn", s.metrics().recordsInTotal())
                .put("recordsOut", s.metrics().recordsOutTotal()));
    }

    // ---- topics ----

    private void listTopics(RoutingContext ctx) {
        List<LocalTopic> topics = new ArrayList<>(s.topics().topics());
        // As Kafka's Metadata: only the topics the caller may describe.
        topics.removeIf(t -> !s.security().authorizer().authorize(HttpAuth.principal(ctx), HttpAuth.host(ctx), AclOperation.DESCRIBE,
                ResourceType.TOPIC, t.name(), true));
        topics.sort(Comparator.comparing(LocalTopic::name));
        List<Future<JsonObject>> all = new ArrayList<>();
        for (LocalTopic t : topics) {
            all.add(sizes(t).map(sizes -> {
                long records = 0;
                for (PartitionHandle h : t.localPartitions()) records += h.logEndOffset() - h.logStartOffset();
                return new JsonObject().put("name", t.name()).put("topicId", t.topicId().toString()).put("internal", InternalTopics.isInternal(t.name()))
                        .put("partitions", t.partitions().size()).put("replicationFactor", t.placements().isEmpty() ? 1 : t.placements().get(0).replicas().size()).put("records", records)
                        .put("sizeBytes", sizes.stream().filter(Objects::nonNull).mapToLong(Long::longValue).sum());
            }));
        }
        reply(ctx, Future.all(all).map(v -> new JsonArray(all.stream().map(Future::result).toList())), 200);
    }

    private static Future<List<Long>> sizes(LocalTopic t) {
        List<Future<Long>> all = new ArrayList<>();
        for (PartitionHandle h : t.partitions()) all.add(h == null || h.offline() != null ? Future.succeededFuture(null) : h.sizeInBytes());
        return Future.all(all).map(v -> all.stream().map(Future::result).toList());
    }

    private void createTopic(RoutingContext ctx) {
        JsonObject b = body(ctx);
        if (!(b.getValue("name") instanceof String name)) throw ApiError.badRequest("\"name\" (a string) is required");
        // Kafka's check for CreateTopics: CREATE on the cluster, or on the topic.
        if (!s.security().authorizer().authorize(HttpAuth.principal(ctx), HttpAuth.host(ctx), AclOperation.CREATE, ResourceType.CLUSTER,
                io.runnel.security.Authorizer.CLUSTER, true)) {
            authorize(ctx, AclOperation.CREATE, ResourceType.TOPIC, name);
        }
        int partitions = integer(b, "partitions", -1);
        int rf = integer(b, "replicationFactor", -1);
        if (!s.cluster().clustered() && rf != -1 && rf != 1) {
            throw ApiError.of(new InvalidReplicationFactorException("Replication factor " + rf + " is larger than the 1 broker available"));
        }
        Map<String, String> configs = new LinkedHashMap<>();
        Object c = b.getValue("configs");
        if (c != null) {
            if (!(c instanceof JsonObject co)) throw ApiError.badRequest("\"configs\" must be an object of topic config name to value");
            for (Map.Entry<String, Object> e : co) {
                if (e.getValue() == null || e.getValue() instanceof JsonObject || e.getValue() instanceof JsonArray) {
                    throw ApiError.badRequest("configs." + e.getKey() + " must be a string, number or boolean");
                }
                if (TopicConfig.KEYS.stream().noneMatch(k -> k.name().equals(e.getKey()))) {
                    throw ApiError.badRequest("configs." + e.getKey() + " is not a topic config Runnel knows");
                }
                configs.put(e.getKey(), String.valueOf(e.getValue()));
            }
        }
        reply(ctx, s.topicAdmin().createTopic(name, partitions, rf, configs).compose(this::describe), 201);
    }

    private static int integer(JsonObject b, String field, int dflt) {
        Object v = b.getValue(field);
        if (v == null) return dflt;
        if (!(v instanceof Number n) || n.doubleValue() != n.intValue()) throw ApiError.badRequest("\"" + field + "\" must be an integer");
        return n.intValue();
    }

    private void describeTopic(RoutingContext ctx) {
        authorize(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, ctx.pathParam("topic"));
        reply(ctx, describe(topic(ctx)), 200);
    }

    private Future<JsonObject> describe(LocalTopic t) {
        return sizes(t).map(sizes -> {
            JsonArray parts = new JsonArray();
            for (int p = 0; p < t.partitions().size(); p++) {
                PartitionHandle h = t.local(p);
                var pl = t.placements().get(p);
                JsonObject o = new JsonObject().put("partition", p).put("leader", pl.leader()).put("leaderEpoch", pl.leaderEpoch())
                        .put("replicas", new JsonArray(new ArrayList<>(pl.replicas()))).put("isr", new JsonArray(new ArrayList<>(pl.isr())));
                // Offsets and size are known for this broker's replicas (in a cluster, ask the leader for the others).
                if (h != null && h.offline() != null) {
                    o.put("offline", h.offline()); // taken offline by an I/O error: its log is not read
                } else if (h != null) {
                    o.put("logStartOffset", h.logStartOffset()).put("logEndOffset", h.logEndOffset()).put("sizeBytes", sizes.get(p));
                }
                parts.add(o);
            }
            JsonObject configs = new JsonObject();
            for (TopicConfig.Entry e : t.config().describe(s.dynamicConfig().current())) {
                configs.put(e.name(), new JsonObject().put("value", e.value()).put("source", e.overridden() ? "TOPIC" : "DEFAULT"));
            }
            return new JsonObject().put("name", t.name()).put("topicId", t.topicId().toString()).put("internal", InternalTopics.isInternal(t.name()))
                    .put("partitions", parts).put("configs", configs);
        });
    }

    private void deleteTopic(RoutingContext ctx) {
        String name = ctx.pathParam("topic");
        authorize(ctx, AclOperation.DELETE, ResourceType.TOPIC, name);
        if (InternalTopics.isInternal(name)) throw ApiError.badRequest("The internal topic " + name + " cannot be deleted");
        reply(ctx, s.topicAdmin().deleteTopic(name), 204);
    }

    // ---- records ----

    private void produce(RoutingContext ctx) {
        authorize(ctx, AclOperation.WRITE, ResourceType.TOPIC, ctx.pathParam("topic"));
        String topic = topic(ctx).name();
        JsonObject b = body(ctx);
        var records = RecordJson.parse(b.getValue("records"), RecordJson.encoding(b.getValue("encoding"), "encoding", false));
        boolean acksAll = RecordJson.acksAll(b.getValue("acks"));
        reply(ctx, s.publisher().publish(topic, records, acksAll).map(results -> new JsonObject().put("topic", topic).put("results", Publisher.toJson(results))), 200);
    }

    private void consume(RoutingContext ctx) {
        authorize(ctx, AclOperation.READ, ResourceType.TOPIC, ctx.pathParam("topic"));
        LocalTopic t = topic(ctx);
        int p;
        try {
            p = Integer.parseInt(ctx.pathParam("partition"));
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("The partition must be a number, not '" + ctx.pathParam("partition") + "'");
        }
        if (p < 0 || p >= t.partitions().size()) throw ApiError.unknownPartition(t.name(), p);
        PartitionHandle h = t.local(p);
        long limit = query(ctx, "limit", 100, 1, Limits.REST_CONSUME_MAX_RECORDS);
        long timeout = query(ctx, "timeout", 0, 0, Limits.REST_CONSUME_MAX_WAIT_MS);
        boolean base64 = RecordJson.encoding(ctx.queryParams().get("encoding"), "encoding", false);
        boolean committed = RecordJson.readCommitted(ctx.queryParams().get("isolation"));
        if (h == null || !h.isLeader()) {
            int leader = t.leader(p);
            if (s.links() == null || leader < 0) throw ApiError.notHere(t.name(), p, leader);
            reply(ctx, consumeAt(leader, new TopicPartition(t.name(), p), ctx, limit, timeout, base64, committed), 200);
            return;
        }
        Future<Long> start;
        if (ctx.queryParams().contains("timestamp")) {
            long ts = query(ctx, "timestamp", 0, 0, Long.MAX_VALUE);
            start = h.listOffset(ts, true).map(o -> o.map(PartitionHandle.ListedOffset::offset).orElse(h.highWatermark()));
        } else {
            String offset = ctx.queryParams().get("offset");
            if (offset == null || offset.equals("earliest")) {
                start = Future.succeededFuture(h.logStartOffset());
            } else if (offset.equals("latest")) {
                start = Future.succeededFuture(h.readableEnd(committed));
            } else {
                start = Future.succeededFuture(query(ctx, "offset", 0, 0, Long.MAX_VALUE));
            }
        }
        reply(ctx, start.compose(from -> {
            if (from < h.logStartOffset() || from > h.logEndOffset()) {
                return Future.failedFuture(new OffsetOutOfRangeException("Offset " + from + " is outside partition "
                        + p + "'s range [" + h.logStartOffset() + ", " + h.logEndOffset() + "]"));
            }
            if (from < h.readableEnd(committed) || timeout == 0) return read(h, from, limit, base64, committed);
            // Long poll: wait for an append past the end, or the timeout (the parked entry is then released).
            Promise<Void> giveUp = Promise.promise();
            long timer = s.vertx().setTimer(timeout, x -> giveUp.tryComplete());
            return h.awaitReadable(from, committed, giveUp.future()).compose(v -> {
                s.vertx().cancelTimer(timer);
                giveUp.tryComplete();
                return read(h, from, limit, base64, committed);
            });
        }), 200);
    }

    /**
     * {@link #consume} of a partition led by broker {@code leader}: the start offset is looked up and the records read
     * there (ListOffsets, Fetch over the inter-broker listener), decoded here as for a local partition; a long poll
     * waits at the leader in rounds of {@link Limits#FORWARD_FETCH_MAX_WAIT_MS} until records come or the timeout.
     */
    private Future<JsonObject> consumeAt(int leader, TopicPartition tp, RoutingContext ctx, long limit, long timeout, boolean base64, boolean committed) {
        Future<Long> start;
        if (ctx.queryParams().contains("timestamp")) {
            long ts = query(ctx, "timestamp", 0, 0, Long.MAX_VALUE);
            start = s.links().listOffset(leader, tp, ts, committed)
                    .compose(o -> o >= 0 ? Future.succeededFuture(o) : s.links().listOffset(leader, tp, ListOffsetsRequest.LATEST_TIMESTAMP, false));
        } else {
            String offset = ctx.queryParams().get("offset");
            if (offset == null || offset.equals("earliest")) {
                start = s.links().listOffset(leader, tp, ListOffsetsRequest.EARLIEST_TIMESTAMP, committed);
            } else if (offset.equals("latest")) {
                start = s.links().listOffset(leader, tp, ListOffsetsRequest.LATEST_TIMESTAMP, committed);
            } else {
                start = Future.succeededFuture(query(ctx, "offset", 0, 0, Long.MAX_VALUE));
            }
        }
        long deadline = System.nanoTime() + timeout * 1_000_000L;
        return start.compose(from -> s.links().fetch(leader, tp, from, Limits.WS_READ_MAX_BYTES, committed)
                .compose(f -> fetchedOrWait(leader, tp, from, f, limit, base64, committed, deadline)));
    }

    private Future<JsonObject> fetchedOrWait(int leader, TopicPartition tp, long from, BrokerLinks.Fetched f, long limit, boolean base64, boolean committed,
                                             long deadline) {
        if (f.error() != Errors.NONE) return Future.failedFuture(f.error().exception("Reading " + tp + " at its leader, broker " + leader));
        PartitionReader.Chunk c = PartitionReader.decodeFetched(tp.partition(), f, from, limit, Long.MAX_VALUE, base64, committed);
        if (!c.records().isEmpty() || c.nextOffset() > from || System.nanoTime() >= deadline) {
            return Future.succeededFuture(new JsonObject().put("records", c.records()).put("nextOffset", c.nextOffset()).put("logEndOffset", c.logEndOffset()));
        }
        return s.links().awaitRecords(leader, tp, from, committed).compose(next -> fetchedOrWait(leader, tp, from, next, limit, base64, committed, deadline));
    }

    private Future<JsonObject> read(PartitionHandle h, long from, long limit, boolean base64, boolean committed) {
        long end = h.readableEnd(committed);
        if (from >= end) {
            return Future.succeededFuture(new JsonObject().put("records", new JsonArray()).put("nextOffset", from).put("logEndOffset", end));
        }
        return PartitionReader.read(h, from, Limits.WS_READ_MAX_BYTES, limit, Long.MAX_VALUE, base64, committed, s.metrics())
                .map(c -> new JsonObject().put("records", c.records()).put("nextOffset", c.nextOffset()).put("logEndOffset", c.logEndOffset()));
    }

    private static long query(RoutingContext ctx, String name, long dflt, long min, long max) {
        String v = ctx.queryParams().get(name);
        if (v == null) return dflt;
        try {
            long n = Long.parseLong(v);
            if (n < min || n > max) throw ApiError.badRequest("'" + name + "' must be between " + min + " and " + max + ", got " + n);
            return n;
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("'" + name + "' must be a number, got '" + v + "'");
        }
    }

    // ---- consumer groups ----

    private void listGroups(RoutingContext ctx) {
        reply(ctx, s.groups().listGroups().map(groups -> {
            JsonArray out = new JsonArray();
            for (GroupOverview g : groups) {
                if (!s.security().authorizer().authorize(HttpAuth.principal(ctx), HttpAuth.host(ctx), AclOperation.DESCRIBE, ResourceType.GROUP,
                        g.groupId(), true)) {
                    continue; // as Kafka's ListGroups: only the groups the caller may describe
                }
                out.add(new JsonObject().put("groupId", g.groupId()).put("type", g.type()).put("state", g.state()).put("protocolType", g.protocolType()));
            }
            return out;
        }), 200);
    }

    private void describeGroup(RoutingContext ctx) {
        String group = ctx.pathParam("group");
        authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, group);
        Future<GroupDescription> classic = s.groups().describeGroup(group);
        Future<ConsumerGroupDescribeResponseData.DescribedGroup> modern = s.groups().consumerGroupDescribe(group);
        Future<Map<TopicPartition, CommittedOffset>> offsets = s.groups().fetchOffsets(group);
        Future<ShareGroupDescribeResponseData.DescribedGroup> share = s.groups().shareGroupDescribe(group);
        reply(ctx, Future.all(classic, modern, offsets, share).compose(v -> {
            if (share.result() != null && share.result().errorCode() == Errors.NONE.code()) return describeShareGroup(share.result());
            GroupDescription d = classic.result();
            var m = modern.result();
            boolean isModern = m != null && m.errorCode() == Errors.NONE.code();
            if (d == null && !isModern && offsets.result().isEmpty()) {
                return Future.failedFuture(new ApiError(404, Errors.GROUP_ID_NOT_FOUND.name(), "Group '" + group + "' does not exist"));
            }
            JsonObject out = new JsonObject().put("groupId", group);
            JsonArray members = new JsonArray();
            if (isModern) {
                out.put("type", "consumer").put("state", m.groupState()).put("assignor", m.assignorName()).put("groupEpoch", m.groupEpoch());
                for (var mem : m.members()) {
                    JsonArray assignment = new JsonArray();
                    for (var tp : mem.assignment().topicPartitions()) {
                        assignment.add(new JsonObject().put("topic", tp.topicName()).put("partitions", new JsonArray(new ArrayList<>(tp.partitions()))));
                    }
                    members.add(new JsonObject().put("memberId", mem.memberId()).put("clientId", mem.clientId()).put("host", mem.clientHost())
                            .put("memberEpoch", mem.memberEpoch()).put("assignment", assignment));
                }
            } else {
                out.put("type", "classic").put("state", d == null ? "Empty" : d.state()).put("protocolType", d == null ? "" : d.protocolType())
                        .put("protocol", d == null ? "" : d.protocol());
                if (d != null) {
                    for (GroupDescription.MemberDescription mem : d.members()) {
                        members.add(new JsonObject().put("memberId", mem.memberId()).put("clientId", mem.clientId()).put("host", mem.clientHost())
                                .put("groupInstanceId", mem.groupInstanceId()).put("assignment", classicAssignment(d.protocolType(), mem.assignment())));
                    }
                }
            }
            out.put("members", members);
            JsonArray lags = new JsonArray();
            long total = 0;
            List<Map.Entry<TopicPartition, CommittedOffset>> sorted = new ArrayList<>(offsets.result().entrySet());
            sorted.sort(Comparator.comparing((Map.Entry<TopicPartition, CommittedOffset> e) -> e.getKey().topic())
                    .thenComparingInt(e -> e.getKey().partition()));
            for (var e : sorted) {
                var h = s.topics().partition(e.getKey().topic(), e.getKey().partition());
                JsonObject o = new JsonObject().put("topic", e.getKey().topic()).put("partition", e.getKey().partition())
                        .put("committedOffset", e.getValue().offset()).put("metadata", e.getValue().metadata());
                if (h.isPresent()) {
                    // As Kafka's consumer-groups tool: the log end a consumer sees is the high watermark.
                    long lag = Math.max(0, h.get().highWatermark() - e.getValue().offset());
                    o.put("logEndOffset", h.get().highWatermark()).put("lag", lag);
                    total += lag;
                }
                lags.add(o);
            }
            return Future.succeededFuture(out.put("offsets", lags).put("totalLag", total));
        }), 200);
    }

    /**
     * A share group: its members, and per partition its start offset and lag, and, for partitions this broker leads,
     * what is in flight now (acquired, available to deliver again, acknowledged and archived records behind the start,
     * and how many records in play are on each delivery count).
     */
    private Future<JsonObject> describeShareGroup(ShareGroupDescribeResponseData.DescribedGroup g) {
        JsonObject out = new JsonObject().put("groupId", g.groupId()).put("type", "share").put("state", g.groupState())
                .put("assignor", g.assignorName()).put("groupEpoch", g.groupEpoch());
        JsonArray members = new JsonArray();
        for (var mem : g.members()) {
            JsonArray assignment = new JsonArray();
            for (var tp : mem.assignment().topicPartitions()) {
                assignment.add(new JsonObject().put("topic", tp.topicName()).put("partitions", new JsonArray(new ArrayList<>(tp.partitions()))));
            }
            members.add(new JsonObject().put("memberId", mem.memberId()).put("clientId", mem.clientId()).put("host", mem.clientHost())
                    .put("memberEpoch", mem.memberEpoch()).put("assignment", assignment));
        }
        out.put("members", members);
        if (s.shares() == null) return Future.succeededFuture(out.put("partitions", new JsonArray()).put("totalLag", 0));
        Future<List<SharePartitionManager.StartOffset>> starts = s.shares().startOffsets(g.groupId(), null);
        Future<Map<SharePartitionManager.TopicIdPartition, SharePartitionState.Stats>> stats = s.shares().stats(g.groupId());
        return Future.all(starts, stats).map(x -> {
            JsonArray parts = new JsonArray();
            long total = 0;
            List<SharePartitionManager.StartOffset> sorted = new ArrayList<>(starts.result());
            sorted.sort(Comparator.comparing((SharePartitionManager.StartOffset o) -> topicName(o.tp().topicId())).thenComparingInt(o -> o.tp().partition()));
            for (SharePartitionManager.StartOffset o : sorted) {
                if (o.startOffset() < 0) continue;
                JsonObject p = new JsonObject().put("topic", topicName(o.tp().topicId())).put("partition", o.tp().partition())
                        .put("startOffset", o.startOffset());
                if (o.lag() >= 0) {
                    p.put("lag", o.lag());
                    total += o.lag();
                }
                SharePartitionState.Stats st = stats.result().get(o.tp());
                if (st != null) {
                    JsonObject counts = new JsonObject();
                    st.deliveryCounts().forEach((count, n) -> counts.put(Short.toString(count), n));
                    p.put("acquired", st.acquired()).put("available", st.available()).put("acknowledged", st.acknowledged())
                            .put("archived", st.archived()).put("deliveryCounts", counts);
                }
                parts.add(p);
            }
            return out.put("partitions", parts).put("totalLag", total);
        });
    }

    private String topicName(Uuid id) {
        return s.topics().topicById(id).map(t -> t.name()).orElse(id.toString());
    }

    /** A classic member's assignment as topics and partitions, when it uses the consumer protocol. */
    private static JsonArray classicAssignment(String protocolType, byte[] assignment) {
        JsonArray out = new JsonArray();
        if (!ConsumerProtocol.PROTOCOL_TYPE.equals(protocolType) || assignment == null || assignment.length == 0) return out;
        try {
            ConsumerPartitionAssignor.Assignment a = ConsumerProtocol.deserializeAssignment(ByteBuffer.wrap(assignment));
            Map<String, JsonArray> byTopic = new LinkedHashMap<>();
            for (TopicPartition tp : a.partitions()) byTopic.computeIfAbsent(tp.topic(), x -> new JsonArray()).add(tp.partition());
            byTopic.forEach((topic, parts) -> out.add(new JsonObject().put("topic", topic).put("partitions", parts)));
        } catch (RuntimeException e) {
            // not the consumer protocol's bytes: leave the assignment out
        }
        return out;
    }
}
