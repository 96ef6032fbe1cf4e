package io.runnel.share;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.protocol.Errors;

/**
 * The delivery state of one share group on one partition (KIP-932's share-partition): which records of the log the
 * group's members may be given, hold, or are done with. Records from {@link #startOffset()} to {@link #endOffset()}
 * (the in-flight window) each have a state and a delivery count (an offset of the window that held no record, compacted
 * away, has none and counts as done); everything before the start offset is done
 * (acknowledged or archived), everything after the end offset has never been delivered.
 *
 * <p>States are Kafka's ({@code RecordState}): AVAILABLE (may be acquired), ACQUIRED (held by one member under a
 * time-limited lock), ACKNOWLEDGED and ARCHIVED (terminal). Acquiring counts a delivery; a release, or a lock that
 * expires, makes the record AVAILABLE again, or ARCHIVED once it was delivered {@code deliveryCountLimit} times. The
 * start offset moves past every leading terminal record, so the window holds only what is still in play; it holds at
 * most {@code maxRecordLocks} records (Kafka's {@code group.share.partition.max.record.locks}), plus the rest of the
 * log batch that reached the bound (records are acquired a whole log batch at a time, as Kafka's default
 * batch-optimized mode does).
 *
 * <p>What is durable is a {@link ShareSnapshot}: the start offset and the window's states, with acquired records
 * written as AVAILABLE (as Kafka never persists an acquisition: after a restart or failover they are delivered again,
 * their delivery count kept).
 *
 * <p>Plain state: one owner (the partition's context) calls it; times are passed in.
 */
public final class SharePartitionState {
    /** Kafka's {@code RecordState} ids, which {@link ShareSnapshot} stores. */
    public enum RecordState {
        AVAILABLE(0), ACQUIRED(1), ACKNOWLEDGED(2), ARCHIVED(4);

        public final byte id;

        RecordState(int id) {
            this.id = (byte) id;
        }

        boolean terminal() {
            return this == ACKNOWLEDGED || this == ARCHIVED;
        }

        static RecordState of(byte id) {
            for (RecordState s : values()) if (s.id == id) return s;
            throw new IllegalArgumentException("unknown delivery state " + id);
        }
    }

    /** Acknowledgement types of ShareFetch and ShareAcknowledge (KIP-932; RENEW from version 2). */
    public static final byte GAP = 0;
    public static final byte ACCEPT = 1;
    public static final byte RELEASE = 2;
    public static final byte REJECT = 3;
    public static final byte RENEW = 4;

    /** The group's keys that govern delivery (Kafka's {@code share.*} group configs). */
    public record Settings(int deliveryCountLimit, int maxRecordLocks, long lockDurationMs) {
    }

    /**
     * A log batch a fetch read: offsets {@code baseOffset..lastOffset}; {@code archive} for a batch not to deliver
     * (a transaction marker, or records of an aborted transaction, which a share group never sees).
     */
    public record Batch(long baseOffset, long lastOffset, boolean archive) {
        public Batch(long baseOffset, long lastOffset) {
            this(baseOffset, lastOffset, false);
        }
    }

    /** Offsets handed to a member (ShareFetch's AcquiredRecords): ascending, not overlapping. */
    public record Acquired(long firstOffset, long lastOffset, short deliveryCount) {
    }

    /** One acknowledgement batch: one type for the whole range, or one per offset. */
    public record AckBatch(long firstOffset, long lastOffset, byte[] types) {
    }

    /**
     * What an acknowledgement changed, to be put back if it cannot be stored ({@link #rollback}): the member, and for
     * each record it gave up (accepted, released, rejected) its offset, delivery count and the lock deadline it had.
     */
    public record Undo(String member, long[] offsets, short[] deliveryCounts, long[] lockDeadlines) {
        static final Undo NONE = new Undo("", new long[0], new short[0], new long[0]);

        public boolean isEmpty() {
            return offsets.length == 0;
        }
    }

    /** An acknowledgement's outcome: NONE, INVALID_REQUEST or INVALID_RECORD_STATE, and what to undo. */
    public record Acknowledged(Errors error, Undo undo) {
    }

    private static final class Rec {
        RecordState state;
        short deliveryCount;
        String member;
        long lockDeadline;

        Rec(RecordState state, short deliveryCount) {
            this.state = state;
            this.deliveryCount = deliveryCount;
        }
    }

