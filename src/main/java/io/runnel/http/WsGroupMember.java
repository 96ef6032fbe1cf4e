package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.group.CommittedOffset;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WebSocket subscription's membership of a KIP-848 consumer group, driven by the broker itself as a Kafka 4
 * consumer drives its own: it heartbeats to the group coordinator (ConsumerGroupHeartbeat), starts assigned
 * partitions at the group's committed offsets (else where the subscription's {@code from} says), gives revoked
 * partitions up before reporting them gone, commits on request, and leaves the group when the subscription or the
 * socket ends. What to read is the {@link WsSubscription}'s job; this class only tells it which partitions it owns.
 * Runs on the socket's event loop.
 */
final class WsGroupMember {
    private static final Logger LOG = LoggerFactory.getLogger(WsGroupMember.class);
    private static final String CLIENT_ID = "runnel-websocket";
    private static final String CLIENT_HOST = "websocket";
    /** KIP-848's leave epochs. */
    private static final int LEAVE_EPOCH = -1;

    private final WsSession session;
    private final WsSubscription subscription;
    private final String group;
    private final String topic;
    /** Where partitions without a committed offset start: "earliest" or "latest". */
    private final Object from;
    /** KIP-1082: the member makes its own id. */
    private final String memberId = Uuid.randomUuid().toString();
    /** The group's coordinator, here or at another broker. */
    private final GroupCalls calls;
    /** Partitions the group assigned whose committed offsets are being looked up (owned, not read yet). */
    private final Set<Integer> joining = new TreeSet<>();
    private int memberEpoch;
    private long heartbeatTimer = -1;
    private boolean announced;
    private boolean closed;

    WsGroupMember(WsSession session, WsSubscription subscription, String group, String topic, Object from) {
        this.session = session;
        this.subscription = subscription;
        this.group = group;
        this.topic = topic;
        this.from = from;
        this.calls = new GroupCalls(session.services());
    }

    /** Joins the group (the first heartbeat). */
    void start() {
        heartbeat();
    }

    /**
     * Commits {@code offsets} ({@code [{partition, offset, metadata?}]}), or the positions of every partition read
     * when null, as this member of the group; answers the frame {@code requestId} with {@code committed} or an error.
     */
    void commit(Object offsets, Object requestId) {
        if (memberEpoch <= 0) throw new ApiError(409, Errors.REBALANCE_IN_PROGRESS.name(), "The subscription has not joined its group yet");
        Map<Integer, Long> positions = subscription.positions();
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
        calls.commit(group, memberEpoch, memberId, commits).onComplete(ar -> {
            if (ar.failed()) {
                ApiError e = ApiError.of(ar.cause());
                session.error(requestId, e.code(), e.getMessage());
            } else if (ar.result() != Errors.NONE) {
                session.error(requestId, ar.result().name(), "The commit was refused: " + ar.result().message());
            } else {
                session.send(new JsonObject().put("type", "committed").put("id", requestId).put("subscription", subscription.id())
                        .put("offsets", committed));
            }
        });
    }

    /** Leaves the group (the group rebalances at once) and stops heartbeating. */
    void close() {
        if (closed) return;
        closed = true;
        if (heartbeatTimer >= 0) session.services().vertx().cancelTimer(heartbeatTimer);
        if (memberEpoch > 0) {
            calls.heartbeat(new ConsumerGroupHeartbeatRequestData().setGroupId(group).setMemberId(memberId)
                    .setMemberEpoch(LEAVE_EPOCH), CLIENT_ID, CLIENT_HOST);
        }
    }

