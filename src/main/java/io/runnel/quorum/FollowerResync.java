package io.runnel.quorum;

import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftRole;
import io.microraft.report.RaftNodeReport;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * Brings back, from the leader's side, a member MicroRaft 0.7 leaves behind until the leader's next scheduled
 * snapshot. A member that took or installed a snapshot at index S and still holds entries after S that the leader
 * does not have (it led an older term) cannot be brought in line by entries: 0.7 rejects every AppendEntries whose
 * previous index is S, looking in its log for the entry the snapshot replaced (fixed upstream after 0.7, MicroRaft
 * commit d300e13; 0.7 is the newest release served here), and it silently ignores a leader's snapshot older than
 * its own commit index. Either way the member is repaired only by a leader snapshot newer than its own and past the
 * entries the leader keeps behind a snapshot, which the schedule ({@code commitCountToTakeSnapshot}) may not bring
 * for a long time in a quiet quorum: until then that broker's metadata stands still.
 *
 * <p>So the leader checks its report every few seconds ({@link #check}): when a member it can reach kept its match
 * index below the commit index for {@link #STALL_MS}, the leader commits no-op entries up to its next scheduled
 * snapshot and past the entries that snapshot keeps behind it (MicroRaft keeps a tenth of
 * {@code commitCountToTakeSnapshot}); the member then receives and installs that snapshot. The snapshot is not
 * forced with {@code RaftNode.takeSnapshot}: in 0.7 a snapshot taken off schedule by a leader could corrupt its log
 * (the simulation found it: a negative truncation, then a NullPointerException on every send). Nothing here changes
 * what is committed: no-ops are Raft's own.
 */
public final class FollowerResync {
    /** How long a member's match index may stay below the commit index before the leader repairs. */
    static final long STALL_MS = 6_000;
    /** At most one repair in this long. */
    static final long REPAIR_INTERVAL_MS = 30_000;

    private final RaftNode node;
    private final Object noOp;
    private final int commitCountToTakeSnapshot;
    /** No-ops per repair at most: half of what MicroRaft lets wait uncommitted (more would be refused). */
    private final int maxNoOps;
    private final Predicate<RaftEndpoint> reachable;
    private final Map<RaftEndpoint, long[]> progress = new HashMap<>();
    private long lastRepair = Long.MIN_VALUE / 2;
    private boolean repairing;
    private int repairs;

    /**
     * @param noOp      an operation the state machine applies as nothing
     * @param config    the node's: its snapshot interval and how many entries may wait uncommitted
     * @param reachable whether a member answers the transport now (one that is down or cut off also stalls, and no
     *                  snapshot brings it back)
     */
    public FollowerResync(RaftNode node, Object noOp, RaftConfig config, Predicate<RaftEndpoint> reachable) {
        this.node = node;
        this.noOp = noOp;
        this.commitCountToTakeSnapshot = config.getCommitCountToTakeSnapshot();
        this.maxNoOps = Math.max(1, config.getMaxPendingLogEntryCount() / 2);
        this.reachable = reachable;
    }

    /** Looks at the local node's report (taken at {@code now}, in milliseconds); repairs when a member stalled. */
    public synchronized void check(RaftNodeReport report, long now) {
        if (report.getRole() != RaftRole.LEADER) {
            progress.clear();
            return;
        }
        long commit = report.getLog().getCommitIndex();
        boolean stalled = false;
        for (Map.Entry<RaftEndpoint, Long> e : report.getLog().getFollowerMatchIndices().entrySet()) {
            long match = e.getValue();
            long[] seen = progress.get(e.getKey());
            if (seen == null || seen[0] != match || match >= commit) {
                progress.put(e.getKey(), new long[] {match, now});
            } else if (now - seen[1] >= STALL_MS && reachable.test(e.getKey())) {
                stalled = true;
            }
        }
        progress.keySet().retainAll(report.getLog().getFollowerMatchIndices().keySet());
        if (stalled && !repairing && now - lastRepair >= REPAIR_INTERVAL_MS) {
            lastRepair = now;
            repair(commit);
        }
    }

    /** How many repairs this node started (for tests and logs). */
    public synchronized int repairs() {
        return repairs;
    }

    /**
     * Commits no-ops past the next scheduled snapshot and the entries it keeps, at most {@link #maxNoOps} at a time
     * (a member still stalled after that is repaired further at a later check).
     */
    private void repair(long commit) {
        repairing = true;
        repairs++;
        long needed = commitCountToTakeSnapshot - commit % commitCountToTakeSnapshot + Math.max(1, commitCountToTakeSnapshot / 10) + 1;
        long count = Math.min(needed, maxNoOps);
        CompletableFuture<?> last = CompletableFuture.completedFuture(null);
        for (long i = 0; i < count; i++) last = node.replicate(noOp);
        last.whenComplete((r, e) -> repaired());
    }

    private synchronized void repaired() {
        repairing = false;
    }
}
