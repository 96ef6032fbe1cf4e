package io.runnel.testkit;

import java.util.concurrent.ExecutionException;

/** The exception a call fails with, unwrapped from ExecutionException, for assertions on Kafka's error types. */
public final class Failures {
    private Failures() {
    }

    @FunctionalInterface
    public interface ThrowingCall {
        void run() throws Exception;
    }

    public static Throwable causeOf(ThrowingCall call) {
        try {
            call.run();
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            return e;
        }
        throw new AssertionError("expected a failure");
    }
}
