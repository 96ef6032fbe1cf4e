package io.runnel.testkit;

import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Time;

/** A clock that moves only when the test says so (Kafka's MockTime idea), so that time-based rules are testable. */
public final class ManualTime implements Time {
    private volatile long nowMs;
    private volatile long nanos;

    public ManualTime(long startMs) {
        this.nowMs = startMs;
    }

    public void advance(long ms) {
        nowMs += ms;
        nanos += TimeUnit.MILLISECONDS.toNanos(ms);
    }

    @Override
    public long milliseconds() {
        return nowMs;
    }

    @Override
    public long nanoseconds() {
        return nanos;
    }

    @Override
    public void sleep(long ms) {
        advance(ms);
    }
}