    private final Settings settings;
    /** Every offset from startOffset to endOffset: the in-flight window. */
    private final TreeMap<Long, Rec> window = new TreeMap<>();
    private long startOffset;
    private long endOffset;
    private int stateEpoch;
    /** The log's start as last told ({@link #logStartMoved}): nothing below it is ever put back. */
    private long logStartFloor;
    /** No lock runs out before this (it may be earlier than the earliest lock: a renewal or release leaves it). */
    private long lockCheckAt = Long.MAX_VALUE;

    private SharePartitionState(Settings settings, long startOffset, int stateEpoch) {
        this.settings = settings;
        this.startOffset = startOffset;
        this.endOffset = startOffset - 1;
        this.stateEpoch = stateEpoch;
    }

    /** A group starting to read the partition at {@code startOffset} (from {@code share.auto.offset.reset}). */
    public static SharePartitionState startingAt(Settings settings, long startOffset) {
        return startingAt(settings, startOffset, 0);
    }

    /** The same, in state epoch {@code stateEpoch} (a state initialized by its coordinator without a start offset). */
    public static SharePartitionState startingAt(Settings settings, long startOffset, int stateEpoch) {
        return new SharePartitionState(settings, startOffset, stateEpoch);
    }

    /** The state a snapshot describes (offsets of the window it does not name held no record: done). */
    public static SharePartitionState restore(Settings settings, ShareSnapshot s) {
        SharePartitionState st = new SharePartitionState(settings, s.startOffset(), s.stateEpoch());
        for (ShareSnapshot.StateBatch b : s.batches()) {
            for (long o = Math.max(b.firstOffset(), s.startOffset()); o <= b.lastOffset(); o++) {
                RecordState state = RecordState.of(b.deliveryState());
                st.window.put(o, new Rec(state == RecordState.ACQUIRED ? RecordState.AVAILABLE : state, b.deliveryCount()));
            }
        }
        if (!st.window.isEmpty()) st.endOffset = st.window.lastKey();
        st.advanceStart();
        return st;
    }

    public long startOffset() {
        return startOffset;
    }

    /** The last offset in the window, {@code startOffset() - 1} when it is empty. */
    public long endOffset() {
        return endOffset;
    }

    public int stateEpoch() {
        return stateEpoch;
    }

    /** The most records the window holds ({@code share.partition.max.record.locks}). */
    public int maxRecordLocks() {
        return settings.maxRecordLocks();
    }

    /** Records in the window (acquired, available again, or done but behind one that is not). */
    public int inFlight() {
        return window.size();
    }

    /**
     * What the window holds now, for the console: records acquired (locked to a member), available (delivered before
     * and given back, or not delivered yet), acknowledged and archived (done, behind one that is not), and how many
     * of the records still in play are on each delivery count.
     */
    public record Stats(long startOffset, long endOffset, int acquired, int available, int acknowledged, int archived,
                        Map<Short, Integer> deliveryCounts) {
    }

    public Stats stats() {
        int acquired = 0;
        int available = 0;
        int acknowledged = 0;
        int archived = 0;
        Map<Short, Integer> counts = new TreeMap<>();
        for (Rec r : window.values()) {
            switch (r.state) {
                case ACQUIRED -> acquired++;
                case AVAILABLE -> available++;
                case ACKNOWLEDGED -> acknowledged++;
                default -> archived++;
            }
            if (!r.state.terminal() && r.deliveryCount > 0) counts.merge(r.deliveryCount, 1, Integer::sum);
        }
        return new Stats(startOffset, endOffset, acquired, available, acknowledged, archived, counts);
    }

    /** The state of one offset of the window, or null outside it. */
    public RecordState stateOf(long offset) {
        Rec r = window.get(offset);
        return r == null ? null : r.state;
    }

    /** The delivery count of one offset of the window (0 outside it). */
    public int deliveryCountOf(long offset) {
        Rec r = window.get(offset);
        return r == null ? 0 : r.deliveryCount;
    }

    /** Records acknowledged or archived at or after the start offset (Kafka's DeliveryCompleteCount). */
    public int deliveryComplete() {
        int n = 0;
        for (Rec r : window.values()) if (r.state.terminal()) n++;
        return n;
    }

    /** Where a fetch should read: the first AVAILABLE record of the window, else the offset after it. */
    public long nextFetchOffset() {
        for (Map.Entry<Long, Rec> e : window.entrySet()) if (e.getValue().state == RecordState.AVAILABLE) return e.getKey();
        return endOffset + 1;
    }

