package io.runnel.group;

import io.runnel.group.ConsumerGroup.Member;
import io.runnel.group.ConsumerGroup.TopicIdPartition;
import io.runnel.group.ConsumerGroup.TopicMeta;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.ConsumerGroupDescribeResponseData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer protocol (KIP-848) part of a {@link GroupShard}: ConsumerGroupHeartbeat and ConsumerGroupDescribe for
 * the shard's consumer-protocol groups. Runs on the shard's event loop. Every change of a group's epochs or of a
 * member (join, epoch, subscription, assignment, departure) is written to {@code __consumer_offsets} before the
 * heartbeat is answered, and replayed at start ({@link #restore}, {@link #afterLoad}), so groups and their members
 * survive a broker restart; members that do not come back expire after their session timeout.
 */
final class ConsumerProtocolShard {
    private static final Logger LOG = LoggerFactory.getLogger(ConsumerProtocolShard.class);
    /** Member epoch a member sends to leave; -2 for a static member that will come back (KIP-848). */
    private static final int LEAVE_EPOCH = -1;
    private static final int LEAVE_STATIC_EPOCH = -2;

    private final Vertx vertx;
    private final GroupSettings settings;
    private final TopicLookup topics;
    private final Map<String, ConsumerGroup> groups = new HashMap<>();

    private final Function<List<OffsetRecords.KeyValue>, Future<Void>> append;
    /** A group's configuration overrides (IncrementalAlterConfigs on its GROUP resource). */
    private final Function<String, Map<String, String>> configOf;

    ConsumerProtocolShard(Vertx vertx, GroupSettings settings, TopicLookup topics,
                          Function<List<OffsetRecords.KeyValue>, Future<Void>> append, Function<String, Map<String, String>> configOf) {
        this.configOf = configOf;
        this.vertx = vertx;
        this.settings = settings;
        this.topics = topics;
        this.append = append;
    }

    /** Applies one stored record while the shard loads. */
    void restore(OffsetRecords.Entry e) {
        if (e.type() == OffsetRecords.CONSUMER_GROUP) {
            if (e.tombstone()) groups.remove(e.group());
            else OffsetRecords.readConsumerGroup(e.rawValue(), groups.computeIfAbsent(e.group(), ConsumerGroup::new));
        } else if (e.type() == OffsetRecords.CONSUMER_MEMBER) {
            ConsumerGroup g = groups.computeIfAbsent(e.group(), ConsumerGroup::new);
            if (e.tombstone()) {
                g.members.remove(e.memberId());
            } else {
                Member m = new Member(e.memberId());
                OffsetRecords.readMember(e.rawValue(), m);
                g.members.put(m.memberId, m);
            }
        }
    }

    /** After loading: recompute targets and give every restored member a session to come back in. */
    void afterLoad() {
        for (ConsumerGroup g : groups.values()) {
            g.computeTarget(subscribedTopics(g));
            for (Member m : g.members.values()) resetSession(g, m);
        }
    }

    private static List<OffsetRecords.KeyValue> records(ConsumerGroup g, Member m, boolean removed) {
        return List.of(new OffsetRecords.KeyValue(OffsetRecords.consumerGroupKey(g.groupId), OffsetRecords.consumerGroupValue(g)),
                new OffsetRecords.KeyValue(OffsetRecords.memberKey(g.groupId, m.memberId), removed ? null : OffsetRecords.memberValue(m)));
    }

    /** Handles a heartbeat and answers once what changed is stored. */
    Future<ConsumerGroupHeartbeatResponseData> heartbeatStored(ConsumerGroupHeartbeatRequestData req, String clientId,
                                                                        String clientHost, boolean classicGroupExists) {
        ConsumerGroup before = groups.get(req.groupId());
        Member prior = before == null ? null : before.members.get(req.memberId());
        Fingerprint fingerprint = prior == null ? null : fingerprint(before, prior);
        ConsumerGroupHeartbeatResponseData r = heartbeat(req, clientId, clientHost, classicGroupExists);
        if (r.errorCode() != Errors.NONE.code()) return Future.succeededFuture(r);
        ConsumerGroup g = groups.get(req.groupId());
        Member m = g == null ? null : g.members.get(r.memberId());
        if (m == null) {
            if (prior == null || g == null) return Future.succeededFuture(r);
            return append.apply(records(g, prior, true)).map(v -> r); // the member left
        }
        if (m == prior && fingerprint(g, m).equals(fingerprint)) return Future.succeededFuture(r);
        return append.apply(records(g, m, false)).map(v -> r);
    }

    /** What the stored records of a group and member say: a heartbeat that changes none of it writes nothing. */
    private record Fingerprint(int groupEpoch, int assignmentEpoch, int memberEpoch, int revocationEpoch, List<String> subscribed,
                               Set<TopicIdPartition> assigned, Set<TopicIdPartition> pending) {
    }

    private static Fingerprint fingerprint(ConsumerGroup g, Member m) {
        return new Fingerprint(g.groupEpoch, g.assignmentEpoch, m.memberEpoch, m.revocationEpoch, m.subscribedTopics, Set.copyOf(m.assigned),
                Set.copyOf(m.pendingRevocation));
    }

    ConsumerGroupHeartbeatResponseData heartbeat(ConsumerGroupHeartbeatRequestData req, String clientId, String clientHost, boolean classicGroupExists) {
        if (req.groupId() == null || req.groupId().isEmpty()) return error(Errors.INVALID_REQUEST, "A group id is required");
        if (classicGroupExists) return error(Errors.GROUP_ID_NOT_FOUND, "Group " + req.groupId() + " uses the classic protocol");
        ConsumerGroup g = groups.computeIfAbsent(req.groupId(), ConsumerGroup::new);
        if (req.memberEpoch() == LEAVE_EPOCH || req.memberEpoch() == LEAVE_STATIC_EPOCH) {
            Member m = g.members.get(req.memberId());
            if (m != null) remove(g, m, "left");
            return new ConsumerGroupHeartbeatResponseData().setMemberId(req.memberId()).setMemberEpoch(req.memberEpoch());
        }
        Member m;
        if (req.memberEpoch() == 0) {
            if (req.subscribedTopicNames() == null) {
                // Regular-expression subscriptions (KIP-848's subscribedTopicRegex) are not resolved yet: refuse them
                // clearly rather than leave the member without partitions.
                return error(Errors.INVALID_REQUEST, req.subscribedTopicRegex() != null
                        ? "Pattern subscriptions are not supported by Runnel yet; subscribe to topic names"
                        : "A joining member must send its subscription");
            }
            String id = req.memberId() == null || req.memberId().isEmpty() ? Uuid.randomUuid().toString() : req.memberId();
            Member old = g.members.get(id);
            if (old != null) remove(g, old, "rejoined");
            if (req.instanceId() != null) {
                g.members.values().stream().filter(o -> req.instanceId().equals(o.instanceId)).findFirst().ifPresent(o -> remove(g, o, "replaced"));
            }
            m = new Member(id);
            m.instanceId = req.instanceId();
            m.clientId = clientId;
            m.clientHost = clientHost;
            g.members.put(id, m);
            g.groupEpoch++;
            LOG.info("Member {} joined consumer group {} (epoch {})", id, g.groupId, g.groupEpoch);
        } else {
            m = g.members.get(req.memberId());
            if (m == null) return error(Errors.UNKNOWN_MEMBER_ID, "Member " + req.memberId() + " is not in group " + g.groupId);
            if (req.memberEpoch() != m.memberEpoch) {
                return error(Errors.FENCED_MEMBER_EPOCH, "Member epoch " + req.memberEpoch() + " is not the current " + m.memberEpoch);
            }
        }
        if (req.rebalanceTimeoutMs() > 0) m.rebalanceTimeoutMs = req.rebalanceTimeoutMs();
        if (req.rackId() != null) m.rackId = req.rackId();
        if (req.serverAssignor() != null) {
            if (!req.serverAssignor().equals("uniform") && !req.serverAssignor().equals("range")) {
                return error(Errors.UNSUPPORTED_ASSIGNOR, "Assignor " + req.serverAssignor() + " is not supported; use uniform or range");
            }
            m.serverAssignor = req.serverAssignor();
        }
        if (req.subscribedTopicNames() != null && !req.subscribedTopicNames().equals(m.subscribedTopics)) {
            m.subscribedTopics = List.copyOf(req.subscribedTopicNames());
            g.groupEpoch++;
        }
        Set<TopicIdPartition> owned = owned(req);
        if (owned != null && !m.pendingRevocation.isEmpty()) {
            m.pendingRevocation.removeIf(tp -> !owned.contains(tp)); // the member let them go
            if (m.pendingRevocation.isEmpty()) m.revocationEpoch = m.memberEpoch;
        }
        resetSession(g, m);
        if (g.groupEpoch > g.assignmentEpoch) g.computeTarget(subscribedTopics(g));
        boolean hadPending = !m.pendingRevocation.isEmpty();
        boolean changed = g.reconcile(m);
        if (!hadPending && !m.pendingRevocation.isEmpty()) armRevocationTimeout(g, m);
        ConsumerGroupHeartbeatResponseData r = new ConsumerGroupHeartbeatResponseData().setMemberId(m.memberId)
                .setMemberEpoch(m.memberEpoch).setHeartbeatIntervalMs(groupInt(g.groupId, GroupConfig.CONSUMER_HEARTBEAT_INTERVAL_MS,
                        settings.consumerHeartbeatIntervalMs()));
        if (changed || owned == null || !owned.equals(m.assigned)) r.setAssignment(assignment(m.assigned));
        return r;
    }

    private static Set<TopicIdPartition> owned(ConsumerGroupHeartbeatRequestData req) {
        if (req.topicPartitions() == null) return null;
        Set<TopicIdPartition> out = new HashSet<>();
        for (var t : req.topicPartitions()) for (int p : t.partitions()) out.add(new TopicIdPartition(t.topicId(), p));
        return out;
    }

    private Map<String, TopicMeta> subscribedTopics(ConsumerGroup g) {
        Map<String, TopicMeta> out = new LinkedHashMap<>();
        for (Member m : g.members.values()) {
            for (String name : m.subscribedTopics) topics.byName(name).ifPresent(t -> out.put(name, t));
        }
        return out;
    }

    private static ConsumerGroupHeartbeatResponseData.Assignment assignment(Set<TopicIdPartition> assigned) {
        Map<Uuid, List<Integer>> byTopic = new LinkedHashMap<>();
        assigned.stream().sorted((a, b) -> a.topicId().equals(b.topicId()) ? Integer.compare(a.partition(), b.partition())
                : a.topicId().toString().compareTo(b.topicId().toString())).forEach(tp -> byTopic.computeIfAbsent(tp.topicId(), k -> new ArrayList<>()).add(tp.partition()));
        List<ConsumerGroupHeartbeatResponseData.TopicPartitions> tps = new ArrayList<>();
        byTopic.forEach((id, parts) -> tps.add(new ConsumerGroupHeartbeatResponseData.TopicPartitions().setTopicId(id).setPartitions(parts)));
        return new ConsumerGroupHeartbeatResponseData.Assignment().setTopicPartitions(tps);
    }

    /** A group key's value: the group's override, else the broker's. */
    private int groupInt(String groupId, String key, int brokerValue) {
        String v = configOf.apply(groupId).get(key);
        return v == null ? brokerValue : Integer.parseInt(v);
    }

    private static ConsumerGroupHeartbeatResponseData error(Errors e, String message) {
        return new ConsumerGroupHeartbeatResponseData().setErrorCode(e.code()).setErrorMessage(message);
    }

    private void resetSession(ConsumerGroup g, Member m) {
        if (m.sessionTimer >= 0) vertx.cancelTimer(m.sessionTimer);
        m.sessionTimer = vertx.setTimer(groupInt(g.groupId, GroupConfig.CONSUMER_SESSION_TIMEOUT_MS, settings.consumerSessionTimeoutMs()), id -> {
            m.sessionTimer = -1;
            if (g.members.get(m.memberId) == m) remove(g, m, "missed its session timeout");
        });
    }

    /**
     * A member asked to give partitions up must do so within its rebalance timeout (KIP-848), or it is removed so
     * that the partitions can move: a stuck member cannot hold a group back for ever.
     */
    private void armRevocationTimeout(ConsumerGroup g, Member m) {
        int timeout = m.rebalanceTimeoutMs > 0 ? m.rebalanceTimeoutMs
                : groupInt(g.groupId, GroupConfig.CONSUMER_SESSION_TIMEOUT_MS, settings.consumerSessionTimeoutMs());
        vertx.setTimer(timeout, id -> {
            if (g.members.get(m.memberId) == m && !m.pendingRevocation.isEmpty()) {
                remove(g, m, "did not release " + m.pendingRevocation.size() + " partition(s) within its rebalance timeout");
            }
        });
    }

    private void remove(ConsumerGroup g, Member m, String why) {
        if (m.sessionTimer >= 0) vertx.cancelTimer(m.sessionTimer);
        g.members.remove(m.memberId);
        g.groupEpoch++;
        append.apply(records(g, m, true)).onFailure(e -> LOG.warn("Storing the departure of {} from {} failed", m.memberId, g.groupId, e));
        LOG.info("Member {} of consumer group {} {} (epoch {})", m.memberId, g.groupId, why, g.groupEpoch);
    }

    /** Whether {@code groupId} is a consumer-protocol group of this shard. */
    boolean has(String groupId) {
        return groups.containsKey(groupId);
    }

    /** Whether {@code groupId} is a consumer-protocol group with members (a classic member may not join it). */
    boolean hasMembers(String groupId) {
        ConsumerGroup g = groups.get(groupId);
        return g != null && !g.members.isEmpty();
    }

    /** The ids of this shard's consumer-protocol groups. */
    Set<String> groupIds() {
        return Set.copyOf(groups.keySet());
    }

    /** ListGroups' line for a consumer-protocol group, or null when {@code groupId} is none. */
    GroupOverview overview(String groupId) {
        ConsumerGroup g = groups.get(groupId);
        return g == null ? null : new GroupOverview(groupId, "consumer", g.state(), "consumer");
    }

    /** DescribeGroups' (classic API) view of a consumer-protocol group, or null when {@code groupId} is none. */
    GroupDescription summary(String groupId) {
        ConsumerGroup g = groups.get(groupId);
        return g == null ? null : new GroupDescription(groupId, g.state(), "consumer", g.assignor, List.of());
    }

    /**
     * Deletes an empty consumer-protocol group: forgets it and stores its tombstone. Returns the store's completion,
     * or null when {@code groupId} is no such group. The caller checks it has no members first.
     */
    Future<Void> deleteEmpty(String groupId) {
        if (groups.remove(groupId) == null) return null;
        return append.apply(List.of(new OffsetRecords.KeyValue(OffsetRecords.consumerGroupKey(groupId), null)));
    }

    /**
     * Checks an offset commit of a consumer-protocol member. As Kafka since KIP-1251, an epoch a little behind the
     * member's is accepted when no partition was taken from the member since then (a commit racing a heartbeat that
     * raised the epoch is not refused); an epoch from before the last revocation, or from the future, gets
     * STALE_MEMBER_EPOCH.
     */
    Errors validateCommit(String groupId, int memberEpoch, String memberId) {
        ConsumerGroup g = groups.get(groupId);
        if (memberEpoch < 0 && (memberId == null || memberId.isEmpty())) return g.members.isEmpty() ? Errors.NONE : Errors.UNKNOWN_MEMBER_ID;
        Member m = g.members.get(memberId);
        if (m == null) return Errors.UNKNOWN_MEMBER_ID;
        if (memberEpoch > m.memberEpoch || memberEpoch <= m.revocationEpoch) return Errors.STALE_MEMBER_EPOCH;
        return Errors.NONE;
    }

    /** ConsumerGroupDescribe's answer for a group that does not exist. */
    static ConsumerGroupDescribeResponseData.DescribedGroup notFound(String groupId) {
        return new ConsumerGroupDescribeResponseData.DescribedGroup().setGroupId(groupId).setErrorCode(Errors.GROUP_ID_NOT_FOUND.code())
                .setErrorMessage("Group " + groupId + " not found.");
    }

    ConsumerGroupDescribeResponseData.DescribedGroup describe(String groupId) {
        ConsumerGroup g = groups.get(groupId);
        if (g == null) return notFound(groupId);
        ConsumerGroupDescribeResponseData.DescribedGroup out = new ConsumerGroupDescribeResponseData.DescribedGroup().setGroupId(groupId)
                .setGroupState(g.state()).setGroupEpoch(g.groupEpoch).setAssignmentEpoch(g.assignmentEpoch).setAssignorName(g.assignor);
        for (Member m : g.members.values()) {
            out.members().add(new ConsumerGroupDescribeResponseData.Member().setMemberId(m.memberId).setInstanceId(m.instanceId).setRackId(m.rackId)
                    .setMemberEpoch(m.memberEpoch).setClientId(m.clientId).setClientHost(m.clientHost).setSubscribedTopicNames(m.subscribedTopics)
                    .setAssignment(describedAssignment(m.assigned)).setTargetAssignment(describedAssignment(g.target.getOrDefault(m.memberId, Set.of()))));
        }
        return out;
    }

    private ConsumerGroupDescribeResponseData.Assignment describedAssignment(Set<TopicIdPartition> tps) {
        Map<Uuid, List<Integer>> byTopic = new LinkedHashMap<>();
        tps.forEach(tp -> byTopic.computeIfAbsent(tp.topicId(), k -> new ArrayList<>()).add(tp.partition()));
        List<ConsumerGroupDescribeResponseData.TopicPartitions> out = new ArrayList<>();
        byTopic.forEach((id, parts) -> {
            parts.sort(Integer::compare);
            String name = topics.byId(id).map(TopicMeta::name).orElse("");
            out.add(new ConsumerGroupDescribeResponseData.TopicPartitions().setTopicId(id).setTopicName(name).setPartitions(parts));
        });
        return new ConsumerGroupDescribeResponseData.Assignment().setTopicPartitions(out);
    }
}
