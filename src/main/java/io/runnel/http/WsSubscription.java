package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.group.CommittedOffset;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One subscription of a WebSocket: a topic's partitions (all, chosen ones, or those a consumer group assigns), a
 * position per partition, and the credit the client granted. It reads only while it has credit and the socket can
 * take a frame; with nothing to read it parks on the partitions (their pending-fetch lists) until an append wakes
 * it. Memory held: at most one read of {@link Limits#WS_READ_MAX_BYTES} at a time, whatever the topic holds.
 *
 * <p>A group subscription is a member of a KIP-848 consumer group, driven by the broker itself: it heartbeats to the
 * group coordinator (ConsumerGroupHeartbeat, as a Kafka 4 consumer does), starts assigned partitions at the group's
 * committed offsets (else at {@code from}: earliest or latest), gives revoked partitions up before reporting them
 * gone, commits on request, and leaves the group when the subscription or the socket ends.
 */
final class WsSubscription {
    private static final Logger LOG = LoggerFactory.getLogger(WsSubscription.class);
    /** Pause, ms, before parking again when a wake-up found nothing (a partition's pending-fetch list was full). */
    private static final long IDLE_RETRY_MS = 100;

    private final WsSession session;
    private final String id;
    private final Object requestId;
    private final String topic;
    private final boolean base64;
    private final Object from;
    private final List<Integer> chosen;
    private final String group;
    /** Next offset to send, by partition: the partitions this subscription reads now. */
    private final Map<Integer, Long> positions = new TreeMap<>();
    /** Partitions the group assigned whose committed offsets are being looked up (owned, not yet read). */
    private final Set<Integer> joining = new TreeSet<>();
    private long recordCredit;
    private long byteCredit;
    private boolean byteLimited;
    private boolean reading;
    private Promise<Void> parked;
    private int turn;
    private boolean closed;
    // group membership (KIP-848)
    private String memberId;
    private int memberEpoch;
    private long heartbeatTimer = -1;
    private boolean announced;

    private WsSubscription(WsSession session, String id, Object requestId, String topic, boolean base64, Object from, List<Integer> chosen,
                           String group) {
        this.session = session;
        this.id = id;
        this.requestId = requestId;
        this.topic = topic;
        this.base64 = base64;
        this.from = from;
        this.chosen = chosen;
        this.group = group;
    }

    /** Validates a subscribe frame; throws {@link ApiError} naming what is wrong. */
    static WsSubscription create(WsSession session, String id, JsonObject frame, Object requestId) {
        if (!(frame.getValue("topic") instanceof String topic)) throw ApiError.badRequest("\"topic\" (a string) is required");
        LocalTopic t = session.services().topics().topic(topic).orElseThrow(() -> ApiError.unknownTopic(topic));
        Object group = frame.getValue("group");
        if (group != null && (!(group instanceof String g) || g.isEmpty())) throw ApiError.badRequest("\"group\" must be a non-empty string");
        Object from = frame.getValue("from", "latest");
        if (group != null && !"earliest".equals(from) && !"latest".equals(from)) {
            throw ApiError.badRequest("With a group, \"from\" says where partitions without a committed offset start: \"earliest\" or \"latest\"");
        }
        if (!"earliest".equals(from) && !"latest".equals(from)
                && !(from instanceof JsonObject o && o.size() == 1 && (o.getValue("offset") instanceof Number || o.getValue("timestamp") instanceof Number))) {
            throw ApiError.badRequest("\"from\" must be \"earliest\", \"latest\", {\"offset\": n} or {\"timestamp\": ms}");
        }
        List<Integer> chosen = null;
        if (frame.getValue("partitions") != null) {
            if (group != null) throw ApiError.badRequest("A group subscription gets its partitions from the group; leave \"partitions\" out");
            if (!(frame.getValue("partitions") instanceof JsonArray a) || a.isEmpty()) {
                throw ApiError.badRequest("\"partitions\" must be a non-empty array of partition numbers");
            }
            chosen = new ArrayList<>();
            for (Object p : a) {
                if (!(p instanceof Integer n) || n < 0) throw ApiError.badRequest("\"partitions\" must hold non-negative integers");
                if (n >= t.partitions().size()) throw ApiError.unknownPartition(topic, n);
                if (t.local(n) == null) throw ApiError.notHere(topic, n, t.placements().get(n).leader());
                if (!chosen.contains(n)) chosen.add(n);
            }
        }
        boolean base64 = RecordJson.encoding(frame.getValue("encoding"), "encoding", false);
        WsSubscription s = new WsSubscription(session, id, requestId, topic, base64, from, chosen, (String) group);
        if (frame.getValue("credit") != null) {
            if (!(frame.getValue("credit") instanceof JsonObject c)) throw ApiError.badRequest("\"credit\" must be {\"records\": n, \"bytes\": n}");
            s.grantQuietly(RecordJson.nonNegative(c, "records"), RecordJson.nonNegative(c, "bytes"));
        }
        return s;
    }

    String id() {
        return id;
    }

    /** Resolves the start positions (or joins the group) and starts sending; fails for a bad offset. */
    Future<Void> start() {
        if (group != null) {
            memberId = Uuid.randomUuid().toString(); // KIP-1082: the member makes its own id
            heartbeat();
            return Future.succeededFuture();
        }
        LocalTopic t = topicInfo();
        // All partitions: those this broker holds (in a cluster, subscribe at each broker for the partitions it leads).
        List<Integer> parts = chosen != null ? chosen : IntStream.range(0, t.partitions().size()).filter(p -> t.local(p) != null)
                .boxed().toList();
        List<Future<Long>> starts = new ArrayList<>();
        for (int p : parts) starts.add(startOffset(t.partitions().get(p), from));
        return Future.all(starts).map(all -> {
            for (int i = 0; i < parts.size(); i++) positions.put(parts.get(i), starts.get(i).result());
            session.send(new JsonObject().put("type", "subscribed").put("id", requestId).put("subscription", id).put("topic", topic)
                    .put("partitions", positionsJson(positions.keySet())));
            pump();
            return null;
        });
    }

    private LocalTopic topicInfo() {
        return session.services().topics().topic(topic).orElse(null);
    }

    private static Future<Long> startOffset(PartitionHandle h, Object from) {
        if ("earliest".equals(from)) return Future.succeededFuture(h.logStartOffset());
        if ("latest".equals(from)) return Future.succeededFuture(h.highWatermark());
        JsonObject o = (JsonObject) from;
        if (o.getValue("offset") != null) {
            long offset = o.getLong("offset");
            if (offset > h.logEndOffset()) {
                return Future.failedFuture(new OffsetOutOfRangeException("Offset " + offset + " is past the end (" + h.logEndOffset()
                        + ") of partition " + h.topicPartition()));
            }
            return Future.succeededFuture(Math.max(offset, h.logStartOffset())); // deleted by retention: the first kept
        }
        long ts = o.getLong("timestamp");
        return h.listOffset(ts, true).map(found -> found.map(PartitionHandle.ListedOffset::offset).orElse(h.highWatermark()));
    }

    private JsonArray positionsJson(Set<Integer> parts) {
        JsonArray a = new JsonArray();
        for (int p : parts) if (positions.containsKey(p)) a.add(new JsonObject().put("partition", p).put("offset", positions.get(p)));
        return a;
    }

    // ---- credit and sending ----

    void grant(long records, long bytes) {
        grantQuietly(records, bytes);
        pump();
    }

    private void grantQuietly(long records, long bytes) {
        recordCredit = Math.min(Limits.WS_CREDIT_MAX, recordCredit + records);
        if (bytes > 0) {
            byteLimited = true;
            byteCredit = Math.min(Limits.WS_CREDIT_MAX, byteCredit + bytes);
        }
    }

    /** Sends what the credit allows; parks when nothing is left to read. */
    void pump() {
        if (closed || reading || parked != null || positions.isEmpty()) return;
        if (recordCredit <= 0 || (byteLimited && byteCredit <= 0)) return;
        if (!session.writable(this::pump)) return;
        LocalTopic t = topicInfo();
        if (t == null) {
            session.subscriptionEnded(this, Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Topic '" + topic + "' was deleted");
            return;
        }
        List<Integer> parts = new ArrayList<>(positions.keySet());
        for (int k = 0; k < parts.size(); k++) {
            int p = parts.get((turn + k) % parts.size());
            PartitionHandle h = t.local(p);
            if (h == null) continue;
            if (positions.get(p) < h.highWatermark()) { // readable: below the high watermark
                turn = (turn + k + 1) % parts.size();
                read(p, h);
                return;
            }
        }
        park(t);
    }

    private void read(int p, PartitionHandle h) {
        reading = true;
        long pos = positions.get(p);
        int maxBytes = (int) Math.max(1, Math.min(Limits.WS_READ_MAX_BYTES, byteLimited ? byteCredit : Long.MAX_VALUE));
        PartitionReader.read(h, pos, maxBytes, recordCredit, byteLimited ? byteCredit : Long.MAX_VALUE, base64, session.services().metrics())
                .onComplete(ar -> {
                    reading = false;
                    if (closed) return;
                    if (!positions.containsKey(p) || positions.get(p) != pos) { // revoked or moved while reading
                        pump();
                        return;
                    }
                    if (ar.failed()) {
                        if (ar.cause() instanceof OffsetOutOfRangeException) {
                            long start = h.logStartOffset();
                            positions.put(p, start);
                            session.send(new JsonObject().put("type", "error").put("subscription", id).put("code", Errors.OFFSET_OUT_OF_RANGE.name())
                                    .put("message", "Offset " + pos + " of partition " + p + " was deleted by retention; continuing at " + start));
                            pump();
                        } else {
                            ApiError e = ApiError.of(ar.cause());
                            session.subscriptionEnded(this, e.code(), e.getMessage());
                        }
                        return;
                    }
                    PartitionReader.Chunk c = ar.result();
                    if (c.records().isEmpty()) {
                        if (c.nextOffset() > pos) {
                            positions.put(p, c.nextOffset()); // only control batches or compacted gaps
                            pump();
                        }
                        // else the next record is larger than the byte credit: wait for more
                        return;
                    }
                    positions.put(p, c.nextOffset());
                    recordCredit -= c.records().size();
                    if (byteLimited) byteCredit -= c.bytes();
                    session.send(new JsonObject().put("type", "records").put("subscription", id).put("records", c.records()));
                    pump();
                });
    }

    private void park(LocalTopic t) {
        Promise<Void> giveUp = Promise.promise();
        parked = giveUp;
        for (Map.Entry<Integer, Long> e : positions.entrySet()) {
            PartitionHandle h = t.local(e.getKey());
            if (h != null) h.awaitDataAfter(e.getValue(), giveUp.future()).onComplete(x -> wake(giveUp));
        }
    }

    private void wake(Promise<Void> which) {
        if (parked != which) return;
        parked = null;
        which.tryComplete();
        if (closed) return;
        LocalTopic t = topicInfo();
        boolean data = t != null && positions.entrySet().stream()
                .anyMatch(e -> t.local(e.getKey()) != null && e.getValue() < t.local(e.getKey()).highWatermark());
        if (data || t == null) {
            pump();
        } else {
            session.services().vertx().setTimer(IDLE_RETRY_MS, x -> pump());
        }
    }

    private void unpark() {
        Promise<Void> p = parked;
        parked = null;
        if (p != null) p.tryComplete();
    }

    // ---- commit ----

    void commit(Object offsets, Object requestId) {
        if (group == null) throw ApiError.badRequest("Only a group subscription commits offsets (subscribe with \"group\")");
        if (memberEpoch <= 0) throw new ApiError(409, Errors.REBALANCE_IN_PROGRESS.name(), "The subscription has not joined its group yet");
        Map<TopicPartition, CommittedOffset> commits = new HashMap<>();
        if (offsets == null) {
            positions.forEach((p, o) -> commits.put(new TopicPartition(topic, p), new CommittedOffset(o, -1, "")));
        } else {
            if (!(offsets instanceof JsonArray a)) throw ApiError.badRequest("\"offsets\" must be an array of {\"partition\", \"offset\"}");
            for (Object x : a) {
                if (!(x instanceof JsonObject o) || !(o.getValue("partition") instanceof Integer p) || !(o.getValue("offset") instanceof Number n)
                        || n.longValue() < 0) {
                    throw ApiError.badRequest("\"offsets\" must hold {\"partition\": n, \"offset\": n} objects");
                }
                if (!positions.containsKey(p)) {
                    throw new ApiError(409, Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Partition " + p + " is not assigned to this subscription");
                }
                commits.put(new TopicPartition(topic, p), new CommittedOffset(n.longValue(), -1, o.getString("metadata", "")));
            }
        }
        JsonArray committed = new JsonArray();
        commits.forEach((tp, c) -> committed.add(new JsonObject().put("partition", tp.partition()).put("offset", c.offset())));
        session.services().groups().commitOffsets(group, memberEpoch, memberId, commits).onComplete(ar -> {
            if (ar.failed()) {
                ApiError e = ApiError.of(ar.cause());
                session.error(requestId, e.code(), e.getMessage());
            } else if (ar.result() != Errors.NONE) {
                session.error(requestId, ar.result().name(), "The commit was refused: " + ar.result().message());
            } else {
                session.send(new JsonObject().put("type", "committed").put("id", requestId).put("subscription", id).put("offsets", committed));
            }
        });
    }

    // ---- group membership ----

    private void heartbeat() {
        heartbeatTimer = -1;
        if (closed) return;
        LocalTopic t = topicInfo();
        if (t == null) {
            session.subscriptionEnded(this, Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Topic '" + topic + "' was deleted");
            return;
        }
        ConsumerGroupHeartbeatRequestData req = new ConsumerGroupHeartbeatRequestData().setGroupId(group).setMemberId(memberId)
                .setMemberEpoch(memberEpoch).setRebalanceTimeoutMs(memberEpoch == 0 ? 60_000 : -1)
                .setSubscribedTopicNames(memberEpoch == 0 ? List.of(topic) : null)
                .setTopicPartitions(List.of(new ConsumerGroupHeartbeatRequestData.TopicPartitions().setTopicId(t.topicId())
                        .setPartitions(new ArrayList<>(owned()))));
        session.services().groups().consumerGroupHeartbeat(req, "runnel-websocket", "websocket").onComplete(ar -> {
            if (closed) return;
            if (ar.failed()) {
                LOG.debug("Heartbeat of WebSocket member {} failed", memberId, ar.cause());
                scheduleHeartbeat(1_000);
                return;
            }
            onHeartbeat(ar.result(), t.topicId());
        });
    }

    private void onHeartbeat(ConsumerGroupHeartbeatResponseData r, Uuid topicId) {
        Errors error = Errors.forCode(r.errorCode());
        if (error == Errors.UNKNOWN_MEMBER_ID || error == Errors.FENCED_MEMBER_EPOCH) {
            assign(Set.of()); // lost the membership: give everything up and join again
            memberEpoch = 0;
            scheduleHeartbeat(0);
            return;
        }
        if (error != Errors.NONE) {
            if (error.exception() instanceof RetriableException) {
                scheduleHeartbeat(1_000);
            } else {
                session.subscriptionEnded(this, error.name(), r.errorMessage() == null ? error.message() : r.errorMessage());
            }
            return;
        }
        memberEpoch = r.memberEpoch();
        if (!announced) {
            announced = true;
            session.send(new JsonObject().put("type", "subscribed").put("id", requestId).put("subscription", id).put("topic", topic)
                    .put("group", group).put("memberId", memberId).put("partitions", new JsonArray()));
        }
        if (r.assignment() != null) {
            Set<Integer> assigned = new TreeSet<>();
            for (var tp : r.assignment().topicPartitions()) if (tp.topicId().equals(topicId)) assigned.addAll(tp.partitions());
            assign(assigned);
        }
        scheduleHeartbeat(Math.max(100, r.heartbeatIntervalMs()));
    }

    private void scheduleHeartbeat(long delayMs) {
        if (closed) return;
        if (delayMs <= 0) {
            heartbeat();
            return;
        }
        heartbeatTimer = session.services().vertx().setTimer(delayMs, x -> heartbeat());
    }

    private Set<Integer> owned() {
        Set<Integer> owned = new TreeSet<>(positions.keySet());
        owned.addAll(joining);
        return owned;
    }

    /** Takes the partitions the group assigns now: stops reading revoked ones, starts new ones at the committed offsets. */
    private void assign(Set<Integer> assigned) {
        Set<Integer> revoked = owned();
        revoked.removeAll(assigned);
        Set<Integer> added = new TreeSet<>(assigned);
        added.removeAll(owned());
        if (revoked.isEmpty() && added.isEmpty()) return;
        revoked.forEach(positions::remove);
        joining.removeAll(revoked);
        joining.addAll(added);
        unpark();
        if (added.isEmpty()) {
            announce(added, revoked);
            pump();
            return;
        }
        session.services().groups().fetchOffsets(group).onComplete(ar -> {
            if (closed) return;
            LocalTopic t = topicInfo();
            if (t == null) return;
            for (int p : added) {
                PartitionHandle h = t.local(p);
                if (!joining.remove(p) || h == null) continue; // revoked meanwhile, or held by another broker
                CommittedOffset c = ar.succeeded() ? ar.result().get(new TopicPartition(topic, p)) : null;
                long start = c != null ? Math.max(c.offset(), h.logStartOffset()) : "earliest".equals(from) ? h.logStartOffset() : h.highWatermark();
                positions.put(p, Math.min(start, h.logEndOffset()));
            }
            announce(added, revoked);
            pump();
        });
    }

    private void announce(Set<Integer> added, Set<Integer> revoked) {
        session.send(new JsonObject().put("type", "assigned").put("subscription", id).put("partitions", positionsJson(added))
                .put("revoked", new JsonArray(new ArrayList<>(revoked))));
    }

    void close() {
        if (closed) return;
        closed = true;
        unpark();
        if (heartbeatTimer >= 0) session.services().vertx().cancelTimer(heartbeatTimer);
        if (group != null && memberEpoch > 0) {
            session.services().groups().consumerGroupHeartbeat(new ConsumerGroupHeartbeatRequestData().setGroupId(group).setMemberId(memberId)
                    .setMemberEpoch(-1), "runnel-websocket", "websocket"); // leave: the group rebalances at once
        }
    }
}