    /** Whether a fetch may acquire anything below {@code readableEnd} (the high watermark or the last stable offset). */
    public boolean hasAcquirable(long readableEnd) {
        long next = nextFetchOffset();
        return next < readableEnd && (next <= endOffset || window.size() < settings.maxRecordLocks());
    }

    /**
     * Acquires for {@code member} the AVAILABLE records of the window and the new records in {@code batches} (read
     * from {@link #nextFetchOffset}, in offset order), whole batches until {@code maxRecords} are acquired (a soft
     * bound, as Kafka's batch-optimized mode) or the window is full. Offsets no batch holds (compacted away) are done.
     */
    public List<Acquired> acquire(String member, List<Batch> batches, int maxRecords, long nowMs) {
        return acquire(member, batches, maxRecords, nowMs, false);
    }

    /**
     * The same; with {@code recordLimit} (Kafka's record_limit acquire mode, ShareFetch v2) at most {@code maxRecords}
     * are acquired, a batch cut where the limit falls.
     */
    public List<Acquired> acquire(String member, List<Batch> batches, int maxRecords, long nowMs, boolean recordLimit) {
        List<Acquired> out = new ArrayList<>();
        int count = 0;
        long deadline = nowMs + settings.lockDurationMs();
        batches:
        for (Batch b : batches) {
            if (count >= maxRecords) break;
            // Kafka's throttled delivery: a batch holding records delivered throttleLimit() times or more goes out on
            // its own, and ever smaller parts of it as the count grows (its size halved per delivery past the limit),
            // so that one record that fails its consumers does not take a whole batch to the delivery limit.
            int redelivered = maxAvailableDeliveryCount(b);
            long throttledMax = Long.MAX_VALUE;
            if (redelivered >= throttleLimit()) {
                if (count > 0) break;
                throttledMax = Math.max(1, (b.lastOffset() - b.baseOffset() + 1) >> (redelivered - throttleLimit() + 1));
            }
            for (long o = Math.max(b.baseOffset(), startOffset); o <= b.lastOffset(); o++) {
                Rec r;
                if (o > endOffset) {
                    // A full window takes nothing new until its start moves (the client keeps only the offsets of
                    // the ranges it is given, so a batch may be cut).
                    if (window.size() >= settings.maxRecordLocks()) break;
                    r = new Rec(RecordState.AVAILABLE, (short) 0);
                    window.put(o, r);
                    endOffset = o;
                } else {
                    r = window.get(o);
                    if (r == null || r.state != RecordState.AVAILABLE) continue; // absent: no record there, done
                }
                if (b.archive()) {
                    finish(r, RecordState.ARCHIVED);
                    continue;
                }
                // A record on its last delivery goes out alone, as Kafka hands it out: if it is what fails its
                // consumers, it is archived without taking the records around it along.
                boolean lastChance = r.deliveryCount + 1 >= settings.deliveryCountLimit() && r.deliveryCount > 0;
                if (lastChance && count > 0) break batches;
                if (recordLimit && count >= maxRecords) break batches;
                if (count >= throttledMax) break batches;
                r.state = RecordState.ACQUIRED;
                r.deliveryCount++;
                r.member = member;
                r.lockDeadline = deadline;
                lockCheckAt = Math.min(lockCheckAt, deadline);
                count++;
                Acquired last = out.isEmpty() ? null : out.get(out.size() - 1);
                if (last != null && last.lastOffset() == o - 1 && last.deliveryCount() == r.deliveryCount) {
                    out.set(out.size() - 1, new Acquired(last.firstOffset(), o, last.deliveryCount()));
                } else {
                    out.add(new Acquired(o, o, r.deliveryCount));
                }
                if (lastChance) break batches;
            }
            if (throttledMax != Long.MAX_VALUE && count > 0) break; // a throttled batch goes out on its own
        }
        advanceStart(); // archived gaps at the start
        return out;
    }

    /** Kafka's throttle limit: half the delivery limit, rounded up, at least 2. */
    int throttleLimit() {
        return Math.max(2, (settings.deliveryCountLimit() + 1) / 2);
    }

    /** The highest delivery count of the AVAILABLE records of the window in batch {@code b} (0: none delivered). */
    private int maxAvailableDeliveryCount(Batch b) {
        if (b.baseOffset() > endOffset) return 0;
        int max = 0;
        for (Rec r : window.subMap(b.baseOffset(), true, b.lastOffset(), true).values()) {
            if (r.state == RecordState.AVAILABLE) max = Math.max(max, r.deliveryCount);
        }
        return max;
    }

