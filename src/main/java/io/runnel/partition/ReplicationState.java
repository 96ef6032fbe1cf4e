package io.runnel.partition;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Time;

/**
 * One replica's replication state, as Kafka's {@code Partition} and {@code Replica} keep it: the high watermark (on
 * every replica), and while this replica leads, each follower's position and when it last caught up, from which the
 * high watermark advances and the in-sync replicas shrink or grow. It only computes: the {@link PartitionVerticle}
 * feeds it fetches, appends and placements on the partition's context and acts on the answers (wakes waiters, sends
 * ISR proposals to the controller). No Vert.x, no I/O, time from the injected clock.
 */
final class ReplicationState {
    /**
     * The leader's view of one follower: its log end offset as its last fetch offset says (-1 before the first fetch
     * of this leader epoch) and the time it last fetched from the leader's log end (Kafka's lastCaughtUpTimeMs).
     */
    record Follower(long logEndOffset, long lastCaughtUpMs) {
        static final long UNKNOWN = -1;
    }

    private final int self;
    private final Time time;
    private final long replicaLagTimeMaxMs;
    /** Followers of the current leader epoch, by node id; empty while this replica follows. */
    private final Map<Integer, Follower> followers = new HashMap<>();
    /** Read from any thread (the handle's getters); written on the partition's context only. */
    private volatile long highWatermark;
    /**
     * The ISR change sent to the controller (one at a time), or null: outstanding until refused, or until this
     * replica has the placement that holds it. Meanwhile the high watermark goes by the union of the placement's ISR
     * and this one (Kafka's maximal ISR, KIP-497): a follower just proposed into the ISR may be elected by the
     * controller before this leader hears back, so records it lacks must not count as acknowledged.
     */
    private List<Integer> proposedIsr;
    /** The leader epoch the proposal was made in. */
    private int proposalLeaderEpoch;
    /** The partition epoch of the placement holding the accepted proposal; -1 while unanswered. */
    private int proposalTakesEffectAt = -1;
    /**
     * Replicas the controller refused to take into the ISR as ineligible (a broker in controlled shutdown), with the
     * time ({@link Time#milliseconds}) until which they are not proposed again; cleared by a new placement.
     */
    private final Map<Integer, Long> ineligibleUntil = new HashMap<>();
    /**
     * When, on the monotonic clock ({@link Time#hiResClockMs}), a follower in the ISR last fetched in this leader
     * epoch; {@link Long#MIN_VALUE} before the first. Read from any thread ({@link #inTouch}).
     */
    private volatile long lastIsrFetchMs = Long.MIN_VALUE;

    /** @param replicaLagTimeMaxMs a follower that has not caught up for this long leaves the ISR (replica.lag.time.max.ms) */
    ReplicationState(int self, Time time, long replicaLagTimeMaxMs) {
        this.self = self;
        this.time = time;
        this.replicaLagTimeMaxMs = replicaLagTimeMaxMs;
    }

    long highWatermark() {
        return highWatermark;
    }

    long replicaLagTimeMaxMs() {
        return replicaLagTimeMaxMs;
    }

    /** The leader's view of {@code replica}, or null when it has none (it follows, or the replica is not one). */
    Follower follower(int replica) {
        return followers.get(replica);
    }

    /**
     * This replica leads {@code placement} from now on (a new leader epoch): every other replica starts unknown and
     * caught up now, so that it has replica.lag.time.max.ms to fetch before it can leave the ISR.
     */
    void startLeading(Placement placement) {
        followers.clear();
        lastIsrFetchMs = Long.MIN_VALUE;
        long now = time.milliseconds();
        for (int r : placement.replicas()) if (r != self) followers.put(r, new Follower(Follower.UNKNOWN, now));
    }

    /** This replica follows from now on: the followers' positions belong to the leader. */
    void stopLeading() {
        followers.clear();
        lastIsrFetchMs = Long.MIN_VALUE;
    }

    /**
     * A follower fetched from {@code fetchOffset}: that is its log end, and it is caught up when it asked for the
     * leader's log end ({@code leaderLogEnd}). The high watermark may now {@link #advance}.
     */
    void followerFetched(int replica, long fetchOffset, long leaderLogEnd, boolean inIsr) {
        if (inIsr) lastIsrFetchMs = time.hiResClockMs();
        Follower before = followers.get(replica);
        long caughtUp = fetchOffset >= leaderLogEnd ? time.milliseconds() : before == null ? 0 : before.lastCaughtUpMs();
        followers.put(replica, new Follower(fetchOffset, caughtUp));
    }

    /**
     * Whether this replica, leading {@code placement}, can still be sure that no other replica leads: it is the whole
     * ISR (no other replica can be elected cleanly), or a follower in the ISR fetched from it within {@code leaseMs}.
     * A follower stops fetching from a leader once it learns of a newer leader epoch, and the controller elects
     * another leader only after this one has been silent for the cluster's failure detection time (or with this
     * leader's knowledge): with {@code leaseMs} below that time, a leader cut off from the others, or frozen and
     * woken, knows itself deposed before a successor can serve. Kafka has no such check; Runnel's coordinators use it
     * so that a deposed coordinator does not answer with stale state (committed offsets read lower than before).
     */
    boolean inTouch(Placement placement, long leaseMs) {
        if (placement.leader() != self) return false;
        if (placement.isr().size() == 1 && placement.isr().get(0) == self) return true;
        long last = lastIsrFetchMs;
        return last != Long.MIN_VALUE && time.hiResClockMs() - last <= leaseMs;
    }

