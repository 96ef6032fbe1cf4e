package io.runnel.kafka;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The broker-wide bound on request bytes read and not yet answered ({@code queued.max.request.bytes}). Connections
 * add what they read and subtract what they answer; while the total is at or past the limit every connection pauses
 * reading, and the connections that paused for it are woken, on their own event loops, when it drops. A
 * connection registers once per pause, so the waiting queue holds at most one entry per connection.
 */
final class InflightBudget {
    private final long limitBytes;
    private final AtomicLong usedBytes = new AtomicLong();
    private final ConcurrentLinkedQueue<Connection> waiting = new ConcurrentLinkedQueue<>();

    InflightBudget(long limitBytes) {
        this.limitBytes = limitBytes;
    }

    void acquire(long bytes) {
        usedBytes.addAndGet(bytes);
    }

    void release(long bytes) {
        if (usedBytes.addAndGet(-bytes) < limitBytes) {
            Connection c;
            while ((c = waiting.poll()) != null) c.wake();
        }
    }

    boolean exhausted() {
        return usedBytes.get() >= limitBytes;
    }

    /** Registers a connection paused by this budget; it is woken when the budget has room again. */
    void await(Connection c) {
        waiting.add(c);
        if (!exhausted() && waiting.remove(c)) c.wake();
    }

    long usedBytes() {
        return usedBytes.get();
    }
}