    /**
     * Applies {@code member}'s acknowledgements, all or none: every offset named (at or after the start offset) must be
     * ACQUIRED by that member. Returns NONE, INVALID_REQUEST (malformed batches) or INVALID_RECORD_STATE.
     */
    public Errors acknowledge(String member, List<AckBatch> batches, boolean renewAllowed, long nowMs) {
        return acknowledgeUndoable(member, batches, renewAllowed, nowMs).error();
    }

    /**
     * {@link #acknowledge}, with what it changed: a caller that must store the change before it answers (Kafka's
     * SharePartition) gives it to {@link #rollback} if the store fails. Renewals are not undone (Kafka does not store
     * them either).
     */
    public Acknowledged acknowledgeUndoable(String member, List<AckBatch> batches, boolean renewAllowed, long nowMs) {
        Errors e = check(member, batches, renewAllowed);
        if (e != Errors.NONE) return new Acknowledged(e, Undo.NONE);
        int n = 0;
        for (AckBatch b : batches) n += (int) Math.max(0, b.lastOffset() - Math.max(b.firstOffset(), startOffset) + 1);
        long[] offsets = new long[n];
        short[] counts = new short[n];
        long[] deadlines = new long[n];
        int i = 0;
        for (AckBatch b : batches) {
            for (long o = Math.max(b.firstOffset(), startOffset); o <= b.lastOffset(); o++) {
                byte t = b.types().length == 1 ? b.types()[0] : b.types()[(int) (o - b.firstOffset())];
                Rec r = window.get(o);
                if (t == RENEW) {
                    r.lockDeadline = nowMs + settings.lockDurationMs();
                    lockCheckAt = Math.min(lockCheckAt, r.lockDeadline);
                    continue;
                }
                offsets[i] = o;
                counts[i] = r.deliveryCount;
                deadlines[i++] = r.lockDeadline;
                switch (t) {
                    case GAP, REJECT -> finish(r, RecordState.ARCHIVED);
                    case ACCEPT -> finish(r, RecordState.ACKNOWLEDGED);
                    default -> release(r); // RELEASE
                }
            }
        }
        advanceStart();
        return new Acknowledged(Errors.NONE, new Undo(member, Arrays.copyOf(offsets, i), Arrays.copyOf(counts, i), Arrays.copyOf(deadlines, i)));
    }

    /** Whether {@code member} may acknowledge {@code batches}: NONE, INVALID_REQUEST or INVALID_RECORD_STATE. */
    private Errors check(String member, List<AckBatch> batches, boolean renewAllowed) {
        long previous = -1;
        for (AckBatch b : batches) {
            if (b.firstOffset() < 0 || b.lastOffset() < b.firstOffset() || b.firstOffset() <= previous) return Errors.INVALID_REQUEST;
            long span = b.lastOffset() - b.firstOffset() + 1;
            if (b.types() == null || b.types().length == 0 || b.types().length > 1 && b.types().length != span) return Errors.INVALID_REQUEST;
            for (byte t : b.types()) {
                if (t < GAP || t > RENEW || t == RENEW && !renewAllowed) return Errors.INVALID_REQUEST;
            }
            previous = b.lastOffset();
        }
        for (AckBatch b : batches) {
            // Below the start offset every record is done: as Kafka's SharePartition.acknowledge, those offsets are
            // skipped (a batch wholly below it acknowledges nothing and is no error).
            for (long o = Math.max(b.firstOffset(), startOffset); o <= b.lastOffset(); o++) {
                Rec r = window.get(o);
                if (r == null || r.state != RecordState.ACQUIRED || !member.equals(r.member)) return Errors.INVALID_RECORD_STATE;
            }
        }
        return Errors.NONE;
    }

