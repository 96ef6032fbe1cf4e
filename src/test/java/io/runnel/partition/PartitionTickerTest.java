package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The partitions' shared timer: checks run on their own contexts, on time, and not once cancelled. */
class PartitionTickerTest {
    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() {
        vertx.close().await();
    }

    @Test
    void dueChecksRunOnTheirContextsAndCancelledOnesNever() throws Exception {
        PartitionTicker ticker = new PartitionTicker(vertx, new Deployer(vertx));
        Context a = vertx.getOrCreateContext();
        Context b = vertx.getOrCreateContext();
        List<Context> ranOn = new CopyOnWriteArrayList<>();
        AtomicInteger cancelledRuns = new AtomicInteger();
        CompletableFuture<PartitionTicker.Registration> doomed = new CompletableFuture<>();
        a.runOnContext(v -> ticker.every(a, PartitionTicker.TICK_MS, () -> ranOn.add(Vertx.currentContext())));
        b.runOnContext(v -> ticker.every(b, PartitionTicker.TICK_MS, () -> ranOn.add(Vertx.currentContext())));
        b.runOnContext(v -> doomed.complete(ticker.every(b, PartitionTicker.TICK_MS, cancelledRuns::incrementAndGet)));
        PartitionTicker.Registration r = doomed.get();
        b.runOnContext(v -> r.cancel());
        await().atMost(Duration.ofSeconds(10)).until(() -> ranOn.contains(a) && ranOn.contains(b));
        // Both shared the ticker's one timer (the cancelled one left it) and ran where they were registered.
        assertThat(ticker.shared()).isEqualTo(2);
        assertThat(ranOn).containsOnly(a, b);
        await().atMost(Duration.ofSeconds(10)).until(() -> ranOn.stream().filter(c -> c == a).count() >= 2);
        assertThat(cancelledRuns).hasValue(0);
        ticker.stop();
        assertThat(ticker.shared()).isZero();
    }

    @Test
    void aPeriodShorterThanTheTickKeepsItsOwnTimer() {
        PartitionTicker ticker = new PartitionTicker(vertx, new Deployer(vertx));
        Context a = vertx.getOrCreateContext();
        AtomicInteger runs = new AtomicInteger();
        a.runOnContext(v -> ticker.every(a, 20, runs::incrementAndGet));
        await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() >= 5);
        assertThat(ticker.shared()).isZero();
        ticker.stop();
    }
}
