package io.runnel.group;

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
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.ShareGroupDescribeResponseData;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ShareGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The share groups (KIP-932) of a {@link GroupShard}: ShareGroupHeartbeat and ShareGroupDescribe. Members heartbeat
 * their subscriptions and the coordinator assigns partitions with Kafka's "simple" assignor, where a partition may
 * go to several members: the records themselves are handed out one acquisition at a time by the partitions' leaders
 * ({@code io.runnel.share}), so a share group has no revocation step and no offsets to commit. Runs on the shard's
 * event loop. Groups and members are stored in {@code __consumer_offsets} (types 6 and 7 of {@link OffsetRecords})
 * before a heartbeat that changed them is answered, as Kafka's coordinator stores ShareGroupMetadata and
 * ShareGroupMemberMetadata records: a coordinator that restarts or moves knows the group, its epochs and its members,
 * which carry on if they heartbeat within their session timeout.
 */
final class ShareGroupShard {
    private static final Logger LOG = LoggerFactory.getLogger(ShareGroupShard.class);
    private static final int LEAVE_EPOCH = -1;
    /** Kafka's limit on a share group member id (KafkaApis). */
    private static final int MAX_MEMBER_ID_LENGTH = 36;

    static final class Member {
        final String memberId;
        String rackId;
        String clientId;
        String clientHost;
        int memberEpoch;
        int previousEpoch = -1;
        List<String> subscribedTopics = List.of();
        Set<TopicIdPartition> assigned = Set.of();
        long sessionTimer = -1;

        Member(String memberId) {
            this.memberId = memberId;
        }
    }

    static final class ShareGroup {
        final String groupId;
        int groupEpoch;
        int assignmentEpoch;
        final LinkedHashMap<String, Member> members = new LinkedHashMap<>();
        Map<String, Set<TopicIdPartition>> target = Map.of();
        /** The subscribed topics the target was computed for (a topic created or grown changes it). */
        Map<String, TopicMeta> targetTopics = Map.of();

        ShareGroup(String groupId) {
            this.groupId = groupId;
        }

        String state() {
            return members.isEmpty() ? "Empty" : "Stable";
        }
    }

    private final Vertx vertx;
    private final GroupSettings settings;
    private final TopicLookup topics;
    private final Map<String, ShareGroup> groups = new HashMap<>();
    /** Stores records in the shard's partition (acks=all). */
    private final Function<List<OffsetRecords.KeyValue>, Future<Void>> append;
    /** A group's configuration overrides (IncrementalAlterConfigs on its GROUP resource). */
    private final Function<String, Map<String, String>> configOf;

    ShareGroupShard(Vertx vertx, GroupSettings settings, TopicLookup topics, Function<List<OffsetRecords.KeyValue>, Future<Void>> append,
                    Function<String, Map<String, String>> configOf) {
        this.configOf = configOf;
        this.append = append;
        this.vertx = vertx;
        this.settings = settings;
        this.topics = topics;
    }

    boolean has(String groupId) {
        return groups.containsKey(groupId);
    }

    Set<String> groupIds() {
        return Set.copyOf(groups.keySet());
    }

    /** Whether {@code groupId} is a share group with members. */
    boolean hasMembers(String groupId) {
        ShareGroup g = groups.get(groupId);
        return g != null && !g.members.isEmpty();
    }

    /** ListGroups' line for a share group, or null when {@code groupId} is none. */
    GroupOverview overview(String groupId) {
        ShareGroup g = groups.get(groupId);
        return g == null ? null : new GroupOverview(groupId, "share", g.state(), "share");
    }

    /** DescribeGroups' (classic API) view of a share group, or null. */
    GroupDescription summary(String groupId) {
        ShareGroup g = groups.get(groupId);
        return g == null ? null : new GroupDescription(groupId, g.state(), "share", "simple", List.of());
    }

    /** Creates an empty share group (AlterShareGroupOffsets for a group that has none, as Kafka creates it) and stores it. */
    Future<Void> create(String groupId) {
        ShareGroup g = groups.computeIfAbsent(groupId, ShareGroup::new);
        return append.apply(List.of(new OffsetRecords.KeyValue(OffsetRecords.shareGroupKey(groupId), OffsetRecords.shareGroupValue(g))));
    }

    /**
     * Forgets an empty share group and stores its tombstone; null when {@code groupId} is none. The caller checks it
     * has no members.
     */
    Future<Void> deleteEmpty(String groupId) {
        if (groups.remove(groupId) == null) return null;
        return append.apply(List.of(new OffsetRecords.KeyValue(OffsetRecords.shareGroupKey(groupId), null)));
    }