    /**
     * The ISR with {@code replica} added when it is a replica outside the ISR whose log has reached the high
     * watermark (Kafka's maybeExpandIsr), else null; null too while the controller's refusal of it as ineligible
     * holds ({@link #refusedAsIneligible}).
     */
    List<Integer> expandedIsr(Placement placement, int replica) {
        Long until = ineligibleUntil.get(replica);
        if (until != null && time.milliseconds() < until) return null;
        Follower f = followers.get(replica);
        if (f == null || placement.isr().contains(replica) || !placement.replicas().contains(replica) || f.logEndOffset() < highWatermark) return null;
        List<Integer> wider = new ArrayList<>(placement.isr());
        wider.add(replica);
        return wider;
    }

    /**
     * The leader's high watermark: the smallest log end offset among the in-sync replicas, where a follower that has
     * not fetched in this epoch holds it where it is. It never goes back. Returns whether it advanced.
     */
    boolean advance(Placement placement, long leaderLogEnd) {
        if (placement.leader() != self) return false;
        long hw = leaderLogEnd;
        for (int r : maximalIsr(placement)) {
            if (r == self) continue;
            Follower f = followers.get(r);
            hw = Math.min(hw, f == null || f.logEndOffset() == Follower.UNKNOWN ? highWatermark : f.logEndOffset());
        }
        if (hw <= highWatermark) return false;
        highWatermark = hw;
        return true;
    }

    /**
     * The ISR without the followers that have not caught up for replica.lag.time.max.ms (Kafka's maybeShrinkIsr), or
     * null when none lags.
     */
    List<Integer> shrunkIsr(Placement placement) {
        long now = time.milliseconds();
        List<Integer> kept = new ArrayList<>();
        for (int r : placement.isr()) {
            Follower f = followers.get(r);
            if (r == self || f == null || now - f.lastCaughtUpMs() <= replicaLagTimeMaxMs) kept.add(r);
        }
        return kept.size() < placement.isr().size() ? kept : null;
    }

    /** A follower takes its leader's high watermark, no higher than what it has ({@code localLogEnd}). */
    void followLeader(long leaderHighWatermark, long localLogEnd) {
        long hw = Math.min(leaderHighWatermark, localLogEnd);
        if (hw > highWatermark) highWatermark = hw;
    }

    /** The log was cut back to {@code logEnd} (a follower diverged): the high watermark is no higher. */
    void truncatedTo(long logEnd) {
        highWatermark = Math.min(highWatermark, logEnd);
    }

    /**
     * Sets the high watermark whatever it was: at start (the checkpoint, no higher than the log end), and when a
     * follower's log starts afresh at its leader's log start.
     */
    void resetHighWatermark(long offset) {
        highWatermark = offset;
    }

    /** The ISR the high watermark goes by: the placement's, with the members of an outstanding proposal added. */
    List<Integer> maximalIsr(Placement placement) {
        List<Integer> proposal = proposedIsr;
        if (proposal == null) return placement.isr();
        List<Integer> out = new ArrayList<>(placement.isr());
        for (int r : proposal) if (!out.contains(r)) out.add(r);
        return out;
    }

    /**
     * Starts a proposal of {@code isr} in {@code leaderEpoch} to the controller, unless one is outstanding (one at a
     * time). Returns the proposal (the token its answer hands back), or null when one is outstanding.
     */
    List<Integer> beginProposal(List<Integer> isr, int leaderEpoch) {
        if (proposedIsr != null) return null;
        proposedIsr = List.copyOf(isr);
        proposalLeaderEpoch = leaderEpoch;
        proposalTakesEffectAt = -1;
        return proposedIsr;
    }

    /**
     * The controller answered {@code proposal}: refused ({@code partitionEpoch} -1), it ends and may be proposed
     * again; accepted, it lasts until this replica has a placement of that partition epoch or later ({@code current}
     * may be one already). Compared by identity: the answer to a proposal already ended must not end a newer one.
     */
    void proposalAnswered(List<Integer> proposal, int partitionEpoch, Placement current) {
        if (proposedIsr != proposal) return;
        if (partitionEpoch < 0 || current.partitionEpoch() >= partitionEpoch || current.leaderEpoch() != proposalLeaderEpoch) {
            proposedIsr = null;
        } else {
            proposalTakesEffectAt = partitionEpoch;
        }
    }

    /**
     * The controller refused {@code proposal} because replicas it adds may not join (INELIGIBLE_REPLICA: they are in
     * controlled shutdown): they are not proposed again for {@code backoffMs} or until the placement changes, as
     * Kafka's leader waits for new metadata; a broker that restarted meanwhile is proposed again after the backoff.
     */
    void refusedAsIneligible(List<Integer> proposal, Placement placement, long backoffMs) {
        long until = time.milliseconds() + backoffMs;
        for (int r : proposal) if (!placement.isr().contains(r)) ineligibleUntil.put(r, until);
    }

    /**
     * A new placement arrived: an accepted proposal has taken effect once the placement is as new as its answer said;
     * any proposal ends with a new leader epoch (the controller refuses it, or has refused it). An unanswered one in
     * the same leader epoch waits for its answer.
     */
    void placementChanged(Placement next) {
        ineligibleUntil.clear();
        if (proposedIsr == null) return;
        boolean fenced = next.leaderEpoch() != proposalLeaderEpoch;
        boolean inEffect = proposalTakesEffectAt >= 0 && next.partitionEpoch() >= proposalTakesEffectAt;
        if (fenced || inEffect) proposedIsr = null;
    }
}
