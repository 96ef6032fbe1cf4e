package io.runnel.share;

import io.runnel.group.GroupConfig;
import io.runnel.log.value.ReadResult;
import io.runnel.partition.CommittedRead;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.OnContext;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.runnel.share.SharePartitionState.AckBatch;
import io.runnel.share.SharePartitionState.Acquired;
import io.runnel.share.SharePartitionState.Batch;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This broker's share-partitions (KIP-932) and share sessions: for every share group reading a partition this broker
 * leads, the {@link SharePartitionState} of its records, and for every member fetching here, its session (the
 * partitions it fetches and the epoch of its requests). Fetches acquire records for a member under a lock of
 * {@code group.share.record.lock.duration.ms}; acknowledgements settle them; a lock that runs out, or a session that
 * ends (its final epoch, or its connection closing), makes them deliverable again.
 *
 * <p>Share groups read committed data only: reads stop at the last stable offset and the records of aborted
 * transactions are archived without being delivered (KIP-932's read_committed; Kafka 4.4 makes it
 * {@code share.isolation.level}). A group starts reading a partition at its end when it first fetches it
 * ({@code share.auto.offset.reset=latest}, Kafka's default).
 *
 * <p>Threads: all state belongs to one event-loop context of its own; calls hop there, reads hop to the partitions'
 * contexts and back. Bounds: a state holds at most {@code group.share.partition.max.record.locks} records; sessions are
 * at most {@link #MAX_SESSIONS} (Kafka's {@code group.share.max.share.sessions}); a fetch waits at most its max wait.
 */
public final class SharePartitionManager {
    private static final Logger LOG = LoggerFactory.getLogger(SharePartitionManager.class);
    /** Kafka's {@code group.share.max.share.sessions}. */
    public static final int MAX_SESSIONS = 2000;
    /** How often lock deadlines are checked. */
    private static final long LOCK_CHECK_MS = 100;
    /** Every this many lock checks (a second), states of partitions no longer led here are dropped. */
    private static final int LEADERSHIP_CHECK_TICKS = 10;
    /** Kafka's share session epochs: 0 opens a session, -1 closes it. */
    public static final int INITIAL_EPOCH = 0;
    public static final int FINAL_EPOCH = -1;

    /** A partition as the share APIs name it. */
    public record TopicIdPartition(Uuid topicId, int partition) {
    }

    /** What one fetch asks (the session's change, its acknowledgements and its bounds). */
    public record FetchCall(String groupId, String memberId, int sessionEpoch, String connectionId, List<TopicIdPartition> added,
                            List<TopicIdPartition> forgotten, Map<TopicIdPartition, List<AckBatch>> acks, boolean renewAllowed,
                            int maxRecords, int maxBytes, long maxWaitMs, boolean fetch, boolean recordLimit) {
    }

    /** One partition of a fetch's answer: records and the ranges acquired in them, or an error. */
    public record PartitionResult(TopicIdPartition tp, Errors error, ByteBuffer records, List<Acquired> acquired, int leaderId, int leaderEpoch) {
    }

    /** A fetch's or acknowledgement's answer: a top-level error, or per-partition fetch results and acknowledgement errors. */
    public record Result(Errors error, String message, List<PartitionResult> partitions, Map<TopicIdPartition, Errors> ackErrors) {
        static Result failed(Errors e, String message) {
            return new Result(e, message, List.of(), Map.of());
        }
    }

    private record StateKey(String groupId, Uuid topicId, int partition) {
    }

    /** A change waiting to be stored: what to put back if its write fails (null: nothing, as for a lock that ran out). */
    private record Pending(SharePartitionState.Undo undo, Promise<Void> stored) {
    }

    /** What this broker holds of one share-partition it leads: the state, and how it was loaded. */
    private static final class Held {
        final SharePartitionState state;
        /** The data partition's leader epoch when the state was loaded: the epoch its writes carry. */
        final int leaderEpoch;
        /** Whether it reads committed data only (share.isolation.level when it was loaded). */
        final boolean committedOnly;
        /**
         * Writes of the state go one at a time, each carrying every change made before it started (changes made
         * meanwhile wait in {@link #pending} for the next); so a write that fails holds exactly the acknowledgements
         * to put back.
         */
        boolean writing;
        final List<Pending> pending = new ArrayList<>();
        /** Completed when no write is in flight or pending (an eviction waits for it). */
        Promise<Void> drained;

        Held(SharePartitionState state, int leaderEpoch, boolean committedOnly) {
            this.state = state;
            this.leaderEpoch = leaderEpoch;
            this.committedOnly = committedOnly;
        }
    }

    private record SessionKey(String groupId, String memberId) {
    }

    private static final class Session {
        final SessionKey key;
        final String connectionId;
        int epoch = 1;
        final Set<TopicIdPartition> partitions = new LinkedHashSet<>();

        Session(SessionKey key, String connectionId) {
            this.key = key;
            this.connectionId = connectionId;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final TopicRegistry topics;
    private final SharePartitionState.Settings settings;
    private final int nodeId;
    private final ShareStateStore store;
    /** A group's configuration ({@code share.*} keys; every broker holds groups' configurations). */
    private final Function<String, Map<String, String>> groupConfig;
    /** Per group, its lock duration (share.record.lock.duration.ms) as last read. */
    private final Map<String, Long> lockDurations = new HashMap<>();
    private final Map<StateKey, Held> held = new HashMap<>();
    /** States being read from the store or started (one load per key). */
    private final Map<StateKey, Future<Held>> loading = new HashMap<>();
    private final Map<SessionKey, Session> sessions = new LinkedHashMap<>();
    /** Fetches waiting for something to acquire: completed by new data, a release, or their own timer. */
    private final List<Promise<Void>> waiting = new ArrayList<>();
    private long lockTimer = -1;
    private long ticks;

    public SharePartitionManager(Vertx vertx, TopicRegistry topics, TopicAdmin admin, SharePartitionState.Settings settings, int nodeId,
                                 ShareStateStore.StateTopic stateTopic, Function<String, Map<String, String>> groupConfig,
                                 ShareStateStore.Remote remote) {
        this.groupConfig = groupConfig;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.topics = topics;
        this.settings = settings;
        this.nodeId = nodeId;
        this.store = new ShareStateStore(vertx, context, topics, admin, nodeId, stateTopic, remote);
        context.runOnContext(v -> lockTimer = vertx.setPeriodic(LOCK_CHECK_MS, id -> {
            expireLocks();
            if (++ticks % LEADERSHIP_CHECK_TICKS == 0) dropLeadershipLost();
        }));
    }

    public void stop() {
        context.runOnContext(v -> {
            if (lockTimer >= 0) vertx.cancelTimer(lockTimer);
            waiting.forEach(p -> p.tryComplete());
            waiting.clear();
        });
    }

    /** The lock duration fetches of {@code groupId} report (ShareFetch's AcquisitionLockTimeoutMs). */
    public long lockDurationMs(String groupId) {
        return lockDurations.getOrDefault(groupId, settings.lockDurationMs());
    }

    /** ShareFetch: the session step, the acknowledgements, then the fetch (unless the session ends). */
    public Future<Result> fetch(FetchCall call) {
        return OnContext.deliver(OnContext.compose(context, () -> fetchHere(call)));
    }

    /** ShareAcknowledge: the session step (an epoch is used up as a fetch uses one), then the acknowledgements. */
    public Future<Result> acknowledge(String groupId, String memberId, int sessionEpoch, Map<TopicIdPartition, List<AckBatch>> acks,
                                      boolean renewAllowed) {
        return OnContext.deliver(OnContext.compose(context, () -> {
            SessionKey key = new SessionKey(groupId, memberId);
            Session s = sessions.get(key);
            if (sessionEpoch == INITIAL_EPOCH) return Future.succeededFuture(Result.failed(Errors.INVALID_SHARE_SESSION_EPOCH, "A share acknowledgement cannot open a session."));
            if (s == null) return Future.succeededFuture(Result.failed(Errors.SHARE_SESSION_NOT_FOUND, "Share session not found."));
            if (sessionEpoch != FINAL_EPOCH && sessionEpoch != s.epoch) {
                return Future.succeededFuture(Result.failed(Errors.INVALID_SHARE_SESSION_EPOCH,
                        "Expected session epoch " + s.epoch + ", got " + sessionEpoch + "."));
            }
            if (sessionEpoch == FINAL_EPOCH) sessions.remove(key); // its records are released once the acknowledgements are in
            else s.epoch = nextEpoch(s.epoch);
            return applyAcks(groupId, memberId, acks, renewAllowed).map(ackErrors -> {
                if (sessionEpoch == FINAL_EPOCH) end(s);
                return new Result(Errors.NONE, null, List.of(), ackErrors);
            });
        }));
    }

    /** A client connection closed: the sessions opened on it end, and their members' records are released. */
    public void connectionClosed(String connectionId) {
        context.runOnContext(v -> {
            for (Session s : List.copyOf(sessions.values())) if (s.connectionId.equals(connectionId)) end(s);
        });
    }

    private Future<Result> fetchHere(FetchCall call) {
        SessionKey key = new SessionKey(call.groupId(), call.memberId());
        Session s = sessions.get(key);
        if (call.sessionEpoch() == INITIAL_EPOCH) {
            if (!call.acks().isEmpty()) return Future.succeededFuture(Result.failed(Errors.INVALID_REQUEST,
                    "Acknowledgements cannot be sent with a request that opens a share session."));
            if (s == null && sessions.size() >= MAX_SESSIONS) {
                return Future.succeededFuture(Result.failed(Errors.SHARE_SESSION_LIMIT_REACHED, "The broker has too many share sessions."));
            }
            s = new Session(key, call.connectionId());
            sessions.put(key, s);
        } else if (s == null) {
            return Future.succeededFuture(Result.failed(Errors.SHARE_SESSION_NOT_FOUND, "Share session not found."));
        } else if (call.sessionEpoch() != FINAL_EPOCH && call.sessionEpoch() != s.epoch) {
            return Future.succeededFuture(Result.failed(Errors.INVALID_SHARE_SESSION_EPOCH,
                    "Expected session epoch " + s.epoch + ", got " + call.sessionEpoch() + "."));
        } else if (call.sessionEpoch() != FINAL_EPOCH) {
            s.epoch = nextEpoch(s.epoch);
        }
        Session session = s;
        if (call.sessionEpoch() == FINAL_EPOCH) sessions.remove(key);
        else {
            s.partitions.addAll(call.added());
            call.forgotten().forEach(s.partitions::remove);
        }
        return applyAcks(call.groupId(), call.memberId(), call.acks(), call.renewAllowed()).compose(ackErrors -> {
            if (call.sessionEpoch() == FINAL_EPOCH) {
                end(session);
                return Future.succeededFuture(new Result(Errors.NONE, null, List.of(), ackErrors));
            }
            if (!call.fetch() || session.partitions.isEmpty()) return Future.succeededFuture(new Result(Errors.NONE, null, List.of(), ackErrors));
            long deadline = System.currentTimeMillis() + Math.max(0, call.maxWaitMs());
            return attempt(call, session, deadline).map(parts -> new Result(Errors.NONE, null, parts, ackErrors));
        });
    }

    /** One pass over the session's partitions; when nothing was acquired, waits (to the deadline) and tries again. */
    private Future<List<PartitionResult>> attempt(FetchCall call, Session s, long deadline) {
        List<TopicIdPartition> parts = List.copyOf(s.partitions);
        int[] left = {call.maxRecords() > 0 ? call.maxRecords() : Integer.MAX_VALUE};
        Future<PartitionResult> chain = Future.succeededFuture();
        List<PartitionResult> out = new ArrayList<>();
        // One partition after the other, so that maxRecords is shared across them as Kafka shares it.
        for (TopicIdPartition tp : parts) {
            chain = chain.compose(prev -> left[0] <= 0 ? Future.succeededFuture(null)
                    : fetchOne(s, tp, left[0], call.maxBytes(), call.recordLimit()).map(r -> {
                        if (r != null) {
                            out.add(r);
                            for (Acquired a : r.acquired()) left[0] -= (int) (a.lastOffset() - a.firstOffset() + 1);
                        }
                        return r;
                    }));
        }
        return chain.compose(v -> {
            boolean any = out.stream().anyMatch(r -> r.error() != Errors.NONE || !r.acquired().isEmpty());
            long now = System.currentTimeMillis();
            if (any || now >= deadline || !sessions.containsKey(s.key)) return Future.succeededFuture(out);
            return awaitAcquirable(parts, call.groupId(), deadline - now).compose(x -> attempt(call, s, deadline));
        });
    }

    /** Reads and acquires one partition; null when there is nothing for it (no answer needed). */
    private Future<PartitionResult> fetchOne(Session s, TopicIdPartition tp, int maxRecords, int maxBytes, boolean recordLimit) {
        String groupId = s.key.groupId();
        Optional<LocalTopic> topic = topics.topicById(tp.topicId());
        if (topic.isEmpty()) return Future.succeededFuture(error(tp, Errors.UNKNOWN_TOPIC_ID, -1));
        if (tp.partition() < 0 || tp.partition() >= topic.get().partitions().size()) return Future.succeededFuture(error(tp, Errors.UNKNOWN_TOPIC_OR_PARTITION, -1));
        PartitionHandle h = topic.get().local(tp.partition());
        if (h == null || !h.isLeader()) return Future.succeededFuture(error(tp, Errors.NOT_LEADER_OR_FOLLOWER, topic.get().leader(tp.partition())));
        StateKey key = new StateKey(groupId, tp.topicId(), tp.partition());
        return stateFor(key, h).compose(x -> {
            SharePartitionState st = x.state;
            st.logStartMoved(h.logStartOffset());
            if (!st.hasAcquirable(x.committedOnly ? h.lastStableOffset() : h.highWatermark())) return Future.succeededFuture(null);
            return read(h, st, tp, s, maxRecords, maxBytes, x.committedOnly, recordLimit);
        }).recover(e -> Future.succeededFuture(error(tp, e instanceof NotLeaderOrFollowerException ? Errors.NOT_LEADER_OR_FOLLOWER
                : Errors.forException(e), -1)));
    }

    /**
     * The state of {@code key}: in memory, else as its share coordinator stores it, else new at the partition's end
     * ({@code share.auto.offset.reset=latest}) and stored at once, so that a restart or a new leader goes on from there.
     * The coordinator is told this broker's leader epoch of the partition, which fences the previous leader's writes.
     */
    private Future<Held> stateFor(StateKey key, PartitionHandle h) {
        Held x = held.get(key);
        int epoch = h.placement().leaderEpoch();
        if (x != null && x.leaderEpoch != epoch) {
            // Leadership moved since the state was loaded (away and back): another leader may have moved it on.
            forget(key::equals);
            x = null;
        }
        if (x != null) return Future.succeededFuture(x);
        Future<Held> pending = loading.get(key);
        if (pending != null) return pending;
        ShareSnapshot.Key stored = storeKey(key);
        Map<String, String> config = groupConfig.apply(key.groupId());
        SharePartitionState.Settings group = new SharePartitionState.Settings(
                intOr(config.get(GroupConfig.SHARE_DELIVERY_COUNT_LIMIT), settings.deliveryCountLimit()),
                intOr(config.get(GroupConfig.SHARE_PARTITION_MAX_RECORD_LOCKS), settings.maxRecordLocks()),
                intOr(config.get(GroupConfig.SHARE_RECORD_LOCK_DURATION_MS), (int) settings.lockDurationMs()));
        lockDurations.put(key.groupId(), group.lockDurationMs());
        boolean committed = !"read_uncommitted".equals(config.get(GroupConfig.SHARE_ISOLATION_LEVEL));
        Future<Held> f = store.call(new ShareStateStore.Read(stored, epoch)).compose(a -> {
            if (a.error() != Errors.NONE) return Future.failedFuture(persisterError(a.error()).exception());
            if (a.state() != null && a.state().startOffset() >= 0) {
                return Future.succeededFuture(new Held(SharePartitionState.restore(group, a.state()), epoch, committed));
            }
            int stateEpoch = a.state() == null ? 0 : a.state().stateEpoch();
            return startOffset(h, config.getOrDefault(GroupConfig.SHARE_AUTO_OFFSET_RESET, "latest"), committed).compose(start -> {
                Held fresh = new Held(SharePartitionState.startingAt(group, start, stateEpoch), epoch, committed);
                return persist(key, fresh, null).map(v -> fresh);
            });
        }).onComplete(ar -> {
            loading.remove(key);
            if (ar.succeeded()) held.putIfAbsent(key, ar.result());
        }).map(v -> held.get(key));
        loading.put(key, f);
        return f;
    }

    /** Where a group starts on a partition it never read: share.auto.offset.reset (latest, earliest, by_duration:...). */
    private static Future<Long> startOffset(PartitionHandle h, String reset, boolean committed) {
        long end = committed ? h.lastStableOffset() : h.highWatermark();
        if (reset.equals("earliest")) return Future.succeededFuture(h.logStartOffset());
        if (reset.startsWith("by_duration:")) {
            long since = System.currentTimeMillis() - java.time.Duration.parse(reset.substring("by_duration:".length())).toMillis();
            return h.listOffset(since, true, committed).map(o -> o.map(PartitionHandle.ListedOffset::offset).orElse(end));
        }
        return Future.succeededFuture(end);
    }

    private static int intOr(String value, int fallback) {
        try {
            return value == null ? fallback : Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private static ShareSnapshot.Key storeKey(StateKey key) {
        return new ShareSnapshot.Key(key.groupId(), key.topicId(), key.partition());
    }

    /**
     * Stores {@code x}'s state at its share coordinator, with the next write (one at a time per share-partition, each
     * carrying what changed before it started). If that write fails, the acknowledgement's change ({@code undo}) is put
     * back, as Kafka's SharePartition rolls back a transition its persister refused: its records are held by their
     * member again, who is told the error and may acknowledge them again. A fenced write (a newer leader of the
     * partition read the state, or AlterShareGroupOffsets gave it a new state epoch) drops the state here: the next
     * fetch reads it again. Fails with the error the client is shown ({@link #persisterError}).
     */
    private Future<Void> persist(StateKey key, Held x, SharePartitionState.Undo undo) {
        Promise<Void> stored = Promise.promise();
        x.pending.add(new Pending(undo, stored));
        if (!x.writing) write(key, x);
        return stored.future();
    }

    private void write(StateKey key, Held x) {
        List<Pending> carried = List.copyOf(x.pending);
        x.pending.clear();
        x.writing = true;
        if (x.drained == null) x.drained = Promise.promise();
        ShareSnapshot snap = x.state.snapshot(x.leaderEpoch, System.currentTimeMillis());
        store.call(new ShareStateStore.Write(storeKey(key), snap)).compose(a -> {
            if (a.error() == Errors.NONE) return Future.<Void>succeededFuture();
            if ((a.error() == Errors.FENCED_STATE_EPOCH || a.error() == Errors.FENCED_LEADER_EPOCH) && held.get(key) == x) forget(key::equals);
            return Future.<Void>failedFuture(persisterError(a.error()).exception());
        }).onComplete(ar -> {
            x.writing = false;
            if (ar.failed()) {
                for (int i = carried.size() - 1; i >= 0; i--) {
                    if (carried.get(i).undo() != null) x.state.rollback(carried.get(i).undo());
                }
                carried.forEach(c -> c.stored().fail(ar.cause()));
            } else {
                carried.forEach(c -> c.stored().complete());
            }
            if (!x.pending.isEmpty()) {
                write(key, x);
            } else {
                x.drained.complete();
                x.drained = null;
            }
        });
    }

    /** Completes once {@code x} has no write in flight or waiting. */
    private static Future<Void> drained(Held x) {
        return x.drained == null ? Future.succeededFuture() : x.drained.future();
    }

    /**
     * The error a client is shown for a share coordinator's (Kafka's {@code SharePartition.fetchPersisterError}):
     * fenced epochs NOT_LEADER_OR_FOLLOWER, a coordinator moving or out of reach COORDINATOR_NOT_AVAILABLE.
     */
    static Errors persisterError(Errors e) {
        return switch (e) {
            case NONE, GROUP_ID_NOT_FOUND, UNKNOWN_TOPIC_OR_PARTITION -> e;
            case FENCED_STATE_EPOCH, FENCED_LEADER_EPOCH -> Errors.NOT_LEADER_OR_FOLLOWER;
            case NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, NETWORK_EXCEPTION, REQUEST_TIMED_OUT,
                 NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND -> Errors.COORDINATOR_NOT_AVAILABLE;
            default -> Errors.UNKNOWN_SERVER_ERROR;
        };
    }

    private Future<PartitionResult> read(PartitionHandle h, SharePartitionState state, TopicIdPartition tp, Session s, int maxRecords,
                                         int maxBytes, boolean committed, boolean recordLimit) {
        long from = state.nextFetchOffset();
        Future<CommittedRead> reading = committed ? h.readCommitted(from, maxBytes, true)
                : h.read(from, maxBytes, true).map(rr -> new CommittedRead(rr, List.of()));
        return reading.map(read -> {
            // A session that ended while this read was out (the member closed, its connection dropped) acquires
            // nothing: no one would ever acknowledge or release what it took.
            if (sessions.get(s.key) != s) return null;
            ReadResult rr = read.read();
            List<Batch> batches = batches(read);
            List<Acquired> acquired = state.acquire(s.key.memberId(), batches, maxRecords, System.currentTimeMillis(), recordLimit);
            if (acquired.isEmpty()) return null;
            // The bytes up to the end of the batch holding the last record acquired (the client keeps only the
            // offsets of the acquired ranges).
            long last = acquired.get(acquired.size() - 1).lastOffset();
            ByteBuffer bytes = rr.records().duplicate();
            int end = bytes.position();
            for (RecordBatch b : MemoryRecords.readableRecords(bytes.duplicate()).batches()) {
                end += b.sizeInBytes();
                if (b.lastOffset() >= last) break;
            }
            bytes.limit(end);
            return new PartitionResult(tp, Errors.NONE, bytes.slice(), acquired, nodeId, -1);
        });
    }

    /**
     * The read's batches; transaction markers and the records of aborted transactions are archived, not delivered (a
     * Kafka share consumer would acknowledge a marker's offset as GAP; archiving it here spares that round trip and
     * every other client the need).
     */
    private static List<Batch> batches(CommittedRead read) {
        List<Batch> out = new ArrayList<>();
        for (RecordBatch b : MemoryRecords.readableRecords(read.read().records().duplicate()).batches()) {
            boolean skip = b.isControlBatch() || read.aborted(b.producerId(), b.baseOffset(), b.isTransactional());
            out.add(new Batch(b.baseOffset(), b.lastOffset(), skip));
        }
        return out;
    }

    private PartitionResult error(TopicIdPartition tp, Errors e, int leader) {
        return new PartitionResult(tp, e, null, List.of(), leader, -1);
    }

    /** Completes when a partition of the fetch has new data or a record was released, or after {@code waitMs}. */
    private Future<Void> awaitAcquirable(List<TopicIdPartition> parts, String groupId, long waitMs) {
        Promise<Void> p = Promise.promise();
        waiting.add(p);
        long timer = vertx.setTimer(Math.max(1, waitMs), id -> p.tryComplete());
        for (TopicIdPartition tp : parts) {
            Optional<LocalTopic> topic = topics.topicById(tp.topicId());
            PartitionHandle h = topic.map(t -> t.local(tp.partition())).orElse(null);
            Held x = held.get(new StateKey(groupId, tp.topicId(), tp.partition()));
            SharePartitionState st = x == null ? null : x.state;
            // A full window waits for acknowledgements or releases (wakeWaiting), not for data it could not take.
            if (h == null || st == null || st.inFlight() >= st.maxRecordLocks()) continue;
            h.awaitReadable(Math.max(st.endOffset() + 1, h.lastStableOffset()), true, p.future())
                    .onComplete(ar -> context.runOnContext(v -> p.tryComplete()));
        }
        return p.future().onComplete(x -> {
            vertx.cancelTimer(timer);
            waiting.remove(p);
        });
    }

    private void wakeWaiting() {
        for (Promise<Void> p : List.copyOf(waiting)) p.tryComplete();
    }

    /**
     * Applies acknowledgements and stores the states they changed; a partition's result is NONE only once its state
     * is stored (COORDINATOR_NOT_AVAILABLE when the store failed, as Kafka maps its persister's errors).
     */
    private Future<Map<TopicIdPartition, Errors>> applyAcks(String groupId, String memberId, Map<TopicIdPartition, List<AckBatch>> acks,
                                                          boolean renewAllowed) {
        Map<TopicIdPartition, Errors> out = new LinkedHashMap<>();
        List<Future<Void>> writes = new ArrayList<>();
        boolean released = false;
        long now = System.currentTimeMillis();
        for (Map.Entry<TopicIdPartition, List<AckBatch>> e : acks.entrySet()) {
            TopicIdPartition tp = e.getKey();
            StateKey key = new StateKey(groupId, tp.topicId(), tp.partition());
            Held x = held.get(key);
            if (x == null) {
                out.put(tp, Errors.UNKNOWN_TOPIC_OR_PARTITION);
                continue;
            }
            // A group may forbid renewals (share.renew.acknowledge.enable=false): Kafka refuses them as INVALID_RECORD_STATE.
            boolean renewing = renewAllowed && e.getValue().stream().anyMatch(SharePartitionManager::renews);
            SharePartitionState.Acknowledged r = renewing && "false".equals(groupConfig.apply(groupId).get(GroupConfig.SHARE_RENEW_ACKNOWLEDGE_ENABLE))
                    ? new SharePartitionState.Acknowledged(Errors.INVALID_RECORD_STATE, null)
                    : x.state.acknowledgeUndoable(memberId, e.getValue(), renewAllowed, now);
            out.put(tp, r.error());
            // Renewals alone are not stored (as in Kafka): after a failover the record is delivered again anyway.
            if (r.error() != Errors.NONE || r.undo().isEmpty()) continue;
            released = true;
            writes.add(persist(key, x, r.undo()).onFailure(err -> {
                LOG.warn("Storing the share state of {} for group {} failed: {}", tp, groupId, err.toString());
                out.put(tp, Errors.forException(err));
            }));
        }
        if (released) wakeWaiting();
        return Future.join(writes).transform(ar -> Future.succeededFuture(out));
    }

    private static boolean renews(AckBatch b) {
        if (b.types() == null) return false; // malformed: the state refuses it
        for (byte t : b.types()) if (t == SharePartitionState.RENEW) return true;
        return false;
    }

    private void end(Session s) {
        if (sessions.get(s.key) == s) sessions.remove(s.key);
        boolean released = false;
        for (TopicIdPartition tp : s.partitions) {
            StateKey key = new StateKey(s.key.groupId(), tp.topicId(), tp.partition());
            Held x = held.get(key);
            if (x != null && x.state.releaseMember(s.key.memberId())) {
                released = true;
                persistQuietly(key, x);
            }
        }
        if (released) wakeWaiting();
        evictIfIdle(s.key.groupId());
    }

    /**
     * Drops the states of {@code groupId} once no member has a session here, when their writes are done (as Kafka's
     * share-partition cache forgets a group whose members are gone): what is stored is then the state, and an
     * AlterShareGroupOffsets or a group deleted meanwhile is seen at the next fetch.
     */
    private void evictIfIdle(String groupId) {
        if (sessions.keySet().stream().anyMatch(k -> k.groupId().equals(groupId))) return;
        List<Future<Void>> writes = new ArrayList<>();
        held.forEach((k, x) -> {
            if (k.groupId().equals(groupId)) writes.add(drained(x));
        });
        if (writes.isEmpty()) return;
        Future.join(writes).onComplete(ar -> {
            if (sessions.keySet().stream().noneMatch(k -> k.groupId().equals(groupId))) forget(k -> k.groupId().equals(groupId));
        });
    }

    /** Drops the states of partitions this broker no longer leads (their new leader reads them from the coordinator). */
    private void dropLeadershipLost() {
        forget(k -> {
            PartitionHandle h = topics.topicById(k.topicId()).map(t -> t.local(k.partition())).orElse(null);
            return h == null || !h.isLeader() || h.placement().leaderEpoch() != held.get(k).leaderEpoch;
        });
    }

    private void expireLocks() {
        long now = System.currentTimeMillis();
        boolean any = false;
        for (Map.Entry<StateKey, Held> e : held.entrySet()) {
            if (e.getValue().state.expireLocks(now)) {
                any = true;
                persistQuietly(e.getKey(), e.getValue());
            }
        }
        if (any) wakeWaiting();
    }

    /** {@link #persist} where nobody waits for it (a release, a lock that ran out): the next write carries it if it fails. */
    private void persistQuietly(StateKey key, Held x) {
        persist(key, x, null).onFailure(err -> LOG.warn("Storing the share state of {} failed: {}", key, err.toString()));
    }

    /** Kafka's next session epoch: wraps from Integer.MAX_VALUE to 1. */
    public static int nextEpoch(int epoch) {
        return epoch == Integer.MAX_VALUE ? 1 : epoch + 1;
    }

    /** A share-partition's start offset as DescribeShareGroupOffsets reports it (-1: the group never read it). */
    public record StartOffset(TopicIdPartition tp, long startOffset, int leaderEpoch, long lag) {
    }

    /**
     * The start offsets of {@code groupId} on {@code parts}, or on every partition it has state for when null; lag is
     * Kafka's: the partition's end minus the start offset minus the records done after it (-1 when unknown).
     */
    public Future<List<StartOffset>> startOffsets(String groupId, List<TopicIdPartition> parts) {
        return OnContext.deliver(OnContext.compose(context, () -> {
            Future<List<TopicIdPartition>> which = parts != null ? Future.succeededFuture(parts)
                    : store.statesOf(groupId).map(m -> {
                        Set<TopicIdPartition> all = new LinkedHashSet<>();
                        m.keySet().forEach(k -> all.add(new TopicIdPartition(k.topicId(), k.partition())));
                        held.keySet().stream().filter(k -> k.groupId().equals(groupId)).forEach(k -> all.add(new TopicIdPartition(k.topicId(), k.partition())));
                        return List.copyOf(all);
                    });
            return which.compose(list -> {
                List<Future<StartOffset>> out = new ArrayList<>();
                for (TopicIdPartition tp : list) out.add(startOffset(groupId, tp));
                return Future.all(out).map(cf -> out.stream().map(Future::result).toList());
            });
        }));
    }

    private Future<StartOffset> startOffset(String groupId, TopicIdPartition tp) {
        StateKey key = new StateKey(groupId, tp.topicId(), tp.partition());
        PartitionHandle h = topics.topicById(tp.topicId()).map(t -> t.local(tp.partition())).orElse(null);
        Held x = held.get(key);
        long end = h != null && h.isLeader() ? (x == null || x.committedOnly ? h.lastStableOffset() : h.highWatermark()) : -1;
        if (x != null) {
            return Future.succeededFuture(new StartOffset(tp, x.state.startOffset(), x.leaderEpoch, lag(end, x.state.startOffset(), x.state.deliveryComplete())));
        }
        return store.call(new ShareStateStore.Summary(storeKey(key))).compose(a -> {
            if (a.error() != Errors.NONE) return Future.failedFuture(persisterError(a.error()).exception());
            ShareSnapshot s = a.state();
            // Another broker leading the partition: the lag is not known here.
            return Future.succeededFuture(s == null ? new StartOffset(tp, -1, -1, -1)
                    : new StartOffset(tp, s.startOffset(), s.leaderEpoch(), lag(end, s.startOffset(), Math.max(0, s.deliveryCompleteCount()))));
        });
    }

    private static long lag(long end, long start, int complete) {
        return end < 0 || start < 0 ? -1 : Math.max(0, end - start - complete);
    }

    /**
     * Sets {@code groupId}'s start offsets (AlterShareGroupOffsets; its coordinator checked it has no members): each
     * share-partition starts again there with nothing in flight.
     */
    public Future<Map<TopicIdPartition, Errors>> alterStartOffsets(String groupId, Map<TopicIdPartition, Long> starts) {
        return OnContext.deliver(OnContext.compose(context, () -> {
            Map<TopicIdPartition, Errors> out = new LinkedHashMap<>();
            List<Future<Void>> writes = new ArrayList<>();
            starts.forEach((tp, start) -> {
                if (topics.topicById(tp.topicId()).map(t -> tp.partition() >= 0 && tp.partition() < t.partitions().size()).orElse(false)) {
                    StateKey key = new StateKey(groupId, tp.topicId(), tp.partition());
                    ShareSnapshot.Key stored = storeKey(key);
                    forget(key::equals);
                    out.put(tp, Errors.NONE);
                    // As Kafka: the state starts again with the next state epoch, which fences the partition leader's copy.
                    writes.add(store.call(new ShareStateStore.Summary(stored))
                            .compose(a -> a.error() != Errors.NONE ? Future.succeededFuture(a)
                                    : store.call(new ShareStateStore.Initialize(stored, a.state() == null ? 0 : a.state().stateEpoch() + 1, start)))
                            .map(a -> {
                                if (a.error() != Errors.NONE) out.put(tp, persisterError(a.error()));
                                return null;
                            }));
                } else {
                    out.put(tp, Errors.UNKNOWN_TOPIC_OR_PARTITION);
                }
            });
            return Future.join(writes).transform(ar -> Future.succeededFuture(out));
        }));
    }

    /** Deletes {@code groupId}'s state on every partition of {@code topicIds} (DeleteShareGroupOffsets; an empty group). */
    public Future<Map<Uuid, Errors>> deleteStartOffsets(String groupId, List<Uuid> topicIds) {
        return OnContext.deliver(OnContext.compose(context, () -> store.statesOf(groupId).compose(stored -> {
            Map<Uuid, Errors> out = new LinkedHashMap<>();
            List<Future<Void>> deletes = new ArrayList<>();
            for (Uuid id : topicIds) {
                List<ShareSnapshot.Key> keys = stored.keySet().stream().filter(k -> k.topicId().equals(id)).toList();
                boolean inMemory = held.keySet().stream().anyMatch(k -> k.groupId().equals(groupId) && k.topicId().equals(id));
                if (keys.isEmpty() && !inMemory) {
                    out.put(id, Errors.UNKNOWN_TOPIC_OR_PARTITION);
                    continue;
                }
                out.put(id, Errors.NONE);
                forget(k -> k.groupId().equals(groupId) && k.topicId().equals(id));
                for (ShareSnapshot.Key k : keys) deletes.add(delete(k).onFailure(x -> out.put(id, Errors.forException(x))));
            }
            return Future.join(deletes).transform(ar -> Future.succeededFuture(out));
        })));
    }

    private Future<Void> delete(ShareSnapshot.Key key) {
        return store.call(new ShareStateStore.Delete(key)).compose(a -> a.error() == Errors.NONE ? Future.succeededFuture()
                : Future.failedFuture(persisterError(a.error()).exception()));
    }

    /** Drops what this manager holds of the share-partitions {@code which} selects. */
    private void forget(Predicate<StateKey> which) {
        held.keySet().removeIf(which);
    }

    /** Deletes every share-partition state of {@code groupId} (DeleteGroups of a share group without members). */
    public Future<Void> deleteGroupState(String groupId) {
        return OnContext.deliver(OnContext.compose(context, () -> store.statesOf(groupId).compose(stored -> {
            forget(k -> k.groupId().equals(groupId));
            List<Future<Void>> deletes = new ArrayList<>();
            for (ShareSnapshot.Key k : stored.keySet()) deletes.add(delete(k));
            return Future.all(deletes).<Void>mapEmpty();
        })));
    }

    /** The share coordinator of the state partitions this broker leads (for the inter-broker share state APIs). */
    public ShareStateStore stateStore() {
        return store;
    }

    /** What the share-partitions of {@code groupId} this broker leads hold now (the console's view). */
    public Future<Map<TopicIdPartition, SharePartitionState.Stats>> stats(String groupId) {
        return OnContext.deliver(OnContext.call(context, () -> {
            Map<TopicIdPartition, SharePartitionState.Stats> out = new LinkedHashMap<>();
            held.forEach((k, x) -> {
                if (k.groupId().equals(groupId)) out.put(new TopicIdPartition(k.topicId(), k.partition()), x.state.stats());
            });
            return out;
        }));
    }

    /** The delivery state of a group on a partition, for tests and the console (on this manager's context). */
    public Future<Optional<SharePartitionState>> state(String groupId, Uuid topicId, int partition) {
        return OnContext.deliver(OnContext.call(context, () -> Optional.ofNullable(held.get(new StateKey(groupId, topicId, partition))).map(x -> x.state)));
    }
}
