package io.runnel.partition;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.Callable;

/**
 * Runs a call on the context that owns some state (a partition, a group shard) and completes the result on the
 * caller's context, so that each side stays single-threaded. A call made on the owning context runs at once.
 */
public final class OnContext {
    private OnContext() {
    }

    public static <T> Future<T> call(Context target, Callable<T> call) {
        Context caller = Vertx.currentContext();
        Promise<T> promise = Promise.promise();
        Runnable run = () -> {
            T result;
            try {
                result = call.call();
            } catch (Throwable t) {
                complete(caller, target, () -> promise.fail(t));
                return;
            }
            complete(caller, target, () -> promise.complete(result));
        };
        if (caller == target) run.run();
        else target.runOnContext(v -> run.run());
        return promise.future();
    }

    /** Like {@link #call} for work that itself completes asynchronously on the target context. */
    public static <T> Future<T> compose(Context target, Callable<Future<T>> call) {
        Context caller = Vertx.currentContext();
        Promise<T> promise = Promise.promise();
        Runnable run = () -> {
            Future<T> f;
            try {
                f = call.call();
            } catch (Throwable t) {
                f = Future.failedFuture(t);
            }
            f.onComplete(ar -> complete(caller, target, () -> promise.handle(ar)));
        };
        if (caller == target) run.run();
        else target.runOnContext(v -> run.run());
        return promise.future();
    }

    private static void complete(Context caller, Context target, Runnable completion) {
        if (caller == null || caller == target) completion.run();
        else caller.runOnContext(v -> completion.run());
    }
}
