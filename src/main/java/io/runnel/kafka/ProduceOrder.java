package io.runnel.kafka;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.function.Consumer;

/**
 * Keeps one connection's Produce requests in order on the partitions: a request hands its batches to their partitions
 * only after the request before it did. Kafka gets the same from muting a connection while its request is processed;
 * Runnel processes a connection's requests concurrently, which is safe while appends are handed over at once, in
 * arrival order, but not once a transactional write first waits for its coordinator (KIP-890): a pipelined later
 * batch of the producer could otherwise reach a partition before the earlier one and fail its sequence check. A
 * request that waits for nobody (the common case) pays one completed future. On the connection's context.
 */
public final class ProduceOrder {
    private Future<Void> last = Future.succeededFuture();

    /**
     * Runs {@code handOver} once every earlier request of the connection handed its batches over; {@code handOver}
     * completes the promise it is given when it has handed over its own (or failed before appending).
     */
    public void next(Consumer<Promise<Void>> handOver) {
        Future<Void> before = last;
        Promise<Void> mine = Promise.promise();
        last = mine.future();
        if (before.isComplete()) {
            run(handOver, mine);
        } else {
            before.onComplete(x -> run(handOver, mine));
        }
    }

    /** Runs {@code handOver}; should it throw, the requests after it still go on. */
    private static void run(Consumer<Promise<Void>> handOver, Promise<Void> mine) {
        try {
            handOver.accept(mine);
        } catch (RuntimeException e) {
            mine.tryComplete();
            throw e;
        }
    }
}
