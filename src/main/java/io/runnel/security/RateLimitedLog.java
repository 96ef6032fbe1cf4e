package io.runnel.security;

import java.util.concurrent.atomic.AtomicLong;

/**
 * At most a given number of log lines a minute (an audit line per failed login or denied request must not let a
 * hostile client flood the log): {@link #admit} says whether the next line may be written. Thread-safe.
 */
final class RateLimitedLog {
    private final int linesPerMinute;
    private final AtomicLong windowStartMs = new AtomicLong();
    private final AtomicLong inWindow = new AtomicLong();

    RateLimitedLog(int linesPerMinute) {
        this.linesPerMinute = linesPerMinute;
    }

    boolean admit() {
        long now = System.currentTimeMillis();
        long start = windowStartMs.get();
        if (now - start >= 60_000 && windowStartMs.compareAndSet(start, now)) inWindow.set(0);
        return inWindow.incrementAndGet() <= linesPerMinute;
    }
}
