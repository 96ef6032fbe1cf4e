package io.runnel.partition;

import io.runnel.config.Limits;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;

/**
 * Promises parked on one partition until an offset passes: consumers' long-poll fetches and acks=all produces wait
 * for the high watermark, followers' fetches for the log end (one instance each). The append or the high-watermark
 * advance that moves the offset completes them; no timer polls the log. Lives on the partition's context.
 *
 * <p>Bounded by {@link Limits#PARTITION_OFFSET_WAITERS_MAX}: when full, a new waiter completes at once (a fetch
 * answers with what there is; an acks=all produce whose records are not replicated yet fails with
 * REQUEST_TIMED_OUT, which the producer retries). A waiter that gave up (its fetch answered by timeout)
 * marks its promise completed; such entries are dropped at the next advance or the next time the list is full.
 */
final class OffsetWaiters {
    private record Waiter(long offset, Promise<Void> promise) {
    }

    private final List<Waiter> waiters = new ArrayList<>();

    /** Parks {@code promise} until the watched offset passes {@code offset}; completes it now if {@code current} has. */
    void await(long offset, long current, Promise<Void> promise) {
        if (current > offset) {
            promise.tryComplete();
            return;
        }
        if (waiters.size() >= Limits.PARTITION_OFFSET_WAITERS_MAX) {
            waiters.removeIf(w -> w.promise().future().isComplete());
            if (waiters.size() >= Limits.PARTITION_OFFSET_WAITERS_MAX) {
                promise.tryComplete();
                return;
            }
        }
        waiters.add(new Waiter(offset, promise));
    }

    /** Completes every waiter whose offset the watched offset ({@code current}) has now passed. */
    void advancedTo(long current) {
        if (waiters.isEmpty()) return;
        waiters.removeIf(w -> {
            if (w.promise().future().isComplete()) return true;
            if (current > w.offset()) {
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
