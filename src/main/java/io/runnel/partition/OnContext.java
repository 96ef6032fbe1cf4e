package io.runnel.partition;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
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
                complete(caller, () -> promise.fail(t));
                return;
            }
            complete(caller, () -> promise.complete(result));
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
            f.onComplete(ar -> complete(caller, () -> promise.handle(ar)));
        };
        if (caller == target) run.run();
        else target.runOnContext(v -> run.run());
        return promise.future();
    }

    /**
     * {@code f}'s outcome handed over on the calling context (the current one): a
     * future shared by callers on many contexts (a coordinator's start, a block of producer ids being saved) belongs
     * to the context of whoever made it, and Vert.x runs every callback chained on it there. Without a caller context
     * (a plain thread) the outcome is handed over as it comes.
     */
    public static <T> Future<T> deliver(Future<T> f) {
        return deliver(Vertx.currentContext(), f);
    }

    /** {@link #deliver(Future)} to a caller context taken earlier. */
    public static <T> Future<T> deliver(Context caller, Future<T> f) {
        if (caller == null) return f;
        Promise<T> promise = Promise.promise();
        f.onComplete(ar -> complete(caller, () -> promise.handle(ar)));
        return promise.future();
    }

    /**
     * Runs {@code completion} on {@code caller}: at once when running on it (its context, on its thread: a worker of
     * its {@code executeBlocking} is not) or when there is no caller context.
     */
    private static void complete(Context caller, Runnable completion) {
        if (caller == null || ((ContextInternal) caller).isRunningOnContext()) completion.run();
        else caller.runOnContext(v -> completion.run());
    }
}
