package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.group.CommittedOffset;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.cluster.BrokerLinks;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.ThrottlingQuotaExceededException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One subscription of a WebSocket, as a credit pump: a topic's partitions (all, chosen ones, or those a consumer
 * group assigns), a position per partition, and the credit the client granted. It reads only while it has credit
 * and the socket can take a frame; with nothing to read it parks on the partitions (their high-watermark waits) until
 * an append wakes it. Memory held: at most one read of {@link Limits#WS_READ_MAX_BYTES} at a time, whatever the topic
 * holds. A group subscription's partitions come from its {@link WsGroupMember}, which drives the group membership.
 */
final class WsSubscription implements WsStream {
    private static final Logger LOG = LoggerFactory.getLogger(WsSubscription.class);

    private final WsSession session;
    private final String id;
    private final Object requestId;
    private final String topic;
    private final boolean base64;
    /** read_committed: records below the last stable offset only, none of an aborted transaction. */
    private final boolean committed;
    private final Object from;
    private final List<Integer> chosen;
    /** The group membership, for a group subscription; else null. */
    private final WsGroupMember member;
    /** Next offset to send, by partition: the partitions this subscription reads now. */
    private final Map<Integer, Long> positions = new TreeMap<>();
    /** Partitions led elsewhere whose last read at their position found nothing: read again once parked reads say so. */
    private final Set<Integer> remoteIdle = new HashSet<>();
    /** Partitions led elsewhere with a waiting read at their leader. */
    private final Set<Integer> remoteWaiting = new HashSet<>();
    /** Partitions led elsewhere left alone for a moment after a failed read (a leader moving). */
    private final Set<Integer> backingOff = new HashSet<>();
    private long recordCredit;
    private long byteCredit;
    private boolean byteLimited;
    private boolean reading;
    private Promise<Void> parked;
    private int turn;
    private boolean closed;

    private WsSubscription(WsSession session, String id, Object requestId, String topic, boolean base64, boolean committed, Object from,
                           List<Integer> chosen, String group) {
        this.session = session;
        this.id = id;
        this.requestId = requestId;
        this.topic = topic;
        this.base64 = base64;
        this.committed = committed;
        this.from = from;
        this.chosen = chosen;
        this.member = group == null ? null : new WsGroupMember(session, this, group, topic, from);
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
                && !(from instanceof JsonObject o && o.size() == 1 && (o.getValue("offset") instanceof Number || o.getValue("timestamp") instanceof Number
                        || o.getValue("offsets") instanceof JsonObject))) {
            throw ApiError.badRequest("\"from\" must be \"earliest\", \"latest\", {\"offset\": n}, {\"timestamp\": ms} or {\"offsets\": {\"<partition>\": n, ...}}");
        }
        List<Integer> chosen = null;
        if (from instanceof JsonObject o && o.getValue("offsets") instanceof JsonObject offsets) {
            // Positions per partition (a client resuming where it was, on this broker or another): the partitions read.
            if (frame.getValue("partitions") != null) throw ApiError.badRequest("With \"from\": {\"offsets\"}, the partitions are its keys; leave \"partitions\" out");
            if (offsets.isEmpty()) throw ApiError.badRequest("\"offsets\" must name at least one partition");
            chosen = new ArrayList<>();
            for (var e : offsets) {
                int n;
                try {
                    n = Integer.parseInt(e.getKey());
                } catch (NumberFormatException x) {
                    throw ApiError.badRequest("\"offsets\" keys must be partition numbers, not '" + e.getKey() + "'");
                }
                if (n < 0 || !(e.getValue() instanceof Number off) || off.longValue() < 0) {
                    throw ApiError.badRequest("\"offsets\" must map partition numbers to non-negative offsets");
                }
                checkServed(session, t, n);
                chosen.add(n);
            }
        }
        if (frame.getValue("partitions") != null) {
            if (group != null) throw ApiError.badRequest("A group subscription gets its partitions from the group; leave \"partitions\" out");
            if (!(frame.getValue("partitions") instanceof JsonArray a) || a.isEmpty()) {
                throw ApiError.badRequest("\"partitions\" must be a non-empty array of partition numbers");
            }
            chosen = new ArrayList<>();
            for (Object p : a) {
                if (!(p instanceof Integer n) || n < 0) throw ApiError.badRequest("\"partitions\" must hold non-negative integers");
                checkServed(session, t, n);
                if (!chosen.contains(n)) chosen.add(n);
            }
        }
        boolean base64 = RecordJson.encoding(frame.getValue("encoding"), "encoding", false);
        boolean committed = RecordJson.readCommitted(frame.getValue("isolation"));
        WsSubscription s = new WsSubscription(session, id, requestId, topic, base64, committed, from, chosen, (String) group);
        if (frame.getValue("credit") != null) {
            if (!(frame.getValue("credit") instanceof JsonObject c)) throw ApiError.badRequest("\"credit\" must be {\"records\": n, \"bytes\": n}");
            s.grantQuietly(RecordJson.nonNegative(c, "records"), RecordJson.nonNegative(c, "bytes"));
        }
        return s;
    }

    /**
     * Partition {@code n} of {@code t} exists and this broker can serve it: it leads it, or, in a cluster, reads it at
     * its leader. Throws {@link ApiError} otherwise.
     */
    private static void checkServed(WsSession session, LocalTopic t, int n) {
        if (n >= t.partitions().size()) throw ApiError.unknownPartition(t.name(), n);
        PartitionHandle h = t.local(n);
        if (session.services().links() == null && (h == null || !h.isLeader())) throw ApiError.notHere(t.name(), n, t.leader(n));
    }

    @Override
    public String id() {
        return id;
    }

    /** Resolves the start positions (or joins the group) and starts sending; fails for a bad offset. */
    @Override
    public Future<Void> start() {
        if (member != null) {
            member.start();
            return Future.succeededFuture();
        }
        LocalTopic t = topicInfo();
        // All partitions, wherever they are led in a cluster (a single broker leads all those it serves).
        boolean anywhere = session.services().links() != null;
        List<Integer> parts = chosen != null ? chosen : IntStream.range(0, t.partitions().size())
                .filter(p -> anywhere || t.local(p) != null && t.local(p).isLeader()).boxed().toList();
        List<Future<Long>> starts = new ArrayList<>();
        long deadline = System.nanoTime() + Limits.FORWARD_START_TIMEOUT_MS * 1_000_000L;
        for (int p : parts) starts.add(startOffset(p, deadline));
        return Future.all(starts).map(all -> {
            for (int i = 0; i < parts.size(); i++) positions.put(parts.get(i), starts.get(i).result());
            session.send(new JsonObject().put("type", "subscribed").put("id", requestId).put("subscription", id).put("topic", topic)
                    .put("partitions", positionsJson(positions.keySet())));
            pump();
            return null;
        });
    }

    /** Whether this subscription reads committed records only (read_committed). */
    boolean readCommitted() {
        return committed;
    }

    LocalTopic topicInfo() {
        return session.services().topics().topic(topic).orElse(null);
    }

    /**
     * {@link #startOffset(LocalTopic, int)}, asked again after {@link Limits#FORWARD_RETRY_BACKOFF_MS} while the
     * partition's leader cannot answer (it is moving, or just died and the metadata does not say so yet), until
     * {@code deadline} ({@link System#nanoTime}).
     */
    private Future<Long> startOffset(int p, long deadline) {
        LocalTopic t = topicInfo();
        if (t == null) return Future.failedFuture(ApiError.unknownTopic(topic));
        return startOffset(t, p).recover(e -> {
            if (closed || !leaderMayMove(e) || System.nanoTime() > deadline) return Future.failedFuture(e);
            Promise<Long> later = Promise.promise();
            session.services().vertx().setTimer(Limits.FORWARD_RETRY_BACKOFF_MS, x -> startOffset(p, deadline).onComplete(later));
            return later.future();
        });
    }

    /**
     * Whether a call at a partition's leader failed because the leader is changing or cannot be reached (Kafka's
     * retriable errors, a broker not available, the connection's own failures, no leader at the moment), so that
     * asking again where the metadata then says may succeed; a Kafka error that is final, or a bad request, is not.
     */
    private static boolean leaderMayMove(Throwable e) {
        if (e instanceof ApiError a) return a.status() == 421;
        return !(e instanceof ApiException) || e instanceof RetriableException || e instanceof BrokerNotAvailableException
                || e instanceof ThrottlingQuotaExceededException;
    }

    /** This subscription's {@code from} for partition {@code p}: its own offset when {@code from} gives one per partition. */
    private Object fromFor(int p) {
        if (from instanceof JsonObject o && o.getValue("offsets") instanceof JsonObject offsets) {
            return new JsonObject().put("offset", offsets.getLong(Integer.toString(p)));
        }
        return from;
    }

    /** Where partition {@code p} starts for this subscription's {@code from}: here, or asked of its leader. */
    private Future<Long> startOffset(LocalTopic t, int p) {
        Object from = fromFor(p);
        PartitionHandle h = t.local(p);
        if (h != null && h.isLeader()) return startOffset(h, from, committed);
        int leader = t.leader(p);
        BrokerLinks links = session.services().links();
        if (links == null || leader < 0) return Future.failedFuture(ApiError.notHere(topic, p, leader));
        TopicPartition tp = new TopicPartition(topic, p);
        if ("earliest".equals(from)) return links.listOffset(leader, tp, ListOffsetsRequest.EARLIEST_TIMESTAMP, committed);
        if ("latest".equals(from)) return links.listOffset(leader, tp, ListOffsetsRequest.LATEST_TIMESTAMP, committed);
        JsonObject o = (JsonObject) from;
        if (o.getValue("offset") != null) {
            long offset = o.getLong("offset");
            if (this.from instanceof JsonObject f && f.containsKey("offsets")) {
                // Resuming where the client was: a leader just elected may not have moved its high watermark up to
                // the old leader's yet (Kafka's too), so the position may be past the end it reports; it is not past
                // its log's end, and reads wait there until the high watermark passes it.
                return links.listOffset(leader, tp, ListOffsetsRequest.EARLIEST_TIMESTAMP, false).map(start -> Math.max(offset, start));
            }
            return links.listOffset(leader, tp, ListOffsetsRequest.LATEST_TIMESTAMP, false).compose(end -> {
                if (offset > end) {
                    return Future.failedFuture(new OffsetOutOfRangeException("Offset " + offset + " is past the end (" + end + ") of partition " + tp));
                }
                return links.listOffset(leader, tp, ListOffsetsRequest.EARLIEST_TIMESTAMP, false).map(start -> Math.max(offset, start));
            });
        }
        return links.listOffset(leader, tp, o.getLong("timestamp"), false)
                .compose(found -> found >= 0 ? Future.succeededFuture(found) : links.listOffset(leader, tp, ListOffsetsRequest.LATEST_TIMESTAMP, false));
    }

    /**
     * Where a group subscription starts partition {@code p}: the group's committed offset (no earlier than the log
     * start, no later than the end), else {@code from} ("earliest" or "latest"), here or asked of the partition's
     * leader.
     */
    Future<Long> groupStart(int p, CommittedOffset committedOffset, Object from) {
        LocalTopic t = topicInfo();
        if (t == null) return Future.failedFuture(ApiError.unknownTopic(topic));
        PartitionHandle h = t.local(p);
        if (h != null && h.isLeader()) {
            long start = committedOffset != null ? Math.max(committedOffset.offset(), h.logStartOffset())
                    : "earliest".equals(from) ? h.logStartOffset() : h.readableEnd(committed);
            return Future.succeededFuture(Math.min(start, h.logEndOffset()));
        }
        int leader = t.leader(p);
        BrokerLinks links = session.services().links();
        if (links == null || leader < 0) return Future.failedFuture(ApiError.notHere(topic, p, leader));
        TopicPartition tp = new TopicPartition(topic, p);
        if (committedOffset == null) {
            return links.listOffset(leader, tp, "earliest".equals(from) ? ListOffsetsRequest.EARLIEST_TIMESTAMP : ListOffsetsRequest.LATEST_TIMESTAMP, committed);
        }
        return links.listOffset(leader, tp, ListOffsetsRequest.EARLIEST_TIMESTAMP, false).compose(start -> links
                .listOffset(leader, tp, ListOffsetsRequest.LATEST_TIMESTAMP, false).map(end -> Math.min(Math.max(committedOffset.offset(), start), end)));
    }

    private static Future<Long> startOffset(PartitionHandle h, Object from, boolean committed) {
        if ("earliest".equals(from)) return Future.succeededFuture(h.logStartOffset());
        if ("latest".equals(from)) return Future.succeededFuture(h.readableEnd(committed));
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

    @Override
    public void grant(long records, long bytes) {
        grantQuietly(records, bytes);
        remoteIdle.clear(); // a record larger than the byte credit may fit now
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
    @Override
    public void pump() {
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
            if (h != null && h.isLeader()) {
                if (positions.get(p) < h.readableEnd(committed)) { // readable: below the high watermark (the last stable offset)
                    turn = (turn + k + 1) % parts.size();
                    read(p, h);
                    return;
                }
            } else if (!remoteIdle.contains(p) && !remoteWaiting.contains(p) && !backingOff.contains(p)) {
                turn = (turn + k + 1) % parts.size();
                readAtLeader(t, p);
                return;
            }
        }
        park(t);
    }

    // ---- partitions led by another broker: read there (cluster.BrokerLinks), decoded here ----

    /** The leader of {@code p} elsewhere, or -1 while it has none or this broker is about to lead it. */
    private int leaderElsewhere(LocalTopic t, int p) {
        int leader = t.leader(p);
        return leader == session.services().nodeId() ? -1 : leader;
    }

    /** Why the read of a partition at its leader failed (the call, or the leader's error for it), or null. */
    private static Throwable failureOf(io.vertx.core.AsyncResult<BrokerLinks.Fetched> ar) {
        if (ar.failed()) return ar.cause();
        return ar.result().error() != Errors.NONE ? ar.result().error().exception() : null;
    }

    /** Reads partition {@code p} at its leader now, within the credit. */
    private void readAtLeader(LocalTopic t, int p) {
        int leader = leaderElsewhere(t, p);
        BrokerLinks links = session.services().links();
        // Without a leader elsewhere (none now, or this broker about to lead it), or alone (a partition it does not
        // lead is being created or deleted): look again shortly.
        if (links == null || leader < 0) {
            backOff(p);
            return;
        }
        reading = true;
        long pos = positions.get(p);
        int maxBytes = (int) Math.max(1, Math.min(Limits.WS_READ_MAX_BYTES, byteLimited ? byteCredit : Long.MAX_VALUE));
        links.fetch(leader, new TopicPartition(topic, p), pos, maxBytes, committed).onComplete(ar -> {
            reading = false;
            if (closed) return;
            if (!positions.containsKey(p) || positions.get(p) != pos) { // revoked or moved while reading
                pump();
                return;
            }
            Throwable failure = failureOf(ar);
            if (failure != null) {
                atLeaderFailed(p, leader, failure);
                return;
            }
            PartitionReader.Chunk c = PartitionReader.decodeFetched(p, ar.result(), pos, recordCredit, byteLimited ? byteCredit : Long.MAX_VALUE,
                    base64, committed);
            if (c.records().isEmpty()) {
                if (c.nextOffset() > pos) {
                    positions.put(p, c.nextOffset()); // only control batches or compacted gaps
                } else {
                    remoteIdle.add(p); // nothing to read there (or the next record is larger than the byte credit): wait
                }
                pump();
                return;
            }
            deliver(p, c);
        });
    }

    /**
     * While parked: waits at the leader of idle partition {@code p} for records past its position (with the other
     * waiting reads of that broker, cluster.BrokerLinks#awaitRecords); when some come the subscription reads them
     * within its credit, else it waits again.
     */
    private void awaitAtLeader(LocalTopic t, int p) {
        int leader = leaderElsewhere(t, p);
        BrokerLinks links = session.services().links();
        if (links == null || leader < 0 || remoteWaiting.contains(p) || backingOff.contains(p)) return;
        long pos = positions.get(p);
        remoteWaiting.add(p);
        links.awaitRecords(leader, new TopicPartition(topic, p), pos, committed).onComplete(ar -> {
            remoteWaiting.remove(p);
            if (closed || !positions.containsKey(p) || positions.get(p) != pos) return;
            Throwable failure = failureOf(ar);
            if (failure != null) {
                atLeaderFailed(p, leader, failure);
                return;
            }
            PartitionReader.Chunk c = PartitionReader.decodeFetched(p, ar.result(), pos, 1, byteLimited ? byteCredit : Long.MAX_VALUE, base64, committed);
            if (!c.records().isEmpty() || c.nextOffset() > pos) {
                remoteIdle.remove(p); // something to read: read it within the credit
                unpark();
                pump();
            } else if (c.logEndOffset() > pos) {
                return; // a record there that is larger than the byte credit: a grant reads it
            } else if (parked != null) {
                LocalTopic now = topicInfo();
                if (now != null) awaitAtLeader(now, p);
            }
        });
    }

    /**
     * A read at the leader failed: a leader that moved, is not reachable or not ready yet is asked again after
     * {@link Limits#FORWARD_RETRY_BACKOFF_MS} wherever the metadata then says (the position is kept, so nothing is
     * skipped or sent twice); a position deleted by retention continues at the log start, as for a local partition;
     * anything else ends the subscription.
     */
    private void atLeaderFailed(int p, int leader, Throwable e) {
        if (e instanceof OffsetOutOfRangeException) {
            long pos = positions.get(p);
            session.services().links().listOffset(leader, new TopicPartition(topic, p), ListOffsetsRequest.EARLIEST_TIMESTAMP, false).onComplete(ar -> {
                if (closed || !positions.containsKey(p) || positions.get(p) != pos) return;
                if (ar.failed()) {
                    backOff(p);
                    return;
                }
                positions.put(p, ar.result());
                session.send(new JsonObject().put("type", "error").put("subscription", id).put("code", Errors.OFFSET_OUT_OF_RANGE.name())
                        .put("message", "Offset " + pos + " of partition " + p + " was deleted by retention; continuing at " + ar.result()));
                pump();
            });
            return;
        }
        // Kafka's retriable errors (a leader that moved, a broker not available) and the connection's own failures
        // (refused, reset, closed, timed out): the leader may be elsewhere now. A Kafka error that is final ends it.
        if (leaderMayMove(e)) {
            LOG.debug("Reading {}-{} at broker {} failed; trying again: {}", topic, p, leader, e.toString());
            backOff(p);
            return;
        }
        ApiError a = ApiError.of(e);
        session.subscriptionEnded(this, a.code(), a.getMessage());
    }

    /** Leaves partition {@code p} alone for {@link Limits#FORWARD_RETRY_BACKOFF_MS}, then reads it again. */
    private void backOff(int p) {
        if (!backingOff.add(p)) return;
        session.services().vertx().setTimer(Limits.FORWARD_RETRY_BACKOFF_MS, x -> {
            backingOff.remove(p);
            remoteIdle.remove(p);
            if (closed) return;
            unpark();
            pump();
        });
    }

    /** Sends chunk {@code c} of partition {@code p}, takes its records off the credit, and reads on. */
    private void deliver(int p, PartitionReader.Chunk c) {
        positions.put(p, c.nextOffset());
        recordCredit -= c.records().size();
        if (byteLimited) byteCredit -= c.bytes();
        session.send(new JsonObject().put("type", "records").put("subscription", id).put("records", c.records()));
        pump();
    }

    private void read(int p, PartitionHandle h) {
        reading = true;
        long pos = positions.get(p);
        int maxBytes = (int) Math.max(1, Math.min(Limits.WS_READ_MAX_BYTES, byteLimited ? byteCredit : Long.MAX_VALUE));
        PartitionReader.read(h, pos, maxBytes, recordCredit, byteLimited ? byteCredit : Long.MAX_VALUE, base64, committed, session.services().metrics())
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
                    deliver(p, c);
                });
    }

    private void park(LocalTopic t) {
        Promise<Void> giveUp = Promise.promise();
        parked = giveUp;
        for (Map.Entry<Integer, Long> e : positions.entrySet()) {
            PartitionHandle h = t.local(e.getKey());
            if (h != null && h.isLeader()) {
                h.awaitReadable(e.getValue(), committed, giveUp.future()).onComplete(x -> wake(giveUp));
            } else {
                awaitAtLeader(t, e.getKey());
            }
        }
    }

    private void wake(Promise<Void> which) {
        if (parked != which) return;
        parked = null;
        which.tryComplete();
        if (closed) return;
        LocalTopic t = topicInfo();
        boolean data = t != null && positions.entrySet().stream().anyMatch(e -> t.local(e.getKey()) != null && t.local(e.getKey()).isLeader()
                && e.getValue() < t.local(e.getKey()).readableEnd(committed));
        if (data || t == null) {
            pump();
        } else {
            session.services().vertx().setTimer(Limits.WS_IDLE_RETRY_MS, x -> pump());
        }
    }

    private void unpark() {
        Promise<Void> p = parked;
        parked = null;
        if (p != null) p.tryComplete();
    }

    // ---- group subscriptions: the partitions the member owns ----

    void commit(Object offsets, Object requestId) {
        if (member == null) throw ApiError.badRequest("Only a group subscription commits offsets (subscribe with \"group\")");
        member.commit(offsets, requestId);
    }

    /** The position of each partition read now. */
    Map<Integer, Long> positions() {
        return new TreeMap<>(positions);
    }

    /** The member joined its group: the client is told its member id. */
    void joined(String group, String memberId) {
        session.send(new JsonObject().put("type", "subscribed").put("id", requestId).put("subscription", id).put("topic", topic)
                .put("group", group).put("memberId", memberId).put("partitions", new JsonArray()));
    }

    /** Stops reading {@code revoked} partitions (before the member reports them given up). */
    void stopReading(Set<Integer> revoked) {
        revoked.forEach(positions::remove);
        unpark();
    }

    /** Starts reading partition {@code p} at {@code offset}. */
    void startReading(int p, long offset) {
        positions.put(p, offset);
    }

    /** Tells the client which partitions it gained (with their positions) and lost, and reads on. */
    void assigned(Set<Integer> added, Set<Integer> revoked) {
        session.send(new JsonObject().put("type", "assigned").put("subscription", id).put("partitions", positionsJson(added))
                .put("revoked", new JsonArray(new ArrayList<>(revoked))));
        unpark(); // parked on the partitions held before: look at the new ones too
        pump();
    }

    /** Ends the subscription with an error frame. */
    void end(String code, String message) {
        session.subscriptionEnded(this, code, message);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        unpark();
        if (member != null) member.close();
    }
}