    private void heartbeat() {
        heartbeatTimer = -1;
        if (closed) return;
        LocalTopic t = subscription.topicInfo();
        if (t == null) {
            subscription.end(Errors.UNKNOWN_TOPIC_OR_PARTITION.name(), "Topic '" + topic + "' was deleted");
            return;
        }
        ConsumerGroupHeartbeatRequestData req = new ConsumerGroupHeartbeatRequestData().setGroupId(group).setMemberId(memberId)
                .setMemberEpoch(memberEpoch).setRebalanceTimeoutMs(memberEpoch == 0 ? (int) Limits.WS_GROUP_REBALANCE_TIMEOUT_MS : -1)
                .setSubscribedTopicNames(memberEpoch == 0 ? List.of(topic) : null)
                .setTopicPartitions(List.of(new ConsumerGroupHeartbeatRequestData.TopicPartitions().setTopicId(t.topicId())
                        .setPartitions(new ArrayList<>(owned()))));
        calls.heartbeat(req, CLIENT_ID, CLIENT_HOST).onComplete(ar -> {
            if (closed) return;
            if (ar.failed()) {
                LOG.debug("Heartbeat of WebSocket member {} failed", memberId, ar.cause());
                scheduleHeartbeat(Limits.WS_GROUP_HEARTBEAT_RETRY_MS);
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
                scheduleHeartbeat(Limits.WS_GROUP_HEARTBEAT_RETRY_MS);
            } else {
                subscription.end(error.name(), r.errorMessage() == null ? error.message() : r.errorMessage());
            }
            return;
        }
        memberEpoch = r.memberEpoch();
        if (!announced) {
            announced = true;
            subscription.joined(group, memberId);
        }
        if (r.assignment() != null) {
            Set<Integer> assigned = new TreeSet<>();
            for (var tp : r.assignment().topicPartitions()) if (tp.topicId().equals(topicId)) assigned.addAll(tp.partitions());
            assign(assigned);
        }
        scheduleHeartbeat(Math.max(Limits.WS_GROUP_HEARTBEAT_MIN_INTERVAL_MS, r.heartbeatIntervalMs()));
    }

    private void scheduleHeartbeat(long delayMs) {
        if (closed) return;
        if (delayMs <= 0) {
            heartbeat();
            return;
        }
        heartbeatTimer = session.services().vertx().setTimer(delayMs, x -> heartbeat());
    }

    /** The partitions this member owns: those read and those whose start is being looked up. */
    private Set<Integer> owned() {
        Set<Integer> owned = new TreeSet<>(subscription.positions().keySet());
        owned.addAll(joining);
        return owned;
    }

    /**
     * Looks up where {@code added} start (the committed offsets, at the coordinator; the log's ends, at the leaders)
     * and starts reading them; tells the client what it gained (and lost: {@code revoked}). A partition whose start
     * cannot be looked up now (its leader or the coordinator moving) stays owned and is looked up again shortly.
     */
    private void start(Set<Integer> added, Set<Integer> revoked) {
        calls.fetchOffsets(group, topic).compose(committed -> {
            Map<Integer, Future<Long>> starts = new TreeMap<>();
            for (int p : added) starts.put(p, subscription.groupStart(p, committed.get(new TopicPartition(topic, p)), from));
            return Future.join(new ArrayList<>(starts.values())).transform(x -> {
                Map<Integer, Long> out = new TreeMap<>();
                starts.forEach((p, f) -> {
                    if (f.succeeded()) out.put(p, f.result());
                });
                return Future.succeededFuture(out);
            });
        }).onComplete(ar -> {
            if (closed) return;
            Set<Integer> started = new TreeSet<>();
            if (ar.succeeded()) {
                ar.result().forEach((p, offset) -> {
                    if (!joining.remove(p)) return; // revoked meanwhile
                    subscription.startReading(p, offset);
                    started.add(p);
                });
            }
            if (!started.isEmpty() || !revoked.isEmpty()) subscription.assigned(started, revoked);
            Set<Integer> again = new TreeSet<>(added);
            again.retainAll(joining);
            if (!again.isEmpty()) {
                LOG.debug("WebSocket member {}: no start offset yet for partitions {} of {}; asking again", memberId, again, topic);
                session.services().vertx().setTimer(Limits.FORWARD_RETRY_BACKOFF_MS, x -> {
                    Set<Integer> still = new TreeSet<>(again);
                    still.retainAll(joining);
                    if (!closed && !still.isEmpty()) start(still, Set.of());
                });
            }
        });
    }

    /** Takes the partitions the group assigns now: stops reading revoked ones, starts new ones at the committed offsets. */
    private void assign(Set<Integer> assigned) {
        Set<Integer> revoked = owned();
        revoked.removeAll(assigned);
        Set<Integer> added = new TreeSet<>(assigned);
        added.removeAll(owned());
        if (revoked.isEmpty() && added.isEmpty()) return;
        joining.removeAll(revoked);
        joining.addAll(added);
        subscription.stopReading(revoked);
        if (added.isEmpty()) {
            subscription.assigned(added, revoked);
            return;
        }
        start(added, revoked);
    }
}
