package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
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

    private static long next(ProducerIdManager m) throws Exception {
        return m.nextProducerId().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
