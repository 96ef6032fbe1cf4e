package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.share.SharePartitionManager;
import io.runnel.share.SharePartitionState;
import io.runnel.share.SharePartitionState.AckBatch;
import io.runnel.share.SharePartitionState.Acquired;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ShareGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WebSocket subscription as a member of a share group (KIP-932): the broker is the page's share consumer. It
 * heartbeats to the group's coordinator (ShareGroupHeartbeat), and for the partitions the group assigns it keeps a
 * share session at each partition's leader, here or at another broker, fetching (ShareFetch, record_limit mode) no
 * more records than the client's credit allows and sending the page's acknowledgements ({@code ack} frames: accept,
 * release, reject) to the leaders. A record the page does not acknowledge within the group's lock duration, or that it
 * holds when the subscription or the socket ends, is delivered again (to this or another member).
 *
 * <p>Per leader one request is in flight at a time, so the session's epochs stay in order; acknowledgements wait for
 * it (at most {@link Limits#WS_SHARE_ACK_FRAMES_QUEUED} frames) and travel with the next fetch or alone. A fetch at
 * this broker waits up to {@link Limits#WS_SHARE_FETCH_WAIT_MS} for records. Memory held: the records of one fetch
 * per leader, bounded by the credit. Runs on the socket's event loop.
 */
final class WsShareSubscription implements WsStream {
    private static final Logger LOG = LoggerFactory.getLogger(WsShareSubscription.class);
    private static final int LEAVE_EPOCH = -1;

    private final WsSession session;
    private final String id;
    private final Object requestId;
    private final String topic;
    private final Uuid topicId;
    private final String group;
    private final boolean base64;
    /** KIP-932: the member makes its own id. */
    private final String memberId = Uuid.randomUuid().toString();
    /** What this broker's share sessions of the member are tied to (they end with it). */
    private final String connectionId = "websocket-" + memberId;
    private final ShareCalls calls;
    private int memberEpoch;
    private long heartbeatTimer = -1;
    private boolean announced;
    private Set<Integer> assigned = Set.of();
    /** Per partition leader (-1: this broker), the member's share session there. */
    private final Map<Integer, Leader> leaders = new HashMap<>();
    private long recordCredit;
    private long byteCredit;
    private boolean byteLimited;
    private boolean closed;

    /** One share session at one leader. */
    private static final class Leader {
        final int node;
        /** The epoch of the next request (0 opens a session). */
        int epoch;
        final Set<Integer> inSession = new TreeSet<>();
        boolean inFlight;
        long timer = -1;
        final ArrayDeque<AckPart> acks = new ArrayDeque<>();

        Leader(int node) {
            this.node = node;
        }
    }

    /** The part of an {@code ack} frame for one leader. */
    private record AckPart(AckFrame frame, Map<Integer, List<AckBatch>> batches) {
    }

    /**
     * An {@code ack} frame: answered ({@code acked}) once every leader it names answered. A silent one is the
     * subscription's own (the GAP acknowledgements of offsets acquired without a record): nobody is answered.
     */
    private final class AckFrame {
        final Object requestId;
        final boolean silent;
        int waiting;
        final Map<Integer, Errors> results = new TreeMap<>();
        /** Per partition, the offsets a leader refused one by one (INVALID_RECORD_STATE: not held by this member). */
        final Map<Integer, List<Long>> refused = new TreeMap<>();

        AckFrame(Object requestId, boolean silent) {
            this.requestId = requestId;
            this.silent = silent;
        }

        void answer(Set<Integer> partitions, Map<Integer, Errors> errors, Errors fallback) {
            for (int p : partitions) results.merge(p, errors.getOrDefault(p, fallback), (was, now) -> was != Errors.NONE ? was : now);
            if (--waiting > 0) return;
            if (silent) {
                results.forEach((p, e) -> {
                    if (e != Errors.NONE) LOG.debug("WebSocket share member {}: GAP acknowledgements of partition {} failed: {}", memberId, p, e);
                });
                return;
            }
            JsonArray out = new JsonArray();
            results.forEach((p, e) -> {
                JsonObject r = new JsonObject().put("partition", p);
                if (e != Errors.NONE) r.put("error", e.name()).put("message", e.message());
                if (refused.containsKey(p)) r.put("offsets", new JsonArray(refused.get(p)));
                out.add(r);
            });
            session.send(new JsonObject().put("type", "acked").put("id", requestId).put("subscription", id).put("partitions", out));
        }
    }

    private WsShareSubscription(WsSession session, String id, Object requestId, String topic, Uuid topicId, String group, boolean base64) {
        this.session = session;
        this.id = id;
        this.requestId = requestId;
        this.topic = topic;
        this.topicId = topicId;
        this.group = group;
        this.base64 = base64;
        this.calls = new ShareCalls(session.services());
    }

    /** Validates a subscribe frame with {@code share}; throws {@link ApiError} naming what is wrong. */
    static WsShareSubscription create(WsSession session, String id, JsonObject frame, Object requestId) {
        if (!(frame.getValue("topic") instanceof String topic)) throw ApiError.badRequest("\"topic\" (a string) is required");
        if (!(frame.getValue("share") instanceof String group) || group.isEmpty()) throw ApiError.badRequest("\"share\" must be a non-empty string (the share group)");
        for (String other : List.of("group", "partitions", "from", "isolation")) {
            if (frame.getValue(other) != null) {
                throw ApiError.badRequest("A share subscription takes no \"" + other + "\": its group assigns partitions, starts them at the group's "
                        + "start offsets (share.auto.offset.reset) and reads committed records (share.isolation.level)");
            }
        }
        if (session.services().shares() == null) throw new ApiError(503, Errors.COORDINATOR_NOT_AVAILABLE.name(), "Share groups are not served here");
        LocalTopic t = session.services().topics().topic(topic).orElseThrow(() -> ApiError.unknownTopic(topic));
        WsShareSubscription s = new WsShareSubscription(session, id, requestId, topic, t.topicId(), group,
                RecordJson.encoding(frame.getValue("encoding"), "encoding", false));
        if (frame.getValue("credit") != null) {
            if (!(frame.getValue("credit") instanceof JsonObject c)) throw ApiError.badRequest("\"credit\" must be {\"records\": n, \"bytes\": n}");
            s.grantQuietly(RecordJson.nonNegative(c, "records"), RecordJson.nonNegative(c, "bytes"));
        }
        return s;
    }

    @Override
    public String id() {
        return id;
    }

    /** Joins the group; the {@code subscribed} frame follows the first heartbeat's answer. */
    @Override
    public Future<Void> start() {
        heartbeat();
        return Future.succeededFuture();
    }

    // ---- membership ----

    private void heartbeat() {
        heartbeatTimer = -1;
        if (closed) return;
        ShareGroupHeartbeatRequestData req = new ShareGroupHeartbeatRequestData().setGroupId(group).setMemberId(memberId).setMemberEpoch(memberEpoch)
                .setSubscribedTopicNames(memberEpoch == 0 ? List.of(topic) : null);
        calls.heartbeat(req).onComplete(ar -> {
            if (closed) return;
            if (ar.failed()) {
                LOG.debug("Share heartbeat of WebSocket member {} failed", memberId, ar.cause());
                scheduleHeartbeat(Limits.WS_GROUP_HEARTBEAT_RETRY_MS);
                return;
            }
            onHeartbeat(ar.result());
        });
    }

    private void onHeartbeat(ShareGroupHeartbeatResponseData r) {
        Errors error = Errors.forCode(r.errorCode());
        if (error == Errors.UNKNOWN_MEMBER_ID || error == Errors.FENCED_MEMBER_EPOCH) {
            assign(Set.of()); // the membership is gone: join again
            memberEpoch = 0;
            scheduleHeartbeat(0);
            return;
        }
        if (error != Errors.NONE) {
            if (error.exception() instanceof RetriableException) scheduleHeartbeat(Limits.WS_GROUP_HEARTBEAT_RETRY_MS);
            else end(error.name(), r.errorMessage() == null ? error.message() : r.errorMessage());
            return;
        }
        memberEpoch = r.memberEpoch();
        if (!announced) {
            announced = true;
            session.send(new JsonObject().put("type", "subscribed").put("id", requestId).put("subscription", id).put("topic", topic)
                    .put("share", group).put("memberId", memberId).put("partitions", new JsonArray()));
        }
        if (r.assignment() != null) {
            Set<Integer> mine = new TreeSet<>();
            for (var tp : r.assignment().topicPartitions()) if (tp.topicId().equals(topicId)) mine.addAll(tp.partitions());
            assign(mine);
        }
        scheduleHeartbeat(Math.max(Limits.WS_GROUP_HEARTBEAT_MIN_INTERVAL_MS, r.heartbeatIntervalMs()));
    }

    private void scheduleHeartbeat(long delayMs) {
        if (closed) return;
        if (delayMs <= 0) heartbeat();
        else heartbeatTimer = session.services().vertx().setTimer(delayMs, x -> heartbeat());
    }

    /** Takes the partitions the group assigns now and tells the client what changed. */
    private void assign(Set<Integer> now) {
        if (now.equals(assigned)) return;
        Set<Integer> added = new TreeSet<>(now);
        added.removeAll(assigned);
        Set<Integer> revoked = new TreeSet<>(assigned);
        revoked.removeAll(now);
        assigned = Set.copyOf(now);
        JsonArray parts = new JsonArray();
        added.forEach(p -> parts.add(new JsonObject().put("partition", p)));
        session.send(new JsonObject().put("type", "assigned").put("subscription", id).put("partitions", parts)
                .put("revoked", new JsonArray(new ArrayList<>(revoked))));
        pump();
    }

    // ---- credit ----

    @Override
    public void grant(long records, long bytes) {
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

    private boolean hasCredit() {
        return recordCredit > 0 && (!byteLimited || byteCredit > 0);
    }

    // ---- fetching and acknowledging at the leaders ----

    /** The leader of {@code p}: -1 for this broker, a node id, or null when it has none now. */
    private static Integer leaderOf(LocalTopic t, int p, int self) {
        PartitionHandle h = t.local(p);
        if (h != null && h.isLeader()) return -1;
        int leader = t.leader(p);
        return leader < 0 || leader == self ? null : leader;
    }

    @Override
    public void pump() {
        if (closed) return;
        LocalTopic t = session.services().topics().topic(topic).orElse(null);
        if (t == null || !t.topicId().equals(topicId)) {
            end(Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Topic '" + topic + "' was deleted");
            return;
        }
        Map<Integer, List<Integer>> byLeader = new TreeMap<>();
        for (int p : assigned) {
            if (p >= t.partitions().size()) continue;
            Integer node = leaderOf(t, p, session.services().nodeId());
            if (node != null) byLeader.computeIfAbsent(node, n -> new ArrayList<>()).add(p);
        }
        Set<Integer> nodes = new TreeSet<>(byLeader.keySet());
        nodes.addAll(leaders.keySet());
        for (int node : nodes) pump(leaders.computeIfAbsent(node, Leader::new), byLeader.getOrDefault(node, List.of()));
    }

    private void pump(Leader l, List<Integer> here) {
        if (l.inFlight || l.timer >= 0) return;
        // Acknowledgements for a session that is gone: its records were released when it ended.
        if (l.epoch == 0 && !l.acks.isEmpty()) resetSession(l, Errors.SHARE_SESSION_NOT_FOUND);
        AckPart ack = l.epoch == 0 ? null : l.acks.peek(); // a request that opens a session carries no acknowledgements
        boolean fetch = hasCredit() && !here.isEmpty() && session.writable(this::pump);
        if (!fetch && ack == null) return;
        l.inFlight = true;
        int epoch = l.epoch;
        Map<Integer, List<AckBatch>> batches = ack == null ? Map.of() : ack.batches();
        Future<ShareCalls.Answer> call;
        List<Integer> added = new ArrayList<>();
        List<Integer> forgotten = new ArrayList<>();
        if (fetch) {
            for (int p : here) if (!l.inSession.contains(p)) added.add(p);
            for (int p : l.inSession) if (!here.contains(p)) forgotten.add(p);
            int maxRecords = (int) Math.min(recordCredit, Limits.WS_SHARE_FETCH_MAX_RECORDS);
            int maxBytes = (int) Math.max(1, Math.min(Limits.WS_READ_MAX_BYTES, byteLimited ? byteCredit : Long.MAX_VALUE));
            long wait = l.node < 0 && ack == null ? Limits.WS_SHARE_FETCH_WAIT_MS : 0;
            call = calls.fetch(l.node, group, memberId, epoch, connectionId, topicId, added, forgotten, batches, maxRecords, maxBytes, wait);
        } else {
            call = calls.acknowledge(l.node, group, memberId, epoch, topicId, batches);
        }
        call.onComplete(ar -> {
            l.inFlight = false;
            if (closed) return;
            if (ack != null) l.acks.poll();
            if (ar.failed() || ar.result().error() != Errors.NONE) {
                Errors e = ar.failed() ? Errors.forException(ar.cause()) : ar.result().error();
                LOG.debug("WebSocket share member {}: {} at broker {} failed: {}", memberId, fetch ? "ShareFetch" : "ShareAcknowledge",
                        l.node < 0 ? "here" : l.node, ar.failed() ? ar.cause().toString() : e);
                if (ack != null) ack.frame().answer(batches.keySet(), Map.of(), e);
                if (!ar.failed() && !(e.exception() instanceof RetriableException) && e != Errors.SHARE_SESSION_NOT_FOUND
                        && e != Errors.INVALID_SHARE_SESSION_EPOCH && e != Errors.SHARE_SESSION_LIMIT_REACHED) {
                    end(e.name(), ar.result().message() == null ? e.message() : ar.result().message());
                    return;
                }
                // The session is lost or in doubt: open a new one (its records were released) after a pause.
                resetSession(l, e);
                later(l, Limits.FORWARD_RETRY_BACKOFF_MS);
                return;
            }
            ShareCalls.Answer a = ar.result();
            l.epoch = SharePartitionManager.nextEpoch(epoch);
            l.inSession.addAll(added);
            forgotten.forEach(l.inSession::remove);
            if (ack != null) answerOrSplit(l, ack, a.ackErrors());
            boolean got = false;
            boolean moved = false;
            for (ShareCalls.Part part : a.parts()) {
                if (part.error() != Errors.NONE) {
                    moved = true; // a leader moving, or a partition gone: the next pump asks the metadata again
                    LOG.debug("WebSocket share member {}: partition {} at broker {}: {}", memberId, part.partition(), l.node, part.error());
                    continue;
                }
                got |= deliver(l, part);
            }
            if (moved) later(l, Limits.WS_IDLE_RETRY_MS);
            else if (fetch && !got && l.node >= 0 && ack == null) later(l, Limits.WS_SHARE_REMOTE_POLL_MS);
            pump();
        });
    }

    /**
     * Answers a leader's results for {@code ack}. A leader applies a partition's acknowledgements together or not at
     * all (Kafka's rule), so one record that is not held (its lock ran out, another member has it) would fail the
     * others of the frame and send them round again although they were handled: a refused partition's
     * acknowledgements are sent again in halves until each refused record stands alone, and the frame's answer names
     * those ({@code offsets}).
     */
    private void answerOrSplit(Leader l, AckPart ack, Map<Integer, Errors> errors) {
        Set<Integer> answered = new TreeSet<>(ack.batches().keySet());
        for (Map.Entry<Integer, List<AckBatch>> e : ack.batches().entrySet()) {
            int p = e.getKey();
            if (errors.get(p) != Errors.INVALID_RECORD_STATE) continue;
            TreeMap<Long, Byte> offsets = new TreeMap<>();
            for (AckBatch b : e.getValue()) {
                for (long o = b.firstOffset(); o <= b.lastOffset(); o++) offsets.put(o, b.types()[b.types().length == 1 ? 0 : (int) (o - b.firstOffset())]);
            }
            if (offsets.size() == 1) {
                ack.frame().refused.computeIfAbsent(p, k -> new ArrayList<>()).add(offsets.firstKey());
                continue;
            }
            answered.remove(p);
            long middle = new ArrayList<>(offsets.keySet()).get(offsets.size() / 2);
            ack.frame().waiting += 2;
            l.acks.add(new AckPart(ack.frame(), Map.of(p, batches(new TreeMap<>(offsets.headMap(middle))))));
            l.acks.add(new AckPart(ack.frame(), Map.of(p, batches(new TreeMap<>(offsets.tailMap(middle))))));
        }
        Map<Integer, Errors> results = new HashMap<>(errors);
        results.keySet().retainAll(answered);
        ack.frame().answer(answered, results, Errors.NONE);
    }

    /** After {@code delayMs}, this leader's session may send again. */
    private void later(Leader l, long delayMs) {
        l.timer = session.services().vertx().setTimer(delayMs, x -> {
            l.timer = -1;
            pump();
        });
    }

    /** Starts a new session at {@code l}'s leader: acknowledgements waiting for the old one fail with {@code e}. */
    private void resetSession(Leader l, Errors e) {
        l.epoch = 0;
        l.inSession.clear();
        while (!l.acks.isEmpty()) {
            AckPart p = l.acks.poll();
            p.frame().answer(p.batches().keySet(), Map.of(), e);
        }
    }

    /**
     * Sends the acquired records of {@code part} and takes them off the credit; whether there were any. Acquired
     * offsets that hold no record the page can see (compacted away, a transaction marker) are acknowledged as GAP at
     * {@code l}'s leader with its next request, as Kafka's share consumer does: else they would stay locked, be
     * delivered again until the delivery limit and hold the group's start offset back.
     */
    private boolean deliver(Leader l, ShareCalls.Part part) {
        if (part.acquired().isEmpty()) return false;
        JsonArray out = new JsonArray();
        Set<Long> delivered = new HashSet<>();
        long bytes = 0;
        List<Acquired> ranges = part.acquired();
        int i = 0;
        for (RecordBatch batch : part.records().batches()) {
            if (batch.isControlBatch()) continue;
            for (Record r : batch) {
                while (i < ranges.size() && ranges.get(i).lastOffset() < r.offset()) i++;
                if (i >= ranges.size()) break;
                Acquired range = ranges.get(i);
                if (r.offset() < range.firstOffset()) continue;
                out.add(RecordJson.toJson(part.partition(), batch, r, base64).put("deliveryCount", range.deliveryCount()));
                delivered.add(r.offset());
                bytes += r.sizeInBytes();
            }
        }
        TreeMap<Long, Byte> gaps = new TreeMap<>();
        for (Acquired range : ranges) {
            for (long o = range.firstOffset(); o <= range.lastOffset(); o++) if (!delivered.contains(o)) gaps.put(o, SharePartitionState.GAP);
        }
        if (!gaps.isEmpty()) {
            AckFrame own = new AckFrame(null, true);
            own.waiting = 1;
            l.acks.add(new AckPart(own, Map.of(part.partition(), batches(gaps))));
        }
        if (out.isEmpty()) return false;
        recordCredit -= out.size();
        if (byteLimited) byteCredit -= bytes; // record_limit bounds the records; a batch may overrun the byte credit
        session.send(new JsonObject().put("type", "records").put("subscription", id).put("records", out));
        return true;
    }

    /**
     * An {@code ack} frame: {@code [{"partition", "offset", "type"}]}, type {@code accept}, {@code release} or
     * {@code reject}. Each leader gets its partitions' acknowledgements with its next request; the frame is answered
     * ({@code acked}, with an error per partition that failed) once all have answered.
     */
    void acknowledge(Object records, Object requestId) {
        if (!(records instanceof JsonArray a) || a.isEmpty()) throw ApiError.badRequest("\"records\" must be a non-empty array of {\"partition\", \"offset\", \"type\"}");
        if (a.size() > Limits.WS_SHARE_ACKS_PER_FRAME) throw ApiError.badRequest("At most " + Limits.WS_SHARE_ACKS_PER_FRAME + " records per \"ack\" frame");
        Map<Integer, TreeMap<Long, Byte>> byPartition = new TreeMap<>();
        for (Object x : a) {
            if (!(x instanceof JsonObject o) || !(o.getValue("partition") instanceof Integer p) || p < 0 || !(o.getValue("offset") instanceof Number n)
                    || n.longValue() < 0 || !(o.getValue("type") instanceof String type)) {
                throw ApiError.badRequest("\"records\" must hold {\"partition\": n, \"offset\": n, \"type\": \"accept\" | \"release\" | \"reject\"}");
            }
            byte kind = switch (type) {
                case "accept" -> SharePartitionState.ACCEPT;
                case "release" -> SharePartitionState.RELEASE;
                case "reject" -> SharePartitionState.REJECT;
                default -> throw ApiError.badRequest("Acknowledgement type \"" + type + "\": accept, release or reject");
            };
            if (byPartition.computeIfAbsent(p, k -> new TreeMap<>()).put(n.longValue(), kind) != null) {
                throw ApiError.badRequest("Offset " + n + " of partition " + p + " is acknowledged twice in one frame");
            }
        }
        LocalTopic t = session.services().topics().topic(topic).orElseThrow(() -> ApiError.unknownTopic(topic));
        AckFrame frame = new AckFrame(requestId, false);
        Map<Integer, Map<Integer, List<AckBatch>>> byLeader = new TreeMap<>();
        Map<Integer, Errors> refused = new TreeMap<>();
        byPartition.forEach((p, offsets) -> {
            Integer node = p < t.partitions().size() ? leaderOf(t, p, session.services().nodeId()) : null;
            if (node == null) refused.put(p, p < t.partitions().size() ? Errors.LEADER_NOT_AVAILABLE : Errors.UNKNOWN_TOPIC_OR_PARTITION);
            else byLeader.computeIfAbsent(node, k -> new TreeMap<>()).put(p, batches(offsets));
        });
        for (int node : byLeader.keySet()) {
            if (leaders.computeIfAbsent(node, Leader::new).acks.size() >= Limits.WS_SHARE_ACK_FRAMES_QUEUED) {
                throw new ApiError(429, "TOO_MANY_REQUESTS", "Too many \"ack\" frames wait for one broker; wait for their \"acked\" answers");
            }
        }
        frame.waiting = byLeader.size() + (refused.isEmpty() ? 0 : 1);
        byLeader.forEach((node, batches) -> leaders.get(node).acks.add(new AckPart(frame, batches)));
        if (!refused.isEmpty()) frame.answer(refused.keySet(), refused, Errors.NONE);
        pump();
    }

    /** Offsets in order as acknowledgement batches: consecutive offsets of one type go together. */
    private static List<AckBatch> batches(TreeMap<Long, Byte> offsets) {
        List<AckBatch> out = new ArrayList<>();
        long first = -1;
        long last = -1;
        byte type = -1;
        for (Map.Entry<Long, Byte> e : offsets.entrySet()) {
            if (first >= 0 && e.getKey() == last + 1 && e.getValue() == type) {
                last = e.getKey();
                continue;
            }
            if (first >= 0) out.add(new AckBatch(first, last, new byte[] {type}));
            first = e.getKey();
            last = first;
            type = e.getValue();
        }
        if (first >= 0) out.add(new AckBatch(first, last, new byte[] {type}));
        return out;
    }

    // ---- the end ----

    /** Ends the subscription with an error frame (the answer to the subscribe request when it never joined). */
    private void end(String code, String message) {
        session.subscriptionEnded(this, announced ? null : requestId, code, message);
    }

    /** Leaves the group and ends the sessions: what the page held and did not acknowledge is delivered again. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (heartbeatTimer >= 0) session.services().vertx().cancelTimer(heartbeatTimer);
        for (Leader l : leaders.values()) {
            if (l.timer >= 0) session.services().vertx().cancelTimer(l.timer);
            if (l.epoch > 0 || l.inFlight) {
                calls.fetch(l.node, group, memberId, SharePartitionManager.FINAL_EPOCH, connectionId, topicId, List.of(), List.of(), Map.of(), 0, 1, 0);
            }
        }
        if (memberEpoch > 0) calls.heartbeat(new ShareGroupHeartbeatRequestData().setGroupId(group).setMemberId(memberId).setMemberEpoch(LEAVE_EPOCH));
        leaders.clear();
    }
}