    /** Applies one stored record while the shard loads. */
    void restore(OffsetRecords.Entry e) {
        if (e.type() == OffsetRecords.SHARE_GROUP) {
            if (e.tombstone()) groups.remove(e.group());
            else OffsetRecords.readShareGroup(e.rawValue(), groups.computeIfAbsent(e.group(), ShareGroup::new));
        } else if (e.type() == OffsetRecords.SHARE_MEMBER) {
            ShareGroup g = groups.computeIfAbsent(e.group(), ShareGroup::new);
            if (e.tombstone()) {
                g.members.remove(e.memberId());
            } else {
                Member m = new Member(e.memberId());
                OffsetRecords.readShareMember(e.rawValue(), m);
                g.members.put(m.memberId, m);
            }
        }
    }

    /** After loading: the targets as they were, and every restored member a session to come back in. */
    void afterLoad() {
        for (ShareGroup g : groups.values()) {
            Map<String, TopicMeta> subscribed = subscribedTopics(g);
            g.target = simpleAssignment(g, subscribed);
            g.targetTopics = subscribed;
            for (Member m : g.members.values()) resetSession(g, m);
        }
    }

    private static List<OffsetRecords.KeyValue> records(ShareGroup g, Member m, boolean removed) {
        return List.of(new OffsetRecords.KeyValue(OffsetRecords.shareGroupKey(g.groupId), OffsetRecords.shareGroupValue(g)),
                new OffsetRecords.KeyValue(OffsetRecords.shareMemberKey(g.groupId, m.memberId), removed ? null : OffsetRecords.shareMemberValue(m)));
    }

    /** What the stored records of a group and member say: a heartbeat that changes none of it writes nothing. */
    private record Fingerprint(int groupEpoch, int assignmentEpoch, int memberEpoch, int previousEpoch, List<String> subscribed,
                               Set<TopicIdPartition> assigned, String rackId, String clientId, String clientHost) {
    }

    private static Fingerprint fingerprint(ShareGroup g, Member m) {
        return new Fingerprint(g.groupEpoch, g.assignmentEpoch, m.memberEpoch, m.previousEpoch, m.subscribedTopics, m.assigned, m.rackId,
                m.clientId, m.clientHost);
    }

    /** Handles a heartbeat and answers once what it changed is stored (the coordinator's write error otherwise). */
    Future<ShareGroupHeartbeatResponseData> heartbeatStored(ShareGroupHeartbeatRequestData req, String clientId, String clientHost,
                                                            boolean otherGroupType) {
        ShareGroup before = groups.get(req.groupId());
        Member prior = before == null ? null : before.members.get(req.memberId());
        Fingerprint fingerprint = prior == null ? null : fingerprint(before, prior);
        boolean existed = before != null;
        ShareGroupHeartbeatResponseData r = heartbeat(req, clientId, clientHost, otherGroupType);
        if (r.errorCode() != Errors.NONE.code()) return Future.succeededFuture(r);
        ShareGroup g = groups.get(req.groupId());
        if (g == null) return Future.succeededFuture(r);
        Member m = g.members.get(req.memberId());
        if (m == null) {
            if (prior == null) return Future.succeededFuture(r);
            return append.apply(records(g, prior, true)).map(v -> r); // the member left
        }
        if (existed && m == prior && fingerprint(g, m).equals(fingerprint)) return Future.succeededFuture(r);
        return append.apply(records(g, m, false)).map(v -> r);
    }

