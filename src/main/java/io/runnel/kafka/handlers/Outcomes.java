package io.runnel.kafka.handlers;

import io.vertx.core.Future;
import java.util.function.BiConsumer;
import org.apache.kafka.common.protocol.Errors;

/** Per-resource results: a failed operation becomes that resource's Kafka error code and message, not the request's. */
final class Outcomes {
    private Outcomes() {
    }

    /** Completes when {@code done} does; a failure is handed to {@code setError} as (error code, message). */
    static Future<Void> recordError(Future<?> done, BiConsumer<Short, String> setError) {
        return done.<Void>mapEmpty().otherwise(e -> {
            setError.accept(Errors.forException(e).code(), e.getMessage());
            return null;
        });
    }
}
