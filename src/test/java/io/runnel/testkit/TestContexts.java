package io.runnel.testkit;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Vert.x contexts for tests that check on which context something completes. */
public final class TestContexts {
    private TestContexts() {
    }

    /** A fresh event-loop context of {@code vertx}, made on a thread of no context (so never one that exists already). */
    public static Context fresh(Vertx vertx) throws Exception {
        CompletableFuture<Context> made = new CompletableFuture<>();
        Thread t = new Thread(() -> made.complete(vertx.getOrCreateContext()), "test-context-maker");
        t.start();
        t.join(10_000);
        return made.get(10, TimeUnit.SECONDS);
    }
}
