package io.runnel.group;

import io.runnel.config.Limits;
import io.runnel.group.ClassicGroup.Member;
import io.runnel.group.ClassicGroup.Protocol;
import io.runnel.group.ClassicGroup.State;
import io.runnel.group.OffsetRecords.Committed;
import io.runnel.group.OffsetRecords.KeyValue;
import io.runnel.partition.Acks;
import io.runnel.partition.CoordinatorWrites;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TxnVerification;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.message.ConsumerGroupDescribeResponseData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.message.ShareGroupDescribeResponseData;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ShareGroupHeartbeatResponseData;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.JoinGroupRequestData.JoinGroupRequestProtocol;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.JoinGroupResponseData.JoinGroupResponseMember;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.message.SyncGroupRequestData.SyncGroupRequestAssignment;
import org.apache.kafka.common.message.SyncGroupResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The groups whose id hashes to one partition of {@code __consumer_offsets}, with their committed offsets, on one
 * event loop (Kafka shards its coordinator the same way). Every change is appended to that partition before it is
 * acknowledged, and the partition is replayed when the shard starts, so offsets and group generations survive
 * restarts. Methods run on this verticle's context; {@link GroupCoordinator} hops there.
 */
final class GroupShard extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(GroupShard.class);

    private final PartitionHandle partition;
    private final GroupSettings settings;
    private final Time time;
    final Map<String, ClassicGroup> groups = new HashMap<>();
    final Map<String, Map<TopicPartition, Committed>> offsets = new HashMap<>();
    /**
     * Offsets committed in open transactions (TxnOffsetCommit), per producer id: they take effect when the
     * transaction's COMMIT marker is written to this partition and are dropped with an ABORT (KIP-98).
     */
    private final Map<Long, Map<String, Map<TopicPartition, Committed>>> pendingTxnOffsets = new HashMap<>();

    private final TopicLookup topics;
    /** The consumer-protocol (KIP-848) groups of this shard. */
    private ConsumerProtocolShard consumers;
    private ShareGroupShard shares;
    /** Groups' configuration overrides (IncrementalAlterConfigs on GROUP resources), which every broker holds. */
    private final Function<String, Map<String, String>> groupConfigs;

    GroupShard(PartitionHandle partition, GroupSettings settings, Time time, TopicLookup topics, Function<String, Map<String, String>> groupConfigs) {
        this.groupConfigs = groupConfigs;
        this.partition = partition;
        this.settings = settings;
        this.time = time;
        this.topics = topics;
    }

    Context context() {
        return context;
    }

    /** Whether the caller runs on this shard's event loop, which owns its state (callers hop there first). */
    private boolean onContext() {
        return Vertx.currentContext() == context;
    }

    @Override
    public Future<?> start() {
        consumers = new ConsumerProtocolShard(vertx, settings, topics, this::append, groupConfigs);
        shares = new ShareGroupShard(vertx, settings, topics, this::append, groupConfigs);
        // Listening before the load: a marker written meanwhile is also met by the load, and ending a transaction twice
        // does nothing the second time.
        partition.onTransactionEnd((producerId, committed) -> context.runOnContext(x -> transactionEnded(producerId, committed)));
        return load(partition.logStartOffset()).onSuccess(v -> afterLoad());
    }

    @Override
    public Future<?> stop() {
        partition.onTransactionEnd(null);
        return Future.succeededFuture();
    }

    /** Replays the partition: the latest record per key wins; groups come back Empty, with their generation. */
    private Future<Void> load(long from) {
        return partition.replay(from, Limits.GROUP_LOAD_READ_BYTES, this::load).onSuccess(v -> {
            if (!groups.isEmpty() || !offsets.isEmpty()) {
                LOG.info("Loaded {} group(s) and the offsets of {} from {}", groups.size(), offsets.size(), partition.topicPartition());
            }
        });
    }

    private void load(RecordBatch b) {
        if (b.isControlBatch()) {
            for (Record r : b) {
                ControlRecordType type = ControlRecordType.parse(r.key());
                if (type == ControlRecordType.COMMIT || type == ControlRecordType.ABORT) transactionEnded(b.producerId(), type == ControlRecordType.COMMIT);
            }
        } else if (b.isTransactional()) {
            for (Record r : b) pendTxnOffset(b.producerId(), OffsetRecords.decode(r));
        } else {
            for (Record r : b) apply(OffsetRecords.decode(r));
        }
    }

    private void apply(OffsetRecords.Entry e) {
        if (e == null) return;
        if (e.type() == OffsetRecords.CONSUMER_GROUP || e.type() == OffsetRecords.CONSUMER_MEMBER) {
            consumers.restore(e);
            return;
        }
        if (e.type() == OffsetRecords.SHARE_GROUP || e.type() == OffsetRecords.SHARE_MEMBER) {
            shares.restore(e);
            return;
        }
        if (e.type() == OffsetRecords.OFFSET_COMMIT) {
            TopicPartition tp = new TopicPartition(e.topic(), e.partition());
            if (e.tombstone()) {
                Map<TopicPartition, Committed> m = offsets.get(e.group());
                if (m != null) m.remove(tp);
            } else {
                offsets.computeIfAbsent(e.group(), g -> new HashMap<>()).put(tp, e.committed());
            }
        } else if (e.tombstone()) {
            groups.remove(e.group());
        } else {
            ClassicGroup g = groups.computeIfAbsent(e.group(), ClassicGroup::new);
            OffsetRecords.GroupRecord r = e.groupRecord();
            g.protocolType = r.protocolType();
            g.generation = r.generation();
            g.protocol = r.protocol();
            g.leader = r.leader();
            g.members.clear();
            g.staticMembers.clear();
            for (OffsetRecords.MemberRecord mr : r.members()) {
                Member m = new Member(mr.memberId(), mr.instanceId(), mr.clientId(), mr.clientHost(), mr.rebalanceTimeoutMs(), mr.sessionTimeoutMs(),
                        List.of(new Protocol(r.protocol(), mr.metadata())));
                m.assignment = mr.assignment();
                g.members.put(m.memberId, m);
                if (m.groupInstanceId != null) g.staticMembers.put(m.groupInstanceId, m.memberId);
            }
            // A stored group with members was stable: they carry on if they heartbeat within their session timeout.
            g.state = g.members.isEmpty() ? State.EMPTY : State.STABLE;
        }
    }

    /** An offset commit of an open transaction, read back from the log: it waits for the transaction's marker. */
    private void pendTxnOffset(long producerId, OffsetRecords.Entry e) {
        if (e == null || e.type() != OffsetRecords.OFFSET_COMMIT || e.tombstone()) return;
        pendingTxnOffsets.computeIfAbsent(producerId, p -> new HashMap<>()).computeIfAbsent(e.group(), g -> new HashMap<>())
                .put(new TopicPartition(e.topic(), e.partition()), e.committed());
    }

    /** A transaction of {@code producerId} ended here: its offsets take effect (committed) or are dropped (aborted). */
    void transactionEnded(long producerId, boolean committed) {
        Map<String, Map<TopicPartition, Committed>> pending = pendingTxnOffsets.remove(producerId);
        if (pending == null || !committed) return;
        pending.forEach((group, commits) -> {
            groups.computeIfAbsent(group, ClassicGroup::new);
            offsets.computeIfAbsent(group, g -> new HashMap<>()).putAll(commits);
        });
    }

    /**
     * Stores offsets in {@code producerId}'s open transaction (TxnOffsetCommit, already validated): written as a
     * transactional batch of that producer and epoch, they take effect with the transaction's COMMIT marker.
     */
    Future<Void> commitInTransaction(String groupId, long producerId, short producerEpoch, Map<TopicPartition, Committed> commits,
                                     TxnVerification verification) {
        assert onContext() : "group shard called off its event loop";
        if (commits.isEmpty()) return Future.succeededFuture();
        List<KeyValue> records = new ArrayList<>();
        commits.forEach((tp, c) -> records.add(new KeyValue(OffsetRecords.offsetKey(groupId, tp.topic(), tp.partition()), OffsetRecords.offsetValue(c))));
        ByteBuffer batch = OffsetRecords.transactionalBatch(records, time.milliseconds(), producerId, producerEpoch);
        return partition.appendForCoordinator(batch, Acks.all(1, Limits.OFFSET_COMMIT_TIMEOUT_MS), verification).<Void>mapEmpty().recover(GroupShard::notCoordinator).map(v -> {
            pendingTxnOffsets.computeIfAbsent(producerId, p -> new HashMap<>()).computeIfAbsent(groupId, g -> new HashMap<>()).putAll(commits);
            return null;
        });
    }

    /** The group's partitions with offsets committed in a transaction not yet ended (OffsetFetch's requireStable, KIP-447). */
    Set<TopicPartition> unstableOffsets(String groupId) {
        assert onContext() : "group shard called off its event loop";
        Set<TopicPartition> out = new HashSet<>();
        for (Map<String, Map<TopicPartition, Committed>> byGroup : pendingTxnOffsets.values()) {
            Map<TopicPartition, Committed> m = byGroup.get(groupId);
            if (m != null) out.addAll(m.keySet());
        }
        return out;
    }

    /** After loading: restored members of classic groups get a session to come back in. */
    private void afterLoad() {
        for (ClassicGroup g : groups.values()) for (Member m : g.members.values()) resetSession(g, m);
        consumers.afterLoad();
        shares.afterLoad();
    }

    /**
     * Stores group records as Kafka does with offsets.commit.required.acks=-1: the change counts once every in-sync
     * replica of the partition has it (at once on a broker alone), so a coordinator that takes over has it too. A
     * coordinator that lost its partition's leadership meanwhile answers NOT_COORDINATOR (the client finds the new
     * one). Unlike Kafka, the min.insync.replicas of __consumer_offsets is not applied to group writes yet (one in-sync
     * replica is enough).
     */
    private Future<Void> append(List<KeyValue> records) {
        return partition.append(OffsetRecords.batch(records, time.milliseconds()), Acks.all(1, Limits.OFFSET_COMMIT_TIMEOUT_MS))
                .<Void>mapEmpty()
                .recover(GroupShard::notCoordinator);
    }

    /** A failed group write, in the error group clients retry ({@link CoordinatorWrites}). */
    static Future<Void> notCoordinator(Throwable e) {
        return CoordinatorWrites.failed(e, "the group");
    }

    // ------------------------------------------------------------------------------------------ JoinGroup

    Future<JoinGroupResponseData> join(JoinGroupRequestData req, short version, String clientId, String clientHost) {
        assert onContext() : "group shard called off its event loop";
        if (req.groupId() == null || req.groupId().isEmpty()) return joinError(Errors.INVALID_GROUP_ID, req.memberId());
        if (req.sessionTimeoutMs() < settings.minSessionTimeoutMs() || req.sessionTimeoutMs() > settings.maxSessionTimeoutMs()) {
            return joinError(Errors.INVALID_SESSION_TIMEOUT, req.memberId());
        }
        boolean unknown = req.memberId() == null || req.memberId().isEmpty();
        if (consumers.hasMembers(req.groupId()) || shares.has(req.groupId())) return joinError(Errors.INCONSISTENT_GROUP_PROTOCOL, req.memberId());
        ClassicGroup group = groups.get(req.groupId());
        if (group == null) {
            if (!unknown) return joinError(Errors.UNKNOWN_MEMBER_ID, req.memberId());
            group = new ClassicGroup(req.groupId());
            groups.put(req.groupId(), group);
        }
        if (group.is(State.DEAD)) return joinError(Errors.COORDINATOR_NOT_AVAILABLE, req.memberId());
        List<Protocol> protocols = new ArrayList<>();
        for (JoinGroupRequestProtocol p : req.protocols()) protocols.add(new Protocol(p.name(), p.metadata()));
        if (!group.supports(req.protocolType(), protocols)) return joinError(Errors.INCONSISTENT_GROUP_PROTOCOL, req.memberId());
        if (group.members.isEmpty()) group.protocolType = req.protocolType();
        int rebalanceTimeout = version == 0 ? req.sessionTimeoutMs() : req.rebalanceTimeoutMs();

        if (unknown) {
            String newId = (clientId == null ? "" : clientId) + "-" + UUID.randomUUID();
            if (req.groupInstanceId() != null) {
                return joinStatic(group, req, newId, clientId, clientHost, rebalanceTimeout, protocols);
            }
            if (version >= 4) {
                // KIP-394: the member must come back with this id, so that a client that retries does not leave ghosts.
                ClassicGroup g = group;
                long timer = vertx.setTimer(req.sessionTimeoutMs(), id -> {
                    g.pendingMembers.remove(newId);
                    if (g.is(State.PREPARING_REBALANCE)) maybeCompleteJoin(g);
                });
                group.pendingMembers.put(newId, timer);
                return joinError(Errors.MEMBER_ID_REQUIRED, newId);
            }
            return addMemberAndRebalance(group, new Member(newId, null, clientId, clientHost, rebalanceTimeout, req.sessionTimeoutMs(), protocols));
        }
        Long pending = group.pendingMembers.remove(req.memberId());
        if (pending != null) {
            vertx.cancelTimer(pending);
            return addMemberAndRebalance(group, new Member(req.memberId(), req.groupInstanceId(), clientId, clientHost, rebalanceTimeout,
                    req.sessionTimeoutMs(), protocols));
        }
        Member m = group.members.get(req.memberId());
        if (m == null) return joinError(Errors.UNKNOWN_MEMBER_ID, req.memberId());
        return rejoin(group, m, protocols, rebalanceTimeout, req.sessionTimeoutMs());
    }

    private Future<JoinGroupResponseData> rejoin(ClassicGroup group, Member m, List<Protocol> protocols, int rebalanceTimeout, int sessionTimeout) {
        boolean changed = !m.sameProtocols(protocols);
        m.protocols = protocols;
        m.rebalanceTimeoutMs = rebalanceTimeout;
        m.sessionTimeoutMs = sessionTimeout;
        Promise<JoinGroupResponseData> p = Promise.promise();
        if (group.is(State.PREPARING_REBALANCE)) {
            setAwaitingJoin(m, p);
            maybeCompleteJoin(group);
        } else if (!changed && !m.memberId.equals(group.leader) && (group.is(State.COMPLETING_REBALANCE) || group.is(State.STABLE))) {
            // A follower that lost the response: the current generation again, no rebalance.
            resetSession(group, m);
            p.complete(joinResponse(group, m));
        } else {
            setAwaitingJoin(m, p);
            prepareRebalance(group, "member " + m.memberId + " rejoined");
        }
        return p.future();
    }

    private Future<JoinGroupResponseData> joinStatic(ClassicGroup group, JoinGroupRequestData req, String newId, String clientId, String host,
                                                     int rebalanceTimeout, List<Protocol> protocols) {
        String oldId = group.staticMembers.get(req.groupInstanceId());
        Member old = oldId == null ? null : group.members.get(oldId);
        if (old == null) {
            return addMemberAndRebalance(group, new Member(newId, req.groupInstanceId(), clientId, host, rebalanceTimeout, req.sessionTimeoutMs(), protocols));
        }
        // KIP-345: a static member that restarted takes its old place; with unchanged protocols in a stable group
        // it gets its old assignment back without a rebalance.
        cancelSession(old);
        group.members.remove(oldId);
        Member replacement = new Member(newId, req.groupInstanceId(), clientId, host, rebalanceTimeout, req.sessionTimeoutMs(), protocols);
        replacement.assignment = old.assignment;
        group.members.put(newId, replacement);
        group.staticMembers.put(req.groupInstanceId(), newId);
        if (oldId.equals(group.leader)) group.leader = newId;
        if (old.awaitingJoin != null) old.awaitingJoin.tryComplete(joinErrorData(Errors.FENCED_INSTANCE_ID, oldId));
        if (old.awaitingSync != null) old.awaitingSync.tryComplete(new SyncGroupResponseData().setErrorCode(Errors.FENCED_INSTANCE_ID.code()));
        if (group.is(State.STABLE) && old.sameProtocols(protocols)) {
            resetSession(group, replacement);
            JoinGroupResponseData r = joinResponse(group, replacement);
            if (newId.equals(group.leader)) r.setSkipAssignment(true);
            return Future.succeededFuture(r);
        }
        Promise<JoinGroupResponseData> p = Promise.promise();
        setAwaitingJoin(replacement, p);
        prepareRebalance(group, "static member " + req.groupInstanceId() + " rejoined");
        return p.future();
    }

    private Future<JoinGroupResponseData> addMemberAndRebalance(ClassicGroup group, Member m) {
        group.members.put(m.memberId, m);
        if (m.groupInstanceId != null) group.staticMembers.put(m.groupInstanceId, m.memberId);
        if (group.leader == null || !group.members.containsKey(group.leader)) group.leader = m.memberId;
        Promise<JoinGroupResponseData> p = Promise.promise();
        setAwaitingJoin(m, p);
        prepareRebalance(group, "member " + m.memberId + " joined");
        maybeCompleteJoin(group);
        return p.future();
    }

    private void setAwaitingJoin(Member m, Promise<JoinGroupResponseData> p) {
        if (m.awaitingJoin != null) m.awaitingJoin.tryComplete(joinErrorData(Errors.REBALANCE_IN_PROGRESS, m.memberId));
        m.awaitingJoin = p;
    }

    /** Starts (or keeps) a rebalance: members have until the rebalance timeout to rejoin. */
    private void prepareRebalance(ClassicGroup group, String reason) {
        if (group.is(State.COMPLETING_REBALANCE)) {
            for (Member m : group.members.values()) {
                m.assignment = new byte[0];
                if (m.awaitingSync != null) {
                    m.awaitingSync.tryComplete(new SyncGroupResponseData().setErrorCode(Errors.REBALANCE_IN_PROGRESS.code()));
                    m.awaitingSync = null;
                }
            }
        }
        if (group.is(State.PREPARING_REBALANCE)) return;
        boolean wasEmpty = group.is(State.EMPTY);
        group.state = State.PREPARING_REBALANCE;
        int timeout = group.members.values().stream().mapToInt(m -> m.rebalanceTimeoutMs).max().orElse(settings.initialRebalanceDelayMs());
        long delay = wasEmpty ? Math.min(settings.initialRebalanceDelayMs(), timeout) : timeout;
        group.initialDelay = wasEmpty && delay > 0;
        LOG.info("Group {} rebalances (generation {}): {}", group.groupId, group.generation, reason);
        group.rebalanceTimer = vertx.setTimer(Math.max(1, delay), id -> {
            group.rebalanceTimer = -1;
            if (group.initialDelay) {
                group.initialDelay = false;
                if (!group.allJoined()) {
                    // After the initial delay, wait for the rest up to the rebalance timeout as usual.
                    group.rebalanceTimer = vertx.setTimer(Math.max(1, timeout - delay), id2 -> completeJoin(group));
                    return;
                }
            }
            completeJoin(group);
        });
    }

    private void maybeCompleteJoin(ClassicGroup group) {
        if (group.is(State.PREPARING_REBALANCE) && !group.initialDelay && group.allJoined()) completeJoin(group);
    }

    /** Ends the join phase: members that did not rejoin leave, a new generation starts, the leader gets the members. */
    private void completeJoin(ClassicGroup group) {
        if (!group.is(State.PREPARING_REBALANCE)) return;
        if (group.rebalanceTimer >= 0) vertx.cancelTimer(group.rebalanceTimer);
        group.rebalanceTimer = -1;
        for (Member m : group.memberList()) {
            if (m.awaitingJoin == null) removeMember(group, m);
        }
        group.generation++;
        if (group.members.isEmpty()) {
            group.state = State.EMPTY;
            group.protocol = null;
            group.leader = null;
            append(List.of(groupRecord(group))).onFailure(e -> LOG.warn("Storing group {} failed", group.groupId, e));
            return;
        }
        group.protocol = group.selectProtocol();
        if (!group.members.containsKey(group.leader)) group.leader = group.members.keySet().iterator().next();
        group.state = State.COMPLETING_REBALANCE;
        for (Member m : group.memberList()) {
            Promise<JoinGroupResponseData> p = m.awaitingJoin;
            m.awaitingJoin = null;
            resetSession(group, m);
            p.tryComplete(joinResponse(group, m));
        }
    }

    private JoinGroupResponseData joinResponse(ClassicGroup group, Member m) {
        JoinGroupResponseData r = new JoinGroupResponseData().setGenerationId(group.generation).setProtocolType(group.protocolType)
                .setProtocolName(group.protocol).setLeader(group.leader).setMemberId(m.memberId);
        if (m.memberId.equals(group.leader)) {
            for (Member member : group.members.values()) {
                r.members().add(new JoinGroupResponseMember().setMemberId(member.memberId).setGroupInstanceId(member.groupInstanceId)
                        .setMetadata(member.metadataFor(group.protocol)));
            }
        }
        return r;
    }

    private static Future<JoinGroupResponseData> joinError(Errors error, String memberId) {
        return Future.succeededFuture(joinErrorData(error, memberId));
    }

    private static JoinGroupResponseData joinErrorData(Errors error, String memberId) {
        return new JoinGroupResponseData().setErrorCode(error.code()).setGenerationId(-1).setMemberId(memberId == null ? "" : memberId)
                .setLeader("").setProtocolName(null);
    }

    // ------------------------------------------------------------------------------------------ SyncGroup

    Future<SyncGroupResponseData> sync(SyncGroupRequestData req) {
        assert onContext() : "group shard called off its event loop";
        ClassicGroup group = groups.get(req.groupId());
        Member m = group == null ? null : group.members.get(req.memberId());
        if (m == null) return syncError(Errors.UNKNOWN_MEMBER_ID);
        if (req.generationId() != group.generation) return syncError(Errors.ILLEGAL_GENERATION);
        if ((req.protocolType() != null && !req.protocolType().equals(group.protocolType))
                || (req.protocolName() != null && !req.protocolName().equals(group.protocol))) {
            return syncError(Errors.INCONSISTENT_GROUP_PROTOCOL);
        }
        switch (group.state) {
            case PREPARING_REBALANCE:
                return syncError(Errors.REBALANCE_IN_PROGRESS);
            case STABLE:
                resetSession(group, m);
                return Future.succeededFuture(syncResponse(group, m.assignment));
            case COMPLETING_REBALANCE:
                Promise<SyncGroupResponseData> p = Promise.promise();
                m.awaitingSync = p;
                resetSession(group, m);
                if (m.memberId.equals(group.leader)) completeSync(group, req.assignments());
                return p.future();
            default:
                return syncError(Errors.UNKNOWN_MEMBER_ID);
        }
    }

    /** The leader's assignment arrived: store the generation, then hand every member its part. */
    private void completeSync(ClassicGroup group, List<SyncGroupRequestAssignment> assignments) {
        Map<String, byte[]> byMember = new HashMap<>();
        for (SyncGroupRequestAssignment a : assignments) byMember.put(a.memberId(), a.assignment());
        // Stored with the group; handed out only once stored (a failed write rebalances, which clears them again).
        for (Member m : group.members.values()) m.assignment = byMember.getOrDefault(m.memberId, new byte[0]);
        int generation = group.generation;
        append(List.of(groupRecord(group))).onComplete(ar -> {
            if (!group.is(State.COMPLETING_REBALANCE) || group.generation != generation) return; // a newer rebalance took over
            if (ar.failed()) {
                LOG.warn("Storing group {} failed; rebalancing again", group.groupId, ar.cause());
                for (Member m : group.members.values()) {
                    if (m.awaitingSync != null) m.awaitingSync.tryComplete(new SyncGroupResponseData().setErrorCode(Errors.COORDINATOR_NOT_AVAILABLE.code()));
                    m.awaitingSync = null;
                }
                prepareRebalance(group, "storing the assignment failed");
                return;
            }
            group.state = State.STABLE;
            for (Member m : group.members.values()) {
                if (m.awaitingSync != null) {
                    m.awaitingSync.tryComplete(syncResponse(group, m.assignment));
                    m.awaitingSync = null;
                }
            }
            LOG.info("Group {} is stable at generation {} with {} member(s)", group.groupId, group.generation, group.members.size());
        });
    }

    private static SyncGroupResponseData syncResponse(ClassicGroup group, byte[] assignment) {
        return new SyncGroupResponseData().setProtocolType(group.protocolType).setProtocolName(group.protocol).setAssignment(assignment);
    }

    private static Future<SyncGroupResponseData> syncError(Errors error) {
        return Future.succeededFuture(new SyncGroupResponseData().setErrorCode(error.code()).setAssignment(new byte[0]));
    }

    // ------------------------------------------------------------------------------------------ Heartbeat, LeaveGroup

    Errors heartbeat(String groupId, String memberId, int generation) {
        assert onContext() : "group shard called off its event loop";
        ClassicGroup group = groups.get(groupId);
        Member m = group == null ? null : group.members.get(memberId);
        if (m == null) return Errors.UNKNOWN_MEMBER_ID;
        if (generation != group.generation) return Errors.ILLEGAL_GENERATION;
        resetSession(group, m);
        return group.is(State.PREPARING_REBALANCE) ? Errors.REBALANCE_IN_PROGRESS : Errors.NONE;
    }

    /** Removes a member by id, or by group.instance.id when the id is unknown (static members leaving). */
    Errors leave(String groupId, String memberId, String groupInstanceId) {
        assert onContext() : "group shard called off its event loop";
        ClassicGroup group = groups.get(groupId);
        if (group == null) return Errors.UNKNOWN_MEMBER_ID;
        String id = memberId;
        if ((id == null || id.isEmpty()) && groupInstanceId != null) id = group.staticMembers.get(groupInstanceId);
        Member m = id == null ? null : group.members.get(id);
        if (m == null) {
            Long pending = id == null ? null : group.pendingMembers.remove(id);
            if (pending != null) {
                vertx.cancelTimer(pending);
                return Errors.NONE;
            }
            return Errors.UNKNOWN_MEMBER_ID;
        }
        if (groupInstanceId != null && !groupInstanceId.equals(m.groupInstanceId)) return Errors.FENCED_INSTANCE_ID;
        removeMember(group, m);
        afterMemberLeft(group, "member " + m.memberId + " left");
        return Errors.NONE;
    }

    private void afterMemberLeft(ClassicGroup group, String reason) {
        if (group.is(State.EMPTY) || group.is(State.DEAD)) return;
        prepareRebalance(group, reason);
        maybeCompleteJoin(group); // the last member gone, or everyone else already rejoined: no need to wait
    }

    private void removeMember(ClassicGroup group, Member m) {
        cancelSession(m);
        group.members.remove(m.memberId);
        if (m.groupInstanceId != null && m.memberId.equals(group.staticMembers.get(m.groupInstanceId))) group.staticMembers.remove(m.groupInstanceId);
        if (m.awaitingJoin != null) m.awaitingJoin.tryComplete(joinErrorData(Errors.UNKNOWN_MEMBER_ID, m.memberId));
        if (m.awaitingSync != null) m.awaitingSync.tryComplete(new SyncGroupResponseData().setErrorCode(Errors.UNKNOWN_MEMBER_ID.code()));
        if (m.memberId.equals(group.leader)) group.leader = group.members.isEmpty() ? null : group.members.keySet().iterator().next();
    }

    private void resetSession(ClassicGroup group, Member m) {
        cancelSession(m);
        m.sessionTimer = vertx.setTimer(m.sessionTimeoutMs, id -> {
            m.sessionTimer = -1;
            if (group.members.get(m.memberId) != m) return;
            LOG.info("Member {} of group {} missed its session timeout ({} ms)", m.memberId, group.groupId, m.sessionTimeoutMs);
            removeMember(group, m);
            afterMemberLeft(group, "member " + m.memberId + " timed out");
        });
    }

    private void cancelSession(Member m) {
        if (m.sessionTimer >= 0) vertx.cancelTimer(m.sessionTimer);
        m.sessionTimer = -1;
    }

    private static KeyValue groupRecord(ClassicGroup g) {
        List<OffsetRecords.MemberRecord> members = new ArrayList<>();
        for (Member m : g.members.values()) {
            members.add(new OffsetRecords.MemberRecord(m.memberId, m.groupInstanceId, m.clientId, m.clientHost, m.rebalanceTimeoutMs,
                    m.sessionTimeoutMs, g.protocol == null ? new byte[0] : m.metadataFor(g.protocol), m.assignment));
        }
        return new KeyValue(OffsetRecords.groupKey(g.groupId),
                OffsetRecords.groupValue(new OffsetRecords.GroupRecord(g.protocolType, g.generation, g.protocol, g.leader, members)));
    }

    // ------------------------------------------------------------------------------------------ administration

    Future<ConsumerGroupHeartbeatResponseData> consumerHeartbeat(
            ConsumerGroupHeartbeatRequestData req, String clientId, String clientHost) {
        assert onContext() : "group shard called off its event loop";
        ClassicGroup classic = groups.get(req.groupId());
        return consumers.heartbeatStored(req, clientId, clientHost, classic != null && !classic.members.isEmpty());
    }

    /** ShareGroupHeartbeat (KIP-932); a classic or consumer-protocol group of the same id refuses it. */
    Future<ShareGroupHeartbeatResponseData> shareHeartbeat(ShareGroupHeartbeatRequestData req, String clientId, String clientHost) {
        assert onContext() : "group shard called off its event loop";
        boolean other = groups.containsKey(req.groupId()) || consumers.has(req.groupId()) || offsets.containsKey(req.groupId());
        return shares.heartbeatStored(req, clientId, clientHost, other);
    }

    /** ShareGroupDescribe's answer for {@code groupId} (GROUP_ID_NOT_FOUND unless a share group). */
    ShareGroupDescribeResponseData.DescribedGroup shareGroupDescribe(String groupId) {
        assert onContext() : "group shard called off its event loop";
        return shares.describe(groupId);
    }

    /**
     * Whether {@code groupId}'s share offsets may be read or changed here (Kafka's GroupMetadataManager): a group of
     * another type is GROUP_ID_NOT_FOUND; describing or deleting needs a share group (GROUP_ID_NOT_FOUND), changing or
     * deleting an empty one (NON_EMPTY_GROUP); AlterShareGroupOffsets creates the share group when there is none, stored
     * before it answers.
     */
    Future<Errors> shareOffsetsCheck(String groupId, ShareOffsetsOp op) {
        assert onContext() : "group shard called off its event loop";
        if (groups.containsKey(groupId) || consumers.has(groupId) || offsets.containsKey(groupId)) return Future.succeededFuture(Errors.GROUP_ID_NOT_FOUND);
        if (!shares.has(groupId)) {
            return op == ShareOffsetsOp.ALTER ? shares.create(groupId).map(v -> Errors.NONE) : Future.succeededFuture(Errors.GROUP_ID_NOT_FOUND);
        }
        if (op != ShareOffsetsOp.DESCRIBE && shares.hasMembers(groupId)) return Future.succeededFuture(Errors.NON_EMPTY_GROUP);
        return Future.succeededFuture(Errors.NONE);
    }

    /** ConsumerGroupDescribe's answer for {@code groupId} (GROUP_ID_NOT_FOUND unless a consumer-protocol group). */
    ConsumerGroupDescribeResponseData.DescribedGroup consumerGroupDescribe(String groupId) {
        assert onContext() : "group shard called off its event loop";
        return consumers.describe(groupId);
    }

    /** Every group of this shard, including groups that only hold offsets (committed by consumers that assign). */
    List<GroupOverview> list() {
        assert onContext() : "group shard called off its event loop";
        List<GroupOverview> out = new ArrayList<>();
        Set<String> ids = new TreeSet<>(groups.keySet());
        ids.addAll(offsets.keySet());
        ids.addAll(consumers.groupIds());
        ids.addAll(shares.groupIds());
        for (String id : ids) {
            GroupOverview share = shares.overview(id);
            if (share != null) {
                out.add(share);
                continue;
            }
            GroupOverview modern = consumers.overview(id);
            if (modern != null) {
                out.add(modern);
                continue;
            }
            ClassicGroup g = groups.get(id);
            out.add(new GroupOverview(id, g == null || g.protocolType == null ? "" : g.protocolType,
                    g == null ? State.EMPTY.kafkaName : g.state.kafkaName, "classic"));
        }
        return out;
    }

    /** A group as DescribeGroups shows it, or null when the group does not exist. */
    GroupDescription describe(String groupId) {
        assert onContext() : "group shard called off its event loop";
        GroupDescription modern = consumers.summary(groupId);
        if (modern != null) return modern;
        GroupDescription share = shares.summary(groupId);
        if (share != null) return share;
        ClassicGroup g = groups.get(groupId);
        if (g == null) return offsets.containsKey(groupId) ? new GroupDescription(groupId, State.EMPTY.kafkaName, "", "", List.of()) : null;
        List<GroupDescription.MemberDescription> members = new ArrayList<>();
        for (Member m : g.members.values()) {
            members.add(new GroupDescription.MemberDescription(m.memberId, m.groupInstanceId, m.clientId, m.clientHost,
                    g.protocol == null ? new byte[0] : m.metadataFor(g.protocol), m.assignment));
        }
        return new GroupDescription(groupId, g.state.kafkaName, g.protocolType == null ? "" : g.protocolType,
                g.protocol == null ? "" : g.protocol, members);
    }

    /** Deletes a group without members and its offsets (DeleteGroups). */
    Future<Errors> deleteGroup(String groupId) {
        assert onContext() : "group shard called off its event loop";
        if (consumers.hasMembers(groupId) || shares.hasMembers(groupId)) return Future.succeededFuture(Errors.NON_EMPTY_GROUP);
        Future<Void> share = shares.deleteEmpty(groupId);
        if (share != null) return share.map(v -> Errors.NONE);
        Future<Void> stored = consumers.deleteEmpty(groupId);
        if (stored != null && !offsets.containsKey(groupId) && !groups.containsKey(groupId)) return stored.map(v -> Errors.NONE);
        ClassicGroup g = groups.get(groupId);
        if (g == null && !offsets.containsKey(groupId)) return Future.succeededFuture(Errors.GROUP_ID_NOT_FOUND);
        if (g != null && !g.members.isEmpty()) return Future.succeededFuture(Errors.NON_EMPTY_GROUP);
        return deleteOffsets(groupId, new ArrayList<>(committed(groupId).keySet()), true).map(v -> Errors.NONE);
    }

    /** OffsetDelete: removes offsets unless a member of the group is subscribed to the topic. */
    Future<Map<TopicPartition, Errors>> deleteOffsetsOf(String groupId, List<TopicPartition> partitions) {
        assert onContext() : "group shard called off its event loop";
        ClassicGroup g = groups.get(groupId);
        if (g == null && !offsets.containsKey(groupId)) return Future.failedFuture(new GroupIdNotFoundException(groupId));
        Set<String> subscribed = g == null ? Set.of() : subscribedTopics(g);
        Map<TopicPartition, Errors> result = new LinkedHashMap<>();
        List<TopicPartition> deletable = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            if (subscribed.contains(tp.topic())) {
                result.put(tp, Errors.GROUP_SUBSCRIBED_TO_TOPIC);
            } else {
                result.put(tp, Errors.NONE);
                deletable.add(tp);
            }
        }
        return deleteOffsets(groupId, deletable, false).map(v -> result);
    }

    /** Topics the members of a consumer group subscribe to (decoded from their subscription metadata). */
    private static Set<String> subscribedTopics(ClassicGroup g) {
        Set<String> topics = new HashSet<>();
        if (!"consumer".equals(g.protocolType) || g.protocol == null) return topics;
        for (Member m : g.members.values()) {
            try {
                topics.addAll(ConsumerProtocol
                        .deserializeSubscription(ByteBuffer.wrap(m.metadataFor(g.protocol))).topics());
            } catch (RuntimeException e) {
                LOG.debug("Undecodable subscription of {} in {}", m.memberId, g.groupId);
            }
        }
        return topics;
    }

    // ------------------------------------------------------------------------------------------ offsets

    /** Checks who commits: a member of the current generation, or anyone for an empty group with generation -1. */
    Errors validateCommit(String groupId, int generation, String memberId) {
        assert onContext() : "group shard called off its event loop";
        if (consumers.has(groupId)) return consumers.validateCommit(groupId, generation, memberId);
        ClassicGroup group = groups.get(groupId);
        if (generation < 0 && (memberId == null || memberId.isEmpty())) {
            return group == null || group.is(State.EMPTY) ? Errors.NONE : Errors.UNKNOWN_MEMBER_ID;
        }
        Member m = group == null ? null : group.members.get(memberId);
        if (m == null) return Errors.UNKNOWN_MEMBER_ID;
        if (generation != group.generation) return Errors.ILLEGAL_GENERATION;
        if (group.is(State.COMPLETING_REBALANCE)) return Errors.REBALANCE_IN_PROGRESS;
        resetSession(group, m);
        return Errors.NONE;
    }

    /** Stores offsets (already validated); completes once they are in the log. */
    Future<Void> commit(String groupId, Map<TopicPartition, Committed> commits) {
        assert onContext() : "group shard called off its event loop";
        if (commits.isEmpty()) return Future.succeededFuture();
        List<KeyValue> records = new ArrayList<>();
        commits.forEach((tp, c) -> records.add(new KeyValue(OffsetRecords.offsetKey(groupId, tp.topic(), tp.partition()), OffsetRecords.offsetValue(c))));
        return append(records).map(v -> {
            groups.computeIfAbsent(groupId, ClassicGroup::new);
            offsets.computeIfAbsent(groupId, g -> new HashMap<>()).putAll(commits);
            return null;
        });
    }

    /** The group's committed offsets, sorted; empty when it has none. */
    Map<TopicPartition, Committed> committed(String groupId) {
        assert onContext() : "group shard called off its event loop";
        TreeMap<TopicPartition, Committed> out = new TreeMap<>((a, b) -> a.topic().equals(b.topic())
                ? Integer.compare(a.partition(), b.partition()) : a.topic().compareTo(b.topic()));
        Map<TopicPartition, Committed> m = offsets.get(groupId);
        if (m != null) out.putAll(m);
        return out;
    }

    /** Deletes offsets of an empty group (or whole groups): tombstones first, then memory. */
    Future<Void> deleteOffsets(String groupId, List<TopicPartition> partitions, boolean wholeGroup) {
        List<KeyValue> records = new ArrayList<>();
        for (TopicPartition tp : partitions) records.add(new KeyValue(OffsetRecords.offsetKey(groupId, tp.topic(), tp.partition()), null));
        if (wholeGroup) records.add(new KeyValue(OffsetRecords.groupKey(groupId), null));
        if (records.isEmpty()) return Future.succeededFuture();
        return append(records).map(v -> {
            Map<TopicPartition, Committed> m = offsets.get(groupId);
            if (m != null) partitions.forEach(m::remove);
            if (wholeGroup) {
                offsets.remove(groupId);
                groups.remove(groupId);
            }
            return null;
        });
    }

    /** Removes offsets older than the retention of groups that have no members (offsets.retention.minutes). */
    Future<Void> expireOffsets() {
        assert onContext() : "group shard called off its event loop";
        long now = time.milliseconds();
        List<Future<Void>> all = new ArrayList<>();
        for (Map.Entry<String, Map<TopicPartition, Committed>> e : new ArrayList<>(offsets.entrySet())) {
            ClassicGroup g = groups.get(e.getKey());
            if (g != null && !g.is(State.EMPTY)) continue;
            List<TopicPartition> old = e.getValue().entrySet().stream()
                    .filter(c -> now - c.getValue().commitTimestamp() > settings.offsetsRetentionMs()).map(Map.Entry::getKey).toList();
            boolean everything = old.size() == e.getValue().size();
            if (!old.isEmpty()) all.add(deleteOffsets(e.getKey(), old, everything));
        }
        return Future.all(all).mapEmpty();
    }
}