    /**
     * Puts back what an acknowledgement changed, because it could not be stored (Kafka's SharePartition rolls the
     * state transition back): its records are held by their member again, under the lock they had (a lock that ran out
     * meanwhile is released at the next check), and the start offset moves back before them. A record another member
     * acquired since (it was released) stays with that member; records the log no longer holds stay gone.
     */
    public void rollback(Undo undo) {
        long start = startOffset; // below it every record the window dropped was done; at or after it, absent is no record
        for (int i = 0; i < undo.offsets().length; i++) {
            long o = undo.offsets()[i];
            if (o < logStartFloor) continue;
            Rec r = window.get(o);
            if (r == null) {
                if (o >= start) continue; // an offset without a record: nothing to put back
                r = new Rec(RecordState.ACKNOWLEDGED, undo.deliveryCounts()[i]);
                window.put(o, r);
            }
            if (r.state == RecordState.ACQUIRED) continue;
            r.state = RecordState.ACQUIRED;
            r.member = undo.member();
            r.lockDeadline = undo.lockDeadlines()[i];
            lockCheckAt = Math.min(lockCheckAt, r.lockDeadline);
            startOffset = Math.min(startOffset, o);
        }
    }

    /** Releases the records whose lock expired by {@code nowMs}; true when any was. Cheap until a lock may have run out. */
    public boolean expireLocks(long nowMs) {
        if (nowMs < lockCheckAt) return false;
        boolean any = false;
        long next = Long.MAX_VALUE;
        for (Rec r : window.values()) {
            if (r.state != RecordState.ACQUIRED) continue;
            if (r.lockDeadline <= nowMs) {
                release(r);
                any = true;
            } else {
                next = Math.min(next, r.lockDeadline);
            }
        }
        lockCheckAt = next;
        if (any) advanceStart();
        return any;
    }

    /** No lock runs out before this time ({@link Long#MAX_VALUE}: none is held). */
    public long nextLockDeadline() {
        return lockCheckAt;
    }

    /** Releases every record {@code member} holds (its share session ended); true when any was. */
    public boolean releaseMember(String member) {
        boolean any = false;
        for (Rec r : window.values()) {
            if (r.state == RecordState.ACQUIRED && member.equals(r.member)) {
                release(r);
                any = true;
            }
        }
        if (any) advanceStart();
        return any;
    }

    /** Records {@code member} holds now. */
    public int acquiredBy(String member) {
        int n = 0;
        for (Rec r : window.values()) if (r.state == RecordState.ACQUIRED && member.equals(r.member)) n++;
        return n;
    }

    /** The log's start moved past records (retention, DeleteRecords): they cannot be delivered any more. */
    public void logStartMoved(long logStartOffset) {
        logStartFloor = Math.max(logStartFloor, logStartOffset);
        if (logStartOffset <= startOffset) return;
        window.headMap(logStartOffset).clear();
        startOffset = logStartOffset;
        if (endOffset < startOffset - 1) endOffset = startOffset - 1;
        advanceStart();
    }

    /**
     * What to store: the start offset and the window's states (acquired records as AVAILABLE), as written by the
     * partition's leader at {@code leaderEpoch} (the coordinator sets the snapshot epoch and creation time).
     */
    public ShareSnapshot snapshot(int leaderEpoch, long writeTimestamp) {
        List<ShareSnapshot.StateBatch> batches = new ArrayList<>();
        long first = -1;
        long last = -1;
        byte state = -1;
        short count = -1;
        for (Map.Entry<Long, Rec> e : window.entrySet()) {
            Rec r = e.getValue();
            byte s = (r.state == RecordState.ACQUIRED ? RecordState.AVAILABLE : r.state).id;
            if (first >= 0 && e.getKey() == last + 1 && s == state && r.deliveryCount == count) {
                last = e.getKey();
                continue;
            }
            if (first >= 0) batches.add(new ShareSnapshot.StateBatch(first, last, state, count));
            first = e.getKey();
            last = first;
            state = s;
            count = r.deliveryCount;
        }
        if (first >= 0) batches.add(new ShareSnapshot.StateBatch(first, last, state, count));
        return new ShareSnapshot(-1, stateEpoch, leaderEpoch, startOffset, deliveryComplete(), -1, writeTimestamp, batches);
    }

    private void release(Rec r) {
        r.member = null;
        r.state = r.deliveryCount >= settings.deliveryCountLimit() ? RecordState.ARCHIVED : RecordState.AVAILABLE;
    }

    private static void finish(Rec r, RecordState state) {
        r.member = null;
        r.state = state;
    }

    /** Moves the start past the leading records that are done (and the offsets without a record among them). */
    private void advanceStart() {
        Iterator<Map.Entry<Long, Rec>> it = window.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, Rec> e = it.next();
            if (!e.getValue().state.terminal()) {
                startOffset = Math.max(startOffset, e.getKey());
                return;
            }
            it.remove();
        }
        startOffset = Math.max(startOffset, endOffset + 1);
    }
}
