package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.TestContexts;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A group coordinator call completes on its caller's context, whoever started the coordinator. The coordinator's
 * start is one future for every caller, and it belongs to the context that asked first; callbacks chained on it ran
 * there, so a WebSocket session's group heartbeat or commit answer changed that session's state (credits, positions,
 * timers) from another connection's event loop.
 */
class CoordinatorContextTest {
    @TempDir
    Path data;

    @Test
    void callsCompleteOnTheCallersContextNotOnTheOneThatStartedTheCoordinator() throws Exception {
        Broker broker = Brokers.start(data);
        try {
            Vertx vertx = broker.vertx();
            Context starter = TestContexts.fresh(vertx);
            Context caller = TestContexts.fresh(vertx);
            assertThat(caller).isNotSameAs(starter);
            // The first caller starts the coordinator (creates __consumer_offsets): the start belongs to its context.
            on(starter, () -> broker.groups().ensureReady()).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 3; i++) {
                CompletableFuture<Context> answeredOn = new CompletableFuture<>();
                caller.runOnContext(v -> broker.groups().listGroups().onComplete(ar -> answeredOn.complete(Vertx.currentContext())));
                assertThat(answeredOn.get(30, TimeUnit.SECONDS)).as("the context listGroups answered on").isSameAs(caller);
            }
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }

    private static <T> CompletableFuture<T> on(Context context, Supplier<Future<T>> call) {
        CompletableFuture<T> out = new CompletableFuture<>();
        context.runOnContext(v -> call.get().onComplete(ar -> {
            if (ar.succeeded()) out.complete(ar.result());
            else out.completeExceptionally(ar.cause());
        }));
        return out;
    }
}
