package io.runnel.partition;

import io.runnel.config.Limits;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;

/**
 * Long-poll fetches parked on one partition: each waits for the log end offset to pass the offset it asked for.
 * The append that moves the log end completes them; no timer polls the log. Lives on the partition's context.
 *
 * <p>Bounded by {@link Limits#PARTITION_PENDING_FETCHES_MAX}: when full, a new waiter completes at once (its fetch
 * answers with what there is). A fetch that finishes by its own timeout marks its promise completed; such entries
 * are dropped at the next append or the next time the list is full.
 */
final class PendingFetches {
    private record Waiter(long offset, Promise<Void> promise) {
    }

    private final List<Waiter> waiters = new ArrayList<>();

    /** Parks {@code promise} until the log end passes {@code offset}; completes it now if it already has. */
    void await(long offset, long logEndOffset, Promise<Void> promise) {
        if (logEndOffset > offset) {
            promise.tryComplete();
            return;
        }
        if (waiters.size() >= Limits.PARTITION_PENDING_FETCHES_MAX) {
            waiters.removeIf(w -> w.promise().future().isComplete());
            if (waiters.size() >= Limits.PARTITION_PENDING_FETCHES_MAX) {
                promise.tryComplete();
                return;
            }
        }
        waiters.add(new Waiter(offset, promise));
    }

    /** Completes every waiter whose offset the log end has now passed. */
    void onAppend(long logEndOffset) {
        if (waiters.isEmpty()) return;
        waiters.removeIf(w -> {
            if (w.promise().future().isComplete()) return true;
            if (logEndOffset > w.offset()) {
                w.promise().tryComplete();
                return true;
            }
            return false;
        });
    }

    /** Releases every waiter (the partition is closing or being deleted). */
    void completeAll() {
        waiters.forEach(w -> w.promise().tryComplete());
        waiters.clear();
    }
}