    /**
     * Handles a heartbeat: Kafka's checks (GroupCoordinatorService and GroupMetadataManager), then the member's
     * epoch and assignment. {@code otherGroupType} says a classic or consumer-protocol group has this id.
     */
    ShareGroupHeartbeatResponseData heartbeat(ShareGroupHeartbeatRequestData req, String clientId, String clientHost, boolean otherGroupType) {
        if (req.groupId() == null || req.groupId().isEmpty()) return error(Errors.INVALID_REQUEST, "GroupId can't be empty.");
        if (req.memberId() == null || req.memberId().isEmpty()) return error(Errors.INVALID_REQUEST, "MemberId can't be empty.");
        if (req.memberId().length() > MAX_MEMBER_ID_LENGTH) return error(Errors.INVALID_REQUEST, "MemberId can't be longer than 36 characters.");
        if (req.memberEpoch() < LEAVE_EPOCH) return error(Errors.INVALID_REQUEST, "MemberEpoch is invalid.");
        if ("".equals(req.rackId())) return error(Errors.INVALID_REQUEST, "RackId can't be empty.");
        if (req.memberEpoch() == 0 && (req.subscribedTopicNames() == null || req.subscribedTopicNames().isEmpty())) {
            return error(Errors.INVALID_REQUEST, "SubscribedTopicNames must be set in first request.");
        }
        if (otherGroupType) return error(Errors.GROUP_ID_NOT_FOUND, "Group " + req.groupId() + " is not a share group.");
        ShareGroup g = groups.get(req.groupId());
        if (req.memberEpoch() == LEAVE_EPOCH) {
            Member m = g == null ? null : g.members.get(req.memberId());
            if (m == null) return error(Errors.UNKNOWN_MEMBER_ID, "Member " + req.memberId() + " is not a member of group " + req.groupId() + ".");
            remove(g, m, "left");
            return new ShareGroupHeartbeatResponseData().setMemberId(req.memberId()).setMemberEpoch(LEAVE_EPOCH);
        }
        Member m;
        if (req.memberEpoch() == 0) {
            if (g == null) {
                g = new ShareGroup(req.groupId());
                groups.put(g.groupId, g);
            }
            m = g.members.get(req.memberId());
            if (m == null) {
                if (g.members.size() >= settings.shareMaxSize()) {
                    return error(Errors.GROUP_MAX_SIZE_REACHED, "The share group has reached its maximum size of " + settings.shareMaxSize() + ".");
                }
                m = new Member(req.memberId());
                g.members.put(m.memberId, m);
                g.groupEpoch++;
                LOG.info("Member {} joined share group {} (epoch {})", m.memberId, g.groupId, g.groupEpoch);
            }
        } else {
            if (g == null) return error(Errors.GROUP_ID_NOT_FOUND, "Group " + req.groupId() + " not found.");
            m = g.members.get(req.memberId());
            if (m == null) return error(Errors.UNKNOWN_MEMBER_ID, "Member " + req.memberId() + " is not a member of group " + req.groupId() + ".");
            if (req.memberEpoch() != m.memberEpoch && req.memberEpoch() != m.previousEpoch) {
                return error(Errors.FENCED_MEMBER_EPOCH, "The share group member has a stale member epoch " + req.memberEpoch() + ".");
            }
        }
        m.clientId = clientId;
        m.clientHost = clientHost;
        if (req.rackId() != null) m.rackId = req.rackId();
        if (req.subscribedTopicNames() != null && !req.subscribedTopicNames().equals(m.subscribedTopics)) {
            m.subscribedTopics = List.copyOf(req.subscribedTopicNames());
            g.groupEpoch++;
        }
        resetSession(g, m);
        Map<String, TopicMeta> subscribed = subscribedTopics(g);
        if (g.groupEpoch > g.assignmentEpoch || !subscribed.equals(g.targetTopics)) {
            if (g.groupEpoch == g.assignmentEpoch) g.groupEpoch++; // metadata changed (Kafka bumps the epoch too)
            g.target = simpleAssignment(g, subscribed);
            g.targetTopics = subscribed;
            g.assignmentEpoch = g.groupEpoch;
        }
        Set<TopicIdPartition> goal = g.target.getOrDefault(m.memberId, Set.of());
        boolean changed = !goal.equals(m.assigned);
        m.assigned = goal;
        if (m.memberEpoch != g.assignmentEpoch) {
            m.previousEpoch = m.memberEpoch;
            m.memberEpoch = g.assignmentEpoch;
        }
        ShareGroupHeartbeatResponseData r = new ShareGroupHeartbeatResponseData().setMemberId(m.memberId).setMemberEpoch(m.memberEpoch)
                .setHeartbeatIntervalMs(groupInt(g.groupId, GroupConfig.SHARE_HEARTBEAT_INTERVAL_MS, settings.shareHeartbeatIntervalMs()));
        if (req.memberEpoch() == 0 || req.subscribedTopicNames() != null || changed) r.setAssignment(assignment(m.assigned));
        return r;
    }

    /**
     * Kafka's "simple" share assignor, per topic: with at least as many partitions as subscribers, each partition goes
     * to one of them (counts differ by one at most); with more subscribers than partitions, every subscriber gets one
     * and the partitions are shared evenly. Subscribers in member-id order, each topic starting one member further on,
     * so that many single-partition topics spread over the group.
     */
    static Map<String, Set<TopicIdPartition>> simpleAssignment(ShareGroup g, Map<String, TopicMeta> subscribed) {
        Map<String, Set<TopicIdPartition>> out = new TreeMap<>();
        for (Member m : g.members.values()) out.put(m.memberId, new HashSet<>());
        int rotation = 0;
        for (TopicMeta t : new TreeMap<>(subscribed).values()) {
            List<String> subs = new ArrayList<>();
            for (Member m : g.members.values()) if (m.subscribedTopics.contains(t.name())) subs.add(m.memberId);
            if (subs.isEmpty() || t.partitions() == 0) continue;
            subs.sort(null);
            int n = subs.size();
            if (t.partitions() >= n) {
                for (int p = 0; p < t.partitions(); p++) out.get(subs.get((p + rotation) % n)).add(new TopicIdPartition(t.topicId(), p));
            } else {
                for (int i = 0; i < n; i++) out.get(subs.get((i + rotation) % n)).add(new TopicIdPartition(t.topicId(), i % t.partitions()));
            }
            rotation++;
        }
        Map<String, Set<TopicIdPartition>> frozen = new TreeMap<>();
        out.forEach((id, set) -> frozen.put(id, Set.copyOf(set)));
        return frozen;
    }

