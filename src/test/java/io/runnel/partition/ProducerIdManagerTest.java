package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.TestContexts;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProducerIdManagerTest {
    private final Vertx vertx = Vertx.vertx();

    @TempDir
    Path dir;

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void brokersNeverHandOutEachOthersIdsAndARestartNeverRepeatsOne() throws Exception {
        Set<Long> seen = new HashSet<>();
        for (int node = 1; node <= 2; node++) {
            ProducerIdManager m = new ProducerIdManager(vertx, dir.resolve("b" + node).toFile().mkdirs() ? dir.resolve("b" + node) : dir, node);
            for (int i = 0; i < 1_500; i++) assertThat(seen.add(next(m))).as("a fresh id").isTrue();
        }
        ProducerIdManager restarted = new ProducerIdManager(vertx, dir.resolve("b1"), 1);
        for (int i = 0; i < 1_500; i++) assertThat(seen.add(next(restarted))).as("a fresh id after a restart").isTrue();
        assertThat(seen).allMatch(id -> id >= 0);
    }

    /**
     * An id asked for while another context's request is saving a new block comes back on the asker's own context:
     * the save is one future, which belongs to the context that started it (a transaction shard asking during a
     * connection's refill went on running on that connection's event loop).
     */
    @Test
    void anIdComesBackOnTheCallersContextEvenWhenAnotherContextStartedTheRefill() throws Exception {
        ProducerIdManager m = new ProducerIdManager(vertx, dir, 1);
        Context starter = TestContexts.fresh(vertx);
        Context caller = TestContexts.fresh(vertx);
        CompletableFuture<Context> answeredOn = new CompletableFuture<>();
        starter.runOnContext(v -> {
            m.nextProducerId(); // the first id needs a block: this starts saving it
            caller.runOnContext(w -> m.nextProducerId().onComplete(ar -> answeredOn.complete(Vertx.currentContext())));
        });
        assertThat(answeredOn.get(10, TimeUnit.SECONDS)).isSameAs(caller);
    }

    private static long next(ProducerIdManager m) throws Exception {
        return m.nextProducerId().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
