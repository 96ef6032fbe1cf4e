package io.runnel.partition;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The partitions' periodic checks (ISR expiry, retention, producer expiry) on one timer of the broker, as Kafka runs
 * each of them as one scheduled task over all partitions, instead of a timer per check per partition: with 10,000
 * partitions those were some 700 timer wake-ups a second on the event loops of an idle broker (50-80 ms of CPU a
 * second, mostly the event loops' select calls). Each tick collects the checks that are due and runs them on their
 * partitions' contexts, so a check still runs where its partition's state lives.
 *
 * <p>A check whose period is shorter than the tick keeps a Vert.x timer of its own on its context (tests use
 * periods of milliseconds); longer periods are kept to within one tick.
 */
public final class PartitionTicker {
    /** How often the ticker looks for due checks; the longest a check runs late. */
    static final long TICK_MS = 1000;

    private final Vertx vertx;
    private final Deployer deployer;
    private final Set<Check> checks = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    private long timer = -1;
    private boolean started;
    private volatile boolean stopped;

    /** A registered check; {@link #cancel} it on its context when its partition stops. */
    public interface Registration {
        void cancel();
    }

    PartitionTicker(Vertx vertx, Deployer deployer) {
        this.vertx = vertx;
        this.deployer = deployer;
    }

    /**
     * Runs {@code task} on {@code context} every {@code periodMs}, first after one period. Call on {@code context}.
     */
    Registration every(Context context, long periodMs, Runnable task) {
        if (periodMs < TICK_MS) {
            long id = vertx.setPeriodic(periodMs, x -> task.run());
            return () -> vertx.cancelTimer(id);
        }
        Check c = new Check(context, periodMs * 1_000_000L, task, System.nanoTime() + periodMs * 1_000_000L);
        checks.add(c);
        startOnce();
        return () -> {
            c.cancelled = true;
            checks.remove(c);
        };
    }

    private void startOnce() {
        synchronized (lock) {
            if (started || stopped) return;
            started = true;
        }
        // On the deployer's context, which belongs to no verticle: a timer made on a partition's context would end
        // with that partition.
        deployer.periodic(TICK_MS, id -> tick()).onSuccess(id -> {
            synchronized (lock) {
                timer = id;
                if (stopped) vertx.cancelTimer(id);
            }
        });
    }

    private void tick() {
        long now = System.nanoTime();
        Map<Context, List<Check>> due = new HashMap<>();
        for (Check c : checks) {
            if (now - c.nextDueNs < 0) continue;
            c.nextDueNs = now + c.periodNs;
            due.computeIfAbsent(c.context, k -> new ArrayList<>(2)).add(c);
        }
        due.forEach((context, list) -> context.runOnContext(v -> {
            for (Check c : list) if (!c.cancelled) c.task.run();
        }));
    }

    /** Stops the timer (the broker is stopping). */
    void stop() {
        synchronized (lock) {
            stopped = true;
            if (timer >= 0) vertx.cancelTimer(timer);
        }
        checks.clear();
    }

    /** How many checks ride on the shared timer (tests). */
    int shared() {
        return checks.size();
    }

    private static final class Check {
        final Context context;
        final long periodNs;
        final Runnable task;
        /** Written by the ticker's tick only. */
        long nextDueNs;
        volatile boolean cancelled;

        Check(Context context, long periodNs, Runnable task, long nextDueNs) {
            this.context = context;
            this.periodNs = periodNs;
            this.task = task;
            this.nextDueNs = nextDueNs;
        }
    }
}