    private Map<String, TopicMeta> subscribedTopics(ShareGroup g) {
        Map<String, TopicMeta> out = new HashMap<>();
        for (Member m : g.members.values()) {
            for (String name : m.subscribedTopics) topics.byName(name).ifPresent(t -> out.put(name, t));
        }
        return out;
    }

    private void resetSession(ShareGroup g, Member m) {
        if (m.sessionTimer >= 0) vertx.cancelTimer(m.sessionTimer);
        m.sessionTimer = vertx.setTimer(groupInt(g.groupId, GroupConfig.SHARE_SESSION_TIMEOUT_MS, settings.shareSessionTimeoutMs()), id -> {
            m.sessionTimer = -1;
            if (g.members.get(m.memberId) != m) return;
            remove(g, m, "missed its session timeout");
            append.apply(records(g, m, true)).onFailure(e -> LOG.warn("Storing that member {} left share group {} failed: {}", m.memberId,
                    g.groupId, e.toString()));
        });
    }

    private void remove(ShareGroup g, Member m, String why) {
        if (m.sessionTimer >= 0) vertx.cancelTimer(m.sessionTimer);
        g.members.remove(m.memberId);
        g.groupEpoch++;
        LOG.info("Member {} of share group {} {} (epoch {})", m.memberId, g.groupId, why, g.groupEpoch);
    }

    ShareGroupDescribeResponseData.DescribedGroup describe(String groupId) {
        ShareGroup g = groups.get(groupId);
        if (g == null) {
            return new ShareGroupDescribeResponseData.DescribedGroup().setGroupId(groupId).setErrorCode(Errors.GROUP_ID_NOT_FOUND.code())
                    .setErrorMessage("Group " + groupId + " not found.");
        }
        ShareGroupDescribeResponseData.DescribedGroup out = new ShareGroupDescribeResponseData.DescribedGroup().setGroupId(groupId)
                .setGroupState(g.state()).setGroupEpoch(g.groupEpoch).setAssignmentEpoch(g.assignmentEpoch).setAssignorName("simple");
        for (Member m : g.members.values()) {
            Map<Uuid, List<Integer>> byTopic = new LinkedHashMap<>();
            m.assigned.forEach(tp -> byTopic.computeIfAbsent(tp.topicId(), k -> new ArrayList<>()).add(tp.partition()));
            List<ShareGroupDescribeResponseData.TopicPartitions> tps = new ArrayList<>();
            byTopic.forEach((id, parts) -> {
                parts.sort(Integer::compare);
                tps.add(new ShareGroupDescribeResponseData.TopicPartitions().setTopicId(id)
                        .setTopicName(topics.byId(id).map(TopicMeta::name).orElse("")).setPartitions(parts));
            });
            out.members().add(new ShareGroupDescribeResponseData.Member().setMemberId(m.memberId).setRackId(m.rackId).setMemberEpoch(m.memberEpoch)
                    .setClientId(m.clientId).setClientHost(m.clientHost).setSubscribedTopicNames(m.subscribedTopics)
                    .setAssignment(new ShareGroupDescribeResponseData.Assignment().setTopicPartitions(tps)));
        }
        return out;
    }

    private static ShareGroupHeartbeatResponseData.Assignment assignment(Set<TopicIdPartition> assigned) {
        Map<Uuid, List<Integer>> byTopic = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
        assigned.forEach(tp -> byTopic.computeIfAbsent(tp.topicId(), k -> new ArrayList<>()).add(tp.partition()));
        List<ShareGroupHeartbeatResponseData.TopicPartitions> tps = new ArrayList<>();
        byTopic.forEach((id, parts) -> {
            parts.sort(Integer::compare);
            tps.add(new ShareGroupHeartbeatResponseData.TopicPartitions().setTopicId(id).setPartitions(parts));
        });
        return new ShareGroupHeartbeatResponseData.Assignment().setTopicPartitions(tps);
    }

    /** A group key's value: the group's override, else the broker's. */
    private int groupInt(String groupId, String key, int brokerValue) {
        String v = configOf.apply(groupId).get(key);
        return v == null ? brokerValue : Integer.parseInt(v);
    }

    private static ShareGroupHeartbeatResponseData error(Errors e, String message) {
        return new ShareGroupHeartbeatResponseData().setErrorCode(e.code()).setErrorMessage(message);
    }
}
